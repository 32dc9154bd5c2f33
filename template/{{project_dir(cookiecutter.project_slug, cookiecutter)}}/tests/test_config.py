"""conf/ composes exactly into params.yaml, the params are valid and the classifier builds."""

from __future__ import annotations

from pathlib import Path

from reprostack.core import config

ROOT = Path(__file__).resolve().parents[1]


def test_conf_composes_exactly_into_params_yaml():
    """The compose stage rewrites params.yaml from conf/; a hand edit of params.yaml is lost."""
    assert config.drift(ROOT / "conf", ROOT / "params.yaml") == {}, \
        "params.yaml differs from conf/: edit conf/, then `reprostack params compose` (or `make repro`)"


def test_the_params_are_valid_and_the_classifier_builds():
    from reprostack.model import training

    params = config.load_params(ROOT / "params.yaml")
    classifier = training.build_classifier(params.model)  # built, not fitted: its arguments are checked
    assert hasattr(classifier, "fit") and params.model_name


def test_the_data_hook_is_importable():
    from reprostack.data import hook

    spec = config.load_params(ROOT / "params.yaml").data.preprocess
    assert spec is None or callable(hook.load(spec))
