"""Reports of releases and runs (reprostack.report): every number on the page is the one in
the files it came from, the lineage is re-checked (a tampered model turns it red), the release
writes its own report next to the model and records its sha256, and the page is self-contained."""

import json
import re
import shutil
from pathlib import Path

from factories import params_of
from tools import git

from reprostack import api
from reprostack.cli import main
from reprostack.data.hashing import sha256_file
from reprostack.registry import catalog, history
from reprostack.runs import diff, records


def _keyed(page: str) -> dict[str, str]:
    """{data-key: the text shown} of every number on a page."""
    return dict(re.findall(r'data-key="([^"]+)">([^<]*)<', page))


def _fact(facts: dict, key: str):
    """The sidecar's value at a data-key path: dots separate keys; in a list, a number is an
    index, else the item whose id is the part or whose key starts the rest (keys with dots)."""
    node, rest = facts, key
    while rest:
        if isinstance(node, list):
            head = rest.split(".", 1)[0]
            if head.isdigit():
                node = node[int(head)]
            else:
                node = next(i for i in node if i.get("id") == head or rest.startswith(i.get("key", "\0") + "."))
                head = node.get("key", head) if node.get("id") != head else head
        else:
            head = next(k for k in sorted(node, key=len, reverse=True) if rest == k or rest.startswith(k + "."))
            node = node[head]
        rest = rest[len(head) + 1 :]
    return node


def test_release_report_numbers_are_the_files_and_the_lineage_is_green(production_once, tmp_path):
    root = production_once  # read only: v0.1.0 in production, v0.2.0 at the initial stage
    params = params_of(root)
    name = params.model_name
    result = api.report_release(name, "v0.2.0", output=tmp_path / "r.html", root=root)
    page, facts = (tmp_path / "r.html").read_text(), json.loads((tmp_path / "r.json").read_text())
    assert result.lineage_ok and facts["lineage_ok"] and 'id="lineage-status">Lineage verified' in page
    assert [link["status"] for link in facts["lineage"]] == ["ok"] * len(facts["lineage"])
    registry = catalog.read(root, params.registry)
    this = catalog.require_version(registry, name, "v0.2.0")
    prod = catalog.require_version(registry, name, "v0.1.0")
    # the numbers come from the registry and the committed eval files, unchanged
    assert (
        facts["metrics"]["this"]
        == this["metrics"]
        == json.loads(git(root, "show", f"{this['git']['commit']}:{params.paths.eval}/metrics.json"))
    )
    assert facts["metrics"]["production"] == prod["metrics"] and facts["compared_with"] == "v0.1.0"
    shown = _keyed(page)
    assert len(shown) > 10
    for key, text in shown.items():
        value = _fact(facts, key)
        assert text == (f"{value:+}" if key.startswith("metrics.deltas") else str(value)), key
    assert shown["metrics.this.accuracy"] == str(this["metrics"]["accuracy"])
    assert shown["lineage.model.value"] == this["model"]["sha256"] == sha256_file(root / this["model"]["path"])
    assert shown["lineage.snapshot.value"] == this["data"]["digest"]
    pairs = json.loads(
        git(root, "show", f"{this['git']['commit']}:{params.paths.eval}/plots/sklearn/confusion_matrix.json")
    )
    matrix = facts["confusion"]["this"]
    assert sum(map(sum, matrix["matrix"])) == len(pairs) == this["metrics"]["n_test"]
    events = history.read(root, name)
    assert (
        [e["action"] for e in facts["timeline"]] == [e["action"] for e in events] == ["release", "release", "promote"]
    )
    # self-contained: no script, nothing fetched, charts inline
    assert "<script" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert page.count("<svg") >= 4


def test_the_release_wrote_its_report_and_a_tampered_model_turns_it_red(released, tmp_path, monkeypatch):
    root, first, _ = released
    params = params_of(root)
    name = params.model_name
    entry = catalog.require_version(catalog.read(root, params.registry), name, "v0.1.0")
    stored = root / "models" / name / "v0.1.0" / "report.html"
    assert entry["report"] == {"path": str(stored.relative_to(root)), "sha256": sha256_file(stored)}
    facts = json.loads(stored.with_suffix(".json").read_text())
    assert facts["lineage_ok"] and {link["id"]: link["status"] for link in facts["lineage"]}["tag"] == "new"
    assert git(root, "ls-files", f"models/{name}/v0.1.0.dvc").strip()  # the report is in what dvc add hashed
    model = root / entry["model"]["path"]
    model.chmod(0o644)
    model.write_bytes(model.read_bytes() + b"tampered")
    out = tmp_path / "tampered.html"
    shutil.copy(stored, tmp_path / "kept.html")
    monkeypatch.chdir(root)
    assert main(["report", name, "v0.1.0", "-o", str(out)]) == 1
    page, facts = out.read_text(), json.loads(out.with_suffix(".json").read_text())
    assert not facts["lineage_ok"] and "LINEAGE BROKEN" in page and "Lineage verified" not in page
    assert {link["id"]: link["status"] for link in facts["lineage"]}["model"] == "failed"
    assert 'data-link="model"' in page and re.search(r'class="link failed" data-link="model"', page)


def test_run_report_numbers_are_the_record(released_once, tmp_path):
    root = released_once[0]  # read only: two runs, each released
    params = params_of(root)
    first, second = records.list_records(root / params.paths.runs)[-2:]
    result = api.report_run(second["run_id"][:20], output=tmp_path / "run.html", root=root)
    page, facts = (tmp_path / "run.html").read_text(), json.loads((tmp_path / "run.json").read_text())
    assert result.kind == "run" and facts["record"] == second and facts["compared_with"] == first["run_id"]
    assert facts["releases"] == [f"{params.model_name}@v0.2.0"]
    assert facts["diff"] == diff.diff(first, second)
    shown = _keyed(page)
    assert shown["metrics.this.accuracy"] == str(second["outputs"]["metrics"]["accuracy"])
    assert shown["metrics.previous.accuracy"] == str(first["outputs"]["metrics"]["accuracy"])
    for key, text in shown.items():
        value = _fact(facts, key)
        signed = key.startswith("metrics.deltas") or key.endswith(".delta")
        assert text == (f"{value:+}" if signed else str(value)), key
    assert "params.seed" in page and "<script" not in page
    # each run's confusion matrix is the one committed with its own metrics (the run's outputs are
    # committed after the run's commit), never another run's
    for record in (first, second):
        found = api.report_run(record["run_id"], output=tmp_path / "r.html", root=root)
        matrix = json.loads(Path(found.json).read_text())["confusion"]["this"]
        assert sum(map(sum, matrix["matrix"])) == record["outputs"]["metrics"]["n_test"]
        scores = {label: v["recall"] for label, v in matrix["per_class"].items()}
        assert len(scores) == len(matrix["labels"]) and matrix["source"].startswith(f"{params.paths.eval}/")


def test_the_offline_plots_template_is_current_and_configured():
    import vl_convert
    from factories import REPO

    from reprostack.report import plots

    committed = (REPO / plots.TEMPLATE).read_text(encoding="utf-8")
    # the bundle of the installed vl-convert (`reprostack plots template` rewrites it after an upgrade)
    versions = (
        vl_convert.get_vega_version(),
        vl_convert.get_vegalite_versions()[-1],
        vl_convert.get_vega_embed_version(),
    )
    assert "Vega {}, Vega-Lite {}, vega-embed {}:".format(*versions) in committed and len(committed) > 500_000
    assert "{plot_divs}" in committed and "{scripts}" not in committed and "cdn." not in committed
    config = (REPO / ".dvc" / "config").read_text()
    assert re.search(r"\[plots\]\s+html_template = " + re.escape(plots.CONFIG_VALUE), config)


def test_a_saved_verdict_and_a_migration_ab_appear_in_the_release_report(released, tmp_path):
    from reprostack.runs import reproductions

    root, first, _ = released
    params = params_of(root)
    entry = catalog.require_version(catalog.read(root, params.registry), params.model_name, "v0.1.0")
    runs = root / params.paths.runs
    saved = reproductions.save(
        runs, {"run_id": entry["run_id"], "verdict": "bit-identical", "mode": "exact", "seconds": 1.5}
    )
    assert saved.parent.name == "reproductions" and reproductions.latest(runs, entry["run_id"])["seconds"] == 1.5
    migration = {
        "schema_version": 1,
        "table": "texts",
        "from_column": "vector",
        "from_model": "old-model",
        "to_column": "vector_new",
        "to_model": entry["embedding"]["model"],
        "version": 7,
        "checks": [{"check": "rows", "ok": True, "detail": "90 rows"}],
        "comparison": {"k": 10, "precision_at_k": {"vector": 0.61, "vector_new": 0.83}, "neighbour_overlap": 0.4},
    }
    (runs / "migrations").mkdir(exist_ok=True)
    (runs / "migrations" / "migrated-vector_new-1.json").write_text(json.dumps(migration))
    result = api.report_release(params.model_name, "v0.1.0", output=tmp_path / "r.html", root=root)
    page, facts = (tmp_path / "r.html").read_text(), json.loads((tmp_path / "r.json").read_text())
    shown = _keyed(page)
    assert shown["verdict.verdict"] == "bit-identical" == facts["verdict"]["verdict"]
    assert shown["migrations.0.comparison.precision_at_k.vector_new"] == "0.83"
    assert shown["migrations.0.comparison.precision_at_k.vector"] == "0.61"
    assert shown["migrations.0.comparison.neighbour_overlap"] == "0.4"
    assert "Embedding migration A/B" in page and result.lineage_ok
