"""reprostack.api, the library's semver surface: its names are pinned (a change is deliberate),
each is documented and typed, importing it stays light, and it returns typed results."""

import inspect
import json
import subprocess
import sys

from factories import params_of

from reprostack import api
from reprostack.data.refs import Snapshot
from reprostack.registry.catalog import Registry
from reprostack.registry.history import Event
from reprostack.registry.loader import LoadedModel
from reprostack.runs.records import RunRecord

# Changing this list changes the library's public API: bump the version accordingly (removing or
# renaming: major; adding: minor) and say so in the changelog.
PUBLIC = [
    "Check",
    "DrillResult",
    "GcResult",
    "PolicyCheck",
    "Prediction",
    "Predictions",
    "ProvenanceResult",
    "ReleaseResult",
    "ReportResult",
    "ReproduceResult",
    "RunDiff",
    "SearchHit",
    "SearchResult",
    "SnapshotInfo",
    "StorePush",
    "TextTable",
    "VectorsInfo",
    "VerifyReport",
    "check_params",
    "check_policy",
    "collect_garbage",
    "create_snapshot",
    "demote",
    "diff_runs",
    "list_runs",
    "list_snapshots",
    "load_model",
    "load_params",
    "params_drift",
    "predict",
    "promote",
    "provenance",
    "read_dataset",
    "release",
    "report_release",
    "report_run",
    "reproduce_run",
    "rollback",
    "rollback_drill",
    "search_vectors",
    "show_registry",
    "show_run",
    "vectors_info",
    "verify",
    "verify_provenance",
]


def test_the_public_names_are_pinned():
    assert sorted(api.__all__) == PUBLIC
    assert all(hasattr(api, name) for name in api.__all__)


def test_every_public_name_is_documented_and_every_function_says_what_it_returns():
    undocumented = [name for name in api.__all__ if not (inspect.getdoc(getattr(api, name)) or "").strip()]
    assert undocumented == []
    functions = [name for name in api.__all__ if inspect.isfunction(getattr(api, name))]
    assert len(functions) == 27
    untyped = [
        name
        for name in functions
        if inspect.signature(getattr(api, name)).return_annotation in (inspect.Signature.empty, None, "None")
    ]
    assert untyped == []


def test_importing_the_api_loads_no_heavy_library():
    code = (
        "import sys, reprostack.api; print(sorted(m for m in ('pydantic', 'torch', 'lancedb', 'lance', 'numpy', "
        "'sklearn', 'gto', 'dvc', 'fastapi', 'ray') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout.replace("'", '"')) == []


def test_the_api_answers_with_typed_results_on_a_released_project(production_once):
    root = production_once  # read only: v0.1.0 in production, v0.2.0 at the initial stage
    name = params_of(root).model_name
    snapshots = api.list_snapshots(root)
    assert len(snapshots) == 1 and isinstance(snapshots[0], api.SnapshotInfo) and snapshots[0].file_count >= 1
    assert isinstance(api.create_snapshot(root=root), Snapshot)  # unchanged data: the same snapshot
    assert api.create_snapshot(root=root).version == snapshots[0].version
    runs = api.list_runs(root)
    assert runs and all(isinstance(r, RunRecord) for r in runs)
    assert any(r.outputs.model_version and f"{name}@v0.1.0" in r.outputs.model_version for r in runs)
    assert api.show_run("latest", root).run_id == runs[-1].run_id
    registry = api.show_registry(root)
    assert isinstance(registry, Registry)
    assert {v.version: v.stage for v in registry.models[0].versions}["v0.1.0"] == params_of(root).registry.production
    info = api.vectors_info(root=root)
    assert isinstance(info, api.VectorsInfo) and info.rows > 0 and info.active_column in info.columns
    model = api.load_model(root=root)
    assert isinstance(model, LoadedModel) and (model.name, model.version) == (name, "v0.1.0")
    # the built project embeds with the library's hashing stand-in (no model weights)
    answer = api.predict(["the striker scored twice", "  "], model, root=root)
    found = api.search_vectors("the striker scored twice", k=3, root=root)
    assert isinstance(found, api.SearchResult) and len(found.results) == 3 and found.version == info.version
    assert all(isinstance(hit, api.SearchHit) for hit in found.results)
    assert [h.distance for h in found.results] == sorted(h.distance for h in found.results)
    assert [p.text for p in answer.predictions] == ["the striker scored twice", "  "]
    assert all(isinstance(p, api.Prediction) and p.label in p.scores for p in answer.predictions)
    assert (
        answer.model["version"] == "v0.1.0"
        and answer.to_json()["predictions"][0]["label"] == answer.predictions[0].label
    )


def test_verify_and_a_registry_change_through_the_api(released):
    root, _, _ = released
    name = params_of(root).model_name
    event = api.promote(name, "v0.2.0", reason="api", root=root)
    assert isinstance(event, Event) and event.action == "promote" and event.reason == "api"
    assert [(c.version, c.to) for c in event.changes] == [("v0.2.0", params_of(root).registry.production)]
    report = api.verify(root)
    assert isinstance(report, api.VerifyReport) and isinstance(report.sections["registry"], api.Check)
    assert report.sections["registry"].problems == [] and report.sections["registry"].checked == 2
    shown = report.to_json()
    assert shown["ok"] == report.ok and "removed" not in shown and set(shown["registry"]) >= {"checked", "problems"}


def test_what_a_projects_own_code_uses(project):
    """Params, their drift from conf/, the classifier check and the dataset through the data hook."""
    import pytest

    from reprostack.core.errors import ConfigError

    params = api.load_params(project)
    assert api.check_params(project).model == params.model and api.params_drift(project) == {}
    table = api.read_dataset(project)
    assert isinstance(table, api.TextTable) and len(table.ids) == len(table.texts) == len(table.labels) > 0
    edited = (project / "params.yaml").read_text().replace(f"test_size: {params.data.test_size}", "test_size: 0.3")
    (project / "params.yaml").write_text(edited)
    assert api.params_drift(project) == {"data.test_size": (params.data.test_size, 0.3)}
    (project / "params.yaml").write_text(edited.replace("preprocess: null", "preprocess: nowhere.at_all:clean"))
    for call in (api.read_dataset, api.check_params):
        with pytest.raises(ConfigError, match="cannot import nowhere.at_all"):
            call(project)
