import json
import shutil

import numpy as np
import pytest
from factories import REPO

from reprostack.core import config
from reprostack.core.config import ModelParams
from reprostack.core.errors import DataError, IntegrityError
from reprostack.model import evaluation, training

LOGREG = ModelParams(
    name="logreg",
    target="sklearn.linear_model.LogisticRegression",
    options={"C": 1.0, "max_iter": 100, "class_weight": None, "random_state": 0},
)


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


@pytest.mark.parametrize("classifier", ["logreg", "random_forest"])
def test_train_is_deterministic_and_learns(classifier, tmp_path):
    params = config.validate(config.compose(REPO / "conf", [f"model={classifier}", "seed=3"])).model
    if classifier == "random_forest":
        params = params.model_copy(update={"options": {**params.options, "n_estimators": 20}})
    X, y = blobs()
    first = training.save_model(training.train(params, X, y), tmp_path / "a.pkl")
    second = training.save_model(training.train(params, X, y), tmp_path / "b.pkl")
    assert first == second
    model = training.load_classifier(tmp_path / "a.pkl", first)
    assert evaluation.metrics(y, list(model.predict(X)))["accuracy"] > 0.95


def test_tampered_model_is_never_unpickled(tmp_path):
    X, y = blobs()
    sha = training.save_model(training.train(LOGREG, X, y), tmp_path / "m.pkl")
    (tmp_path / "m.pkl").write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(IntegrityError, match="was changed after training"):
        training.load_classifier(tmp_path / "m.pkl", sha)


def test_single_label_training_split():
    with pytest.raises(DataError, match="only one label"):
        training.train(LOGREG, np.zeros((3, 2)), ["a"] * 3)


def test_a_new_classifier_is_one_yaml_file(tmp_path):
    conf = shutil.copytree(REPO / "conf", tmp_path / "conf")
    (conf / "model" / "ridge.yaml").write_text(
        "name: ridge\n_target_: sklearn.linear_model.RidgeClassifier\nalpha: 0.5\nrandom_state: ${seed}\n"
    )
    params = config.validate(config.compose(conf, ["model=ridge", "seed=7"]))
    assert params.model.options == {"alpha": 0.5, "random_state": 7}
    X, y = blobs()
    model = training.train(params.model, X, y)
    assert type(model).__name__ == "RidgeClassifier" and model.alpha == 0.5 and model.random_state == 7
    assert evaluation.metrics(y, list(model.predict(X)))["accuracy"] > 0.95
    again = training.train(params.model, X, y)
    assert training.save_model(model, tmp_path / "a.pkl") == training.save_model(again, tmp_path / "b.pkl")


def test_the_classifier_pickle_holds_no_omegaconf(tmp_path):
    params = LOGREG.model_copy(update={"options": {**LOGREG.options, "class_weight": {"a": 2, "b": 1}}})
    model = training.build_classifier(params)
    assert type(model.class_weight) is dict and model.class_weight == {"a": 2, "b": 1}


def test_model_card_round_trip_and_a_card_from_before_targets(tmp_path):
    card = {
        "file": training.MODEL_FILE,
        "sha256": "a" * 64,
        "classifier": "logreg",
        "options": {"C": 1.0},
        "classes": ["a", "b"],
        "n_train": 10,
    }
    training.write_card(tmp_path, card)  # as cards were written before `target` existed
    read = training.read_card(tmp_path)
    assert (read.sha256, read.classifier, read.target, read.classes) == ("a" * 64, "logreg", None, ["a", "b"])
    (tmp_path / training.MODEL_CARD).write_text(json.dumps({**card, "sha256": "nothex", "schema_version": 1}))
    with pytest.raises(IntegrityError, match=r"model card .*model\.json is invalid: sha256: String should match"):
        training.read_card(tmp_path)


def test_metrics():
    scores = evaluation.metrics(["a", "a", "b", "b"], ["a", "b", "b", "b"])
    assert scores["accuracy"] == 0.75 and scores["n_test"] == 4
    assert 0 < scores["macro_f1"] < 1
