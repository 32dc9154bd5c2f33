"""`registry rollback --dry-run`: the drill checks that the version a rollback would put back can be
served now, answers known requests through the real prediction path, and switches nothing; each
thing that would stop it serving fails its own check.

Project: conftest.production_once with v0.2.0 promoted over v0.1.0 (stand-in encoder)."""

import json

import pytest
from factories import REPO, clone, params_of
from test_provenance import remove_table_version, tamper_model
from tools import registry_state, run_cli

from reprostack.registry import catalog, promotion

NAME = params_of(REPO).model_name
CHECKS = ["model file and snapshot", "table version", "embedding model", "dimensions", "known requests"]


@pytest.fixture
def rolled(production_once, tmp_path):
    root = clone(production_once, tmp_path / "project")
    promotion.promote(root, params_of(root), NAME, "v0.2.0")
    return root


def drill(root):
    before = registry_state(root)
    result = run_cli(root, "registry", "rollback", NAME, "--dry-run", "--json")
    assert registry_state(root) == before  # a drill never switches anything
    return result.returncode, result.json()


def test_the_drill_passes_and_answers_through_the_prediction_path(rolled):
    code, found = drill(rolled)
    assert code == 0 and found["ok"] and (found["target"], found["current"]) == ("v0.1.0", "v0.2.0")
    assert [c["check"] for c in found["checks"]] == CHECKS and all(c["passed"] for c in found["checks"])
    assert len(found["answers"]) == 5
    from reprostack import api

    asked = api.predict([a["text"] for a in found["answers"]], f"{NAME}@v0.1.0", root=rolled)  # predict agrees
    assert [p.label for p in asked.predictions] == [a["label"] for a in found["answers"]]
    text = run_cli(rolled, "registry", "rollback", NAME, "--dry-run")
    assert (
        f"rollback drill: {NAME} v0.1.0 (now v0.2.0 in production) can be served now; nothing switched" in text.stdout
    )


def edit_fingerprint(root):
    path = root / catalog.REGISTRY_FILE
    data = json.loads(path.read_text())
    data["models"][0]["versions"][0]["embedding"]["fingerprint"] = "0" * 64
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("breakage", "failed"),
    [
        (tamper_model, ["model file and snapshot", "dimensions", "known requests"]),
        (remove_table_version, ["table version", "dimensions", "known requests"]),
        (edit_fingerprint, ["embedding model", "dimensions", "known requests"]),
    ],
)
def test_what_would_stop_it_serving_fails_its_check(rolled, breakage, failed):
    breakage(rolled)
    code, found = drill(rolled)
    assert code == 1 and not found["ok"]
    assert [c["check"] for c in found["checks"] if not c["passed"]] == failed
    assert all(c["detail"] == "not checked: an earlier check failed" for c in found["checks"][3:])


def test_nothing_to_roll_back_to_is_one_line(production_once, tmp_path):
    root = clone(production_once, tmp_path / "project")
    result = run_cli(root, "registry", "rollback", NAME, "--dry-run")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert f"{NAME} has no earlier production version to roll back to" in result.stderr
