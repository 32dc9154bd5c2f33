import numpy as np
import pytest

from reprostack.config import ModelParams
from reprostack.errors import DataError, IntegrityError
from reprostack.model import evaluation, training


def blobs(n=200, dim=16, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, dim)) * 4
    y = [f"c{i % classes}" for i in range(n)]
    X = np.stack([centers[i % classes] + rng.normal(size=dim) for i in range(n)]).astype(np.float32)
    return X, y


def test_split_is_stable_per_id():
    ids = [f"id{i}" for i in range(1000)]
    mask = training.split_mask(ids, 0.2, seed=1)
    assert 150 < sum(mask) < 250
    # adding rows does not move existing rows between train and test
    assert training.split_mask(ids + ["new1", "new2"], 0.2, seed=1)[:1000] == mask
    assert training.split_mask(ids, 0.2, seed=2) != mask


@pytest.mark.parametrize("params", [
    ModelParams("logreg", {"C": 1.0, "max_iter": 500, "class_weight": None}),
    ModelParams("random_forest", {"n_estimators": 20, "max_depth": None, "min_samples_leaf": 1, "class_weight": None}),
])
def test_train_is_deterministic_and_learns(params, tmp_path):
    X, y = blobs()
    first = training.save_model(training.train(params, X, y, seed=3, threads=2), tmp_path / "a.pkl")
    second = training.save_model(training.train(params, X, y, seed=3, threads=2), tmp_path / "b.pkl")
    assert first == second
    model = training.load_classifier(tmp_path / "a.pkl", first)
    assert evaluation.metrics(y, list(model.predict(X)))["accuracy"] > 0.95


def test_tampered_model_is_never_unpickled(tmp_path):
    X, y = blobs()
    sha = training.save_model(training.train(ModelParams("logreg", {"C": 1.0, "max_iter": 100, "class_weight": None}), X, y), tmp_path / "m.pkl")
    (tmp_path / "m.pkl").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(IntegrityError, match="was changed after training"):
        training.load_classifier(tmp_path / "m.pkl", sha)


def test_single_label_training_split():
    with pytest.raises(DataError, match="only one label"):
        training.train(ModelParams("logreg", {"C": 1.0, "max_iter": 100, "class_weight": None}), np.zeros((3, 2)), ["a"] * 3)


def test_metrics():
    scores = evaluation.metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert scores["accuracy"] == 0.75 and scores["n_test"] == 4
    assert 0 < scores["macro_f1"] < 1
