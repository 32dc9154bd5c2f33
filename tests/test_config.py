import copy

import pytest
import yaml
from factories import REPO

from reprostack.core import config
from reprostack.core.errors import ConfigError
from reprostack.model import training


@pytest.fixture(scope="module")
def composed():
    return config.compose(REPO / "conf")


@pytest.fixture(scope="module")
def logreg():
    # Pinned: a project made from the template may default to another classifier.
    return config.compose(REPO / "conf", ["model=logreg"])


def test_committed_params_yaml_matches_conf(composed):
    # The guard against drift: params.yaml in the repository is exactly conf/ composed.
    assert config.read_params_file(REPO / "params.yaml") == composed


def test_valid_params_are_typed(logreg):
    params = config.validate(logreg)
    assert params.model.name == "logreg" and params.model.target == "sklearn.linear_model.LogisticRegression"
    assert params.model.options["C"] == logreg["model"]["C"] and isinstance(params.model.options["C"], float)
    assert params.embedding.batch_size == logreg["embedding"]["batch_size"]
    assert params.data.text_column == logreg["data"]["text_column"] and isinstance(params.model_name, str)


def test_override_selects_other_classifier():
    raw = config.compose(REPO / "conf", ["model=random_forest", "model.n_estimators=10"])
    params = config.validate(raw)
    assert params.model.name == "random_forest"
    assert params.model.options["n_estimators"] == 10


def test_unknown_group_choice_is_one_clear_line():
    with pytest.raises(ConfigError) as err:
        config.compose(REPO / "conf", ["model=xgboost"])
    assert "model" in str(err.value) and "xgboost" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "key,value,expected",
    [
        (
            "C",
            "abc",
            "model.C: The 'C' parameter of LogisticRegression must be a float in the range (0.0, inf]. Got 'abc'",
        ),
        ("C", -1, "model.C: The 'C' parameter of LogisticRegression must be a float"),
        ("max_iter", 1.5, "model.max_iter: The 'max_iter' parameter of LogisticRegression must be an int"),
        ("class_weight", "heavy", "model.class_weight: The 'class_weight' parameter of LogisticRegression"),
        ("gamma", 1, "unknown key model.gamma: LogisticRegression takes penalty, C"),
    ],
)
def test_wrong_classifier_arguments_are_one_line_from_scikit_learn(logreg, key, value, expected):
    raw = copy.deepcopy(logreg)
    raw["model"][key] = value
    with pytest.raises(ConfigError) as err:
        training.check_classifier(config.validate(raw))
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)
    assert "conf/model/logreg.yaml" in str(err.value)


@pytest.mark.parametrize("target", ["os.system", "subprocess.Popen", "sklearnx.Evil", "sklearn..x", 3])
def test_a_target_outside_the_allow_list_is_refused_before_import(logreg, target):
    raw = copy.deepcopy(logreg)
    raw["model"]["_target_"] = target
    with pytest.raises(ConfigError, match=r"model\._target_ must be a class under sklearn\."):
        config.validate(raw)
    raw["model"]["_target_"] = "sklearn.linear_model.LogisticRegression"
    raw["model"]["estimator"] = {"_target_": target}  # Hydra instantiates nested targets too
    with pytest.raises(ConfigError, match=r"model\.estimator\._target_ must be a class under sklearn\."):
        config.validate(raw)


@pytest.mark.parametrize(
    "model,expected",
    [
        ({"_target_": "sklearn.linear_model.NoSuchModel"}, "cannot be imported"),
        ({"_target_": "sklearn.linear_model.Ridge", "random_state": 0}, "is not a classifier"),
        (
            {"_target_": "sklearn.linear_model.LogisticRegression"},
            r"model.random_state is missing: add `random_state: \$\{seed\}`",
        ),
    ],
)
def test_classifier_class_problems(logreg, model, expected):
    raw = copy.deepcopy(logreg)
    raw["model"] = {"name": "logreg", **model}
    with pytest.raises(ConfigError, match=expected):
        training.check_classifier(config.validate(raw))


def test_unknown_and_missing_keys(composed):
    raw = copy.deepcopy(composed)
    raw["data"]["gamma"] = 1
    with pytest.raises(ConfigError, match="unknown key data.gamma; allowed: file, id_column"):
        config.validate(raw)
    raw = copy.deepcopy(composed)
    del raw["embedding"]["batch_size"]
    with pytest.raises(ConfigError, match="embedding.batch_size is missing"):
        config.validate(raw)
    raw = copy.deepcopy(composed)
    raw["data"]["test_size"] = 1.5
    with pytest.raises(ConfigError, match="data.test_size must be a number between 0 and 1"):
        config.validate(raw)


def test_model_name_must_be_a_plain_name(composed):
    raw = copy.deepcopy(composed)
    raw["model_name"] = "../released"
    with pytest.raises(ConfigError, match="model_name must be 1-64 lowercase letters, digits"):
        config.validate(raw)


def test_same_column_twice_is_rejected(composed):
    raw = copy.deepcopy(composed)
    raw["data"]["label_column"] = raw["data"]["text_column"]
    with pytest.raises(ConfigError, match="must differ"):
        config.validate(raw)


def test_diff_lists_changed_dotted_keys(logreg):
    other = copy.deepcopy(logreg)
    other["model"]["C"] = logreg["model"]["C"] / 10
    assert config.diff(logreg, other) == {"model.C": (logreg["model"]["C"], logreg["model"]["C"] / 10)}


def test_dump_round_trips(composed, tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(config.dump_params(composed))
    assert yaml.safe_load(path.read_text()) == composed
    assert config.load_params(path).raw == composed


def test_unreadable_params_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        config.load_params(path)
    with pytest.raises(ConfigError, match="does not exist"):
        config.load_params(tmp_path / "missing.yaml")


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    import os
    import stat

    from reprostack.core import jsonio

    old = os.umask(0o022)
    try:
        jsonio.write_json(tmp_path / "x.json", {"a": 1}, schema_version=1)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.json").stat().st_mode) == 0o644  # not mkstemp's 0600
