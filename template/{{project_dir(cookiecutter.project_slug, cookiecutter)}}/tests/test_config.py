"""conf/ composes exactly into params.yaml, the params are valid and the classifier builds."""

from __future__ import annotations

from pathlib import Path

from reprostack import api

ROOT = Path(__file__).resolve().parents[1]


def test_conf_composes_exactly_into_params_yaml():
    """The compose stage rewrites params.yaml from conf/; a hand edit of params.yaml is lost."""
    assert api.params_drift(ROOT) == {}, (
        "params.yaml differs from conf/: edit conf/, then `reprostack params compose` (or `make repro`)"
    )


def test_the_params_are_valid_the_classifier_builds_and_the_data_hook_imports():
    params = api.check_params(ROOT)  # the classifier is built, not fitted: its arguments are checked
    assert params.model_name and params.model.name
