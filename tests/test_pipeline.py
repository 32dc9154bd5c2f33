"""The whole pipeline, for real: DVC, Hydra, LanceDB and the embedding model in a temp repo."""

import json
import re
import subprocess

import pytest
import yaml
from factories import REPO, clone, copy_sources, edit_conf, params_of, wide_model
from tools import VENV_BIN, sh

pytestmark = [
    pytest.mark.slow,
    # A project made from the template without the sample data has nothing to run on yet.
    pytest.mark.skipif(not any((REPO / "data" / "raw").glob("*.csv")), reason="no data in data/raw/ yet"),
]


def dvc(cwd, *args, check=True):
    return sh(cwd, "dvc", *args, check=check)


def outputs(root):
    card = json.loads((root / "models" / "candidate" / "model.json").read_text())
    pointer = json.loads((root / "data" / "vectors.json").read_text())
    metrics = json.loads((root / "eval" / "metrics.json").read_text())
    return card, pointer, metrics


@pytest.fixture(scope="session")
def repro_once(real_repro_once):
    """One project that has run `dvc repro` once, its outputs committed (conftest, shared with
    test_runs_reproduce.py); read only: tests get their own copies (`built`). Its sources hold
    no run record (`shipped` is empty): every record is the run's."""
    root, result = real_repro_once
    return root, result, set()


@pytest.fixture
def built(repro_once, tmp_path):
    root, result, shipped = repro_once
    return clone(root, tmp_path / "project"), result, {root / "runs" / name for name in shipped}


def found(tree, key):
    """Every value under `key` anywhere in a JSON tree."""
    if isinstance(tree, dict):
        return [v for k, v in tree.items() if k == key] + [x for v in tree.values() for x in found(v, key)]
    if isinstance(tree, list):
        return [x for v in tree for x in found(v, key)]
    return []


def new_records(root, shipped):
    return sorted(p for p in (root / "runs").glob("*.json") if p.name not in {s.name for s in shipped})


def test_repro_builds_every_output(built):
    root, result, shipped = built
    card, pointer, metrics = outputs(root)
    assert pointer["dimension"] == 384 and pointer["rows"] >= 600
    configured = yaml.safe_load((root / "params.yaml").read_text())["embedding"]["model"]
    assert pointer["model"] == configured and len(pointer["model_fingerprint"]) == 64
    # both name the table's content (a content-named tag), never the local version number
    assert card["vectors"]["tag"] == pointer["tag"] and pointer["tag"].endswith(pointer["vectors_sha256"][:12])
    assert "version" not in pointer and "version" not in card["vectors"]
    assert metrics["accuracy"] > 0.8 and metrics["macro_f1"] > 0.8
    snapshot = json.loads((root / "data" / "snapshot.json").read_text())
    assert (root / snapshot["path"] / "manifest.json").is_file()
    records = new_records(root, shipped)
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["code"]["commit"] and record["data"]["snapshot"] == snapshot["version"]
    assert record["outputs"]["model"]["sha256"] == card["sha256"]
    assert len(record["environment"]["requirements_lock_sha256"]) == 64
    assert record["params_overrides"] == {}
    # a clone lacks the DVC-cached outputs, so at least these re-ran (in pipeline order)
    ran = [s["stage"] for s in record["stages"]]
    assert [s for s in ran if s in ("snapshot", "embed", "train")] == ["snapshot", "embed", "train"]
    assert all(s["seconds"] >= 0 for s in record["stages"])
    # dvc sees metrics and plots
    shown = json.loads(dvc(root, "metrics", "show", "--json").stdout)
    assert found(shown, "macro_f1") == [metrics["macro_f1"]]
    plots = dvc(root, "plots", "show", "--json").stdout
    assert "confusion_matrix.json" in plots and '"actual"' in plots


def test_snapshot_never_aliases_the_raw_file(built):
    root, _, _ = built
    snapshot = json.loads((root / "data" / "snapshot.json").read_text())
    raw = (root / "data" / "raw" / "texts.csv").stat()
    frozen = (root / snapshot["path"] / "texts.csv").stat()
    assert raw.st_ino != frozen.st_ino and frozen.st_nlink == 1  # copy-on-write, not a hard link
    assert not frozen.st_mode & 0o222 and raw.st_mode & 0o200


def test_second_repro_is_a_noop(built):
    root, _, _ = built
    before = sorted((root / "runs").glob("*.json"))
    result = dvc(root, "repro")
    # no stage is always-changed (issue 21): DVC's own up-to-date line, and a clean `dvc status`
    assert "Running stage" not in result.stdout and "Data and pipelines are up to date." in result.stdout
    assert "Data and pipelines are up to date." in dvc(root, "status").stdout
    assert sorted((root / "runs").glob("*.json")) == before


def test_conf_change_flows_into_params_and_reruns_only_training(built):
    root, _, shipped = built
    old = params_of(root).data.test_size
    new = round(old / 2 + 0.05, 3)
    edit_conf(root, compose=False, data={"test_size": new})
    result = dvc(root, "repro")
    assert f"params.yaml: data.test_size: {old} -> {new} (from conf/)" in result.stderr
    assert yaml.safe_load((root / "params.yaml").read_text())["data"]["test_size"] == new
    assert "Running stage 'train'" in result.stdout and "Running stage 'embed'" not in result.stdout


def test_changed_data_makes_a_new_table_version_and_the_old_data_the_old_bits(built):
    root, _, _ = built
    card_before, pointer_before, _ = outputs(root)
    data = params_of(root).data
    raw = root / data.raw_dir / data.file
    summary = re.compile(rf"embedded 6 \(.*\), relabelled 0, deleted 0 of {pointer_before['rows']} rows")
    original = raw.read_bytes()
    lines = original.decode("utf-8").splitlines(keepends=True)
    changed = lines[:1] + [line.replace(",", ",edited ", 1) if i < 6 else line for i, line in enumerate(lines[1:])]
    replacement = raw.with_suffix(".new")
    replacement.write_text("".join(changed), encoding="utf-8")
    replacement.replace(raw)  # replace, never write into: raw is hard-linked into the snapshot
    result = dvc(root, "repro")
    assert summary.search(result.stdout), result.stdout  # only the edited texts
    versions = [json.loads(p.read_text())["vectors"]["version"] for p in sorted((root / "runs").glob("*.json"))]
    assert versions[-1] == versions[-2] + 1  # one commit (the local number is in the record only)
    assert outputs(root)[1]["tag"] != pointer_before["tag"]
    replacement.write_bytes(original)
    replacement.replace(raw)
    # DVC's run cache would restore the first run's pointer (its tagged version is still in the
    # table); re-embedding is what is tested here
    result = dvc(root, "repro", "--no-run-cache")
    assert summary.search(result.stdout), result.stdout
    card_after, pointer_after, _ = outputs(root)
    # Two incremental updates end with the bits of the first, clean, full run: embedding is
    # batch-invariant. The content-named tag leads the pointer back to that run's version.
    assert pointer_after["vectors_sha256"] == pointer_before["vectors_sha256"]
    assert pointer_after == pointer_before  # the pointer names content: byte for byte the same file
    assert card_after["sha256"] == card_before["sha256"]


def test_exp_run_set_params_show_up_in_exp_show(built):
    root, _, shipped = built
    dvc(root, "exp", "run", "-S", "model=logreg", "-S", "model.C=0.1")
    dvc(root, "exp", "run", "-S", "model=random_forest", "-S", "model.n_estimators=50")
    table = json.loads(dvc(root, "exp", "show", "--json").stdout)
    text = json.dumps(table)
    assert '"C": 0.1' in text and '"random_forest"' in text and '"n_estimators": 50' in text
    records = [json.loads(p.read_text()) for p in new_records(root, shipped)]
    assert records[-1]["params_overrides"]["model.n_estimators"] == 50


def test_bad_set_param_fails_before_any_stage(built):
    root, _, shipped = built
    result = dvc(root, "exp", "run", "-S", "seed=abc", check=False)
    assert result.returncode != 0
    assert "seed must be a non-negative integer, got 'abc'" in result.stderr + result.stdout
    assert "Running stage 'train'" not in result.stdout
    unknown = dvc(root, "exp", "run", "-S", "model=xgboost", check=False)
    assert unknown.returncode != 0 and "xgboost" in unknown.stderr + unknown.stdout
    # the compose stage put conf/'s values back before stopping, so params.yaml is usable
    assert yaml.safe_load((root / "params.yaml").read_text())["seed"] == params_of(REPO).seed
    dvc(root, "repro")


def test_two_clean_runs_are_bit_identical(repro_once, tmp_path):
    other = repro_once[0]
    card_a, pointer_a, metrics_a = outputs(other)
    fresh = copy_sources(tmp_path / "third")
    dvc(fresh, "repro")
    card_b, pointer_b, metrics_b = outputs(fresh)
    assert card_a["sha256"] == card_b["sha256"]
    assert pointer_a["vectors_sha256"] == pointer_b["vectors_sha256"]
    assert metrics_a == metrics_b
    assert (other / "models/candidate/model.pkl").read_bytes() == (fresh / "models/candidate/model.pkl").read_bytes()


def test_tampered_snapshot_stops_training_naming_the_file(built):
    root, _, _ = built
    snapshot = json.loads((root / "data" / "snapshot.json").read_text())
    target = root / snapshot["path"] / "texts.csv"
    original = target.read_bytes()
    target.chmod(0o644)
    try:
        target.write_bytes(original + b"t9999,sneaky row,sports\n")
        result = dvc(root, "repro", "-f", "-s", "train", check=False)
        assert result.returncode != 0
        assert f"snapshot {snapshot['path']} failed verification (changed: texts.csv)" in result.stderr
    finally:
        target.write_bytes(original)
        target.chmod(0o444)


def test_runs_reproduce_proves_a_run_bit_for_bit(built):
    root, _, shipped = built
    first = json.loads(new_records(root, shipped)[0].read_text())
    assert first["code"]["dirty"] is False
    status_before = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    lock_before = (root / "dvc.lock").read_bytes()
    result = subprocess.run(
        [str(VENV_BIN / "reprostack"), "runs", "reproduce", first["run_id"], "--json"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["reproduced"] is True and report["verdict"] == "bit-identical"
    assert report["model_sha256"]["reproduced"] == first["outputs"]["model"]["sha256"]
    assert report["original_vectors"] == "readable"
    # the user's working tree is untouched but for the kept verdict, and no worktree is left
    status_after = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout
    assert [line for line in status_after.splitlines() if "runs/reproductions/" not in line] == [
        line for line in status_before.splitlines() if "runs/reproductions/" not in line
    ]
    saved = json.loads((root / report["saved"]).read_text())
    assert saved["run_id"] == first["run_id"] and saved["verdict"] == "bit-identical"
    assert (root / "dvc.lock").read_bytes() == lock_before
    assert subprocess.run(["git", "worktree", "list"], cwd=root, capture_output=True, text=True).stdout.count("\n") == 1

    # a record whose outputs do not match what its commit produces is reported, exit 1
    from reprostack.runs import records

    forged = {
        **first,
        "run_id": records.new_run_id(),
        "outputs": {**first["outputs"], "metrics": {**first["outputs"]["metrics"], "accuracy": 0.5}},
    }
    records.write_record(root / "runs", {k: v for k, v in forged.items() if k != "schema_version"})
    result = subprocess.run(
        [str(VENV_BIN / "reprostack"), "runs", "reproduce", forged["run_id"]], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 1 and "NOT reproduced" in result.stdout


def reprostack(root, *args, check=True):
    return sh(root, "reprostack", *args, check=check)


def test_migrate_to_a_768_dim_model_search_and_roll_back(built, tmp_path):
    root, _, _ = built
    model_dir = wide_model(tmp_path / "wide-768")
    dry = json.loads(reprostack(root, "vectors", "migrate", "--to", str(model_dir), "--dry-run", "--json").stdout)
    assert dry["rows_to_embed"] == 650 and dry["to_column"] == "vector_wide_768"
    report = json.loads(reprostack(root, "vectors", "migrate", "--to", str(model_dir), "--json").stdout)
    assert report["rows_embedded"] == 650 and all(c["ok"] for c in report["checks"])
    comparison = report["comparison"]
    assert comparison["dimension"] == {"vector": 384, "vector_wide_768": 768}
    assert comparison["precision_at_k"]["vector_wide_768"] >= comparison["precision_at_k"]["vector"] - 0.05
    again = reprostack(root, "vectors", "migrate", "--to", str(model_dir), check=False)
    assert again.returncode == 1 and "already the active model" in again.stderr
    hits = json.loads(
        reprostack(
            root, "vectors", "search", "a late goal won the derby", "-k", "3", "--where", "label = 'sports'", "--json"
        ).stdout
    )
    assert hits["column"] == "vector_wide_768" and [r["label"] for r in hits["results"]] == ["sports"] * 3
    # the pipeline still reads its pinned version and column: nothing to re-run
    # nothing is stale (no stage is always-changed)
    assert json.loads(dvc(root, "status", "--json").stdout) == {}
    reprostack(root, "vectors", "restore", report["pre_migration_tag"])
    shown = json.loads(reprostack(root, "vectors", "show", "--json").stdout)
    assert shown["active_column"] == "vector" and set(shown["columns"]) == {"vector"}
