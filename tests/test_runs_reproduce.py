"""`runs reproduce` exact and recompute, and params that never silently drift (issue 12, items 4
and 5): real DVC, the real embedding model, a real git repository; the tests share one project
in order."""

import json
import subprocess

import numpy as np
import pytest
import yaml
from factories import REPO, clone
from tools import VENV_BIN, git

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not any((REPO / "data" / "raw").glob("*.csv")), reason="no data in data/raw/ yet"),
]


def run(root, *cmd, check=True):
    result = subprocess.run([str(VENV_BIN / cmd[0]), *cmd[1:]], cwd=root, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def built(real_repro_once, tmp_path_factory):
    """A copy of the project after its first `dvc repro` (conftest.real_repro_once), for this module."""
    root = clone(real_repro_once[0], tmp_path_factory.mktemp("runs") / "project")
    new = sorted((root / "runs").glob("*.json"))
    assert len(new) == 1
    return root, json.loads(new[0].read_text())


def forge(root, first, **changes):
    """A record like the first one, with some fields changed (what another machine might record)."""
    from reprostack.runs import records

    forged = {**json.loads(json.dumps(first)), "run_id": records.new_run_id(), **changes}
    records.write_record(root / "runs", {k: v for k, v in forged.items() if k != "schema_version"})
    return forged


def untouched_but_the_verdict(root, status_before: str) -> bool:
    """git status as before, but for the verdicts reproduce keeps in runs/reproductions/."""
    after = git(root, "status", "--porcelain").splitlines()
    others = [line for line in after if "runs/reproductions/" not in line]
    before = [line for line in status_before.splitlines() if "runs/reproductions/" not in line]
    return len(others) < len(after) and others == before


def test_exact_reproduce_reads_the_run_table_version_and_is_bit_identical(built):
    root, first = built
    status = git(root, "status", "--porcelain")
    lock = (root / "dvc.lock").read_bytes()
    result = run(root, "reprostack", "runs", "reproduce", first["run_id"])
    assert f"{first['run_id']}: reproduced (bit-identical)" in result.stdout and "(exact)" in result.stdout
    # progress names each step; embedding is not one of them
    for step in (
        "vectors: reading table texts version",
        "worktree: checking out",
        "stage snapshot",
        "stage train",
        "stage evaluate",
        "comparing outputs",
    ):
        assert step in result.stderr
    assert "stage embed" not in result.stderr
    assert untouched_but_the_verdict(root, status) and (root / "dvc.lock").read_bytes() == lock
    assert git(root, "worktree", "list").count("\n") == 1


def test_recompute_re_embeds_and_on_the_same_machine_is_bit_identical(built):
    root, first = built
    result = run(root, "reprostack", "runs", "reproduce", first["run_id"], "--re-embed", "--json")
    report = json.loads(result.stdout)
    assert report["verdict"] == "bit-identical" and report["mode"] == "recompute" and report["reproduced"]
    assert report["model_sha256"]["reproduced"] == first["outputs"]["model"]["sha256"]
    assert report["environment_differences"] == []
    assert "stage embed" in result.stderr


def test_different_outputs_are_not_reproduced_with_the_deltas(built):
    root, first = built
    metrics = {**first["outputs"]["metrics"], "accuracy": 0.5}
    forged = forge(root, first, outputs={**first["outputs"], "metrics": metrics})
    result = run(root, "reprostack", "runs", "reproduce", forged["run_id"], check=False)
    assert result.returncode == 1
    assert f"{forged['run_id']}: NOT reproduced (exact)" in result.stdout
    delta = round(first["outputs"]["metrics"]["accuracy"] - 0.5, 6)
    assert f"accuracy {delta:+g}" in result.stdout
    assert "identical held-out predictions: 100.00%" in result.stdout  # the same model, a forged metric


def test_last_bit_noise_on_another_machine_is_within_tolerance_and_said_so(built, tmp_path):
    """The run recorded on 'another machine': its vectors differ in the last bits, its metrics by a
    hair. Re-embedding here must not say NOT reproduced for that."""

    from reprostack import vectors
    from reprostack.cli.runs import _text
    from reprostack.vectors import lance_table, update

    root, first = built
    pointer = vectors.read_vectors_pointer(root / "data" / "vectors.json")
    rows = vectors.read_rows(pointer.model_copy(update={"uri": str(root / pointer.uri)}))
    noisy = rows.vectors + np.float32(3e-7) * np.sign(rows.vectors)
    by_id = dict(zip(rows.ids, noisy))
    uri = str(tmp_path / "other-machine")
    made = update.update(
        uri,
        "texts",
        rows.ids,
        rows.ids,
        rows.labels,
        pointer.model,
        pointer.model_fingerprint,
        True,
        lambda texts: np.stack([by_id[t] for t in texts]),
        "s",
    )
    other = {
        **first["vectors"],
        "uri": uri,
        "version": 1,
        "tag": "",
        "vector_column": made.column,
        "vectors_sha256": lance_table.content_sha256(rows.ids, rows.labels, noisy),
    }
    metrics = {**first["outputs"]["metrics"], "accuracy": first["outputs"]["metrics"]["accuracy"] + 0.001}
    # and the other machine had other vector instructions and threads: the verdict names them
    env = first["environment"]
    elsewhere = {
        **env,
        "cpu": {**env["cpu"], "vector_flags": sorted({*env["cpu"]["vector_flags"], "amx_complex"})},
        "compute": {**(env.get("compute") or {}), "threads": 7},
    }
    forged = forge(root, first, vectors=other, outputs={**first["outputs"], "metrics": metrics}, environment=elsewhere)
    report = json.loads(run(root, "reprostack", "runs", "reproduce", forged["run_id"], "--re-embed", "--json").stdout)
    assert report["verdict"] == "within tolerance" and report["identical_predictions"] == 1.0
    assert report["vectors"]["identical"] is False and 2.5e-7 < report["vectors"]["max_abs_difference"] < 3.5e-7
    assert report["metric_deltas"]["accuracy"] == pytest.approx(-0.001)
    text = _text(report)
    assert f"{forged['run_id']}: reproduced within tolerance (recompute)" in text and "NOT reproduced" not in text
    assert "last-bit float noise" in text and "identical held-out predictions: 100.00%" in text
    assert (
        "within tolerance (recompute)" in text
        and "; the machines differ in: cpu vector flags (lost amx_complex" in text
    )
    assert "threads (7 -> " in text and any("amx_complex" in m for m in report["machines_differ_in"])


def test_a_gone_table_version_is_said_and_re_embed_offered(built):
    root, first = built
    # neither its tag nor its version number is in the table (the tag is what is read first)
    forged = forge(root, first, vectors={**first["vectors"], "version": 999, "tag": "snap-gone"})
    result = run(root, "reprostack", "runs", "reproduce", forged["run_id"], check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error")]
    assert result.returncode == 1 and len(errors) == 1 and "Traceback" not in result.stderr
    assert "cannot be read" in result.stderr
    assert f"`reprostack runs reproduce {forged['run_id']} --re-embed`" in result.stderr
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "forged records")


def test_a_clone_without_the_table_pulls_it_from_the_store_and_goes_on_exact(built, tmp_path):
    """Clone B on this machine lacks the run's table: reproduce pulls it from the project's default
    store (which clone A made and pushed) and reports bit-identical; a version the store lacks too
    is said so, with --re-embed offered."""
    root, first = built
    try:
        run(root, "reprostack", "store", "init")  # the default local store, this clone's config.local
        run(root, "reprostack", "store", "push")
        b = tmp_path / "b"
        subprocess.run(["git", "clone", "-q", str(root), str(b)], check=True)
        assert not (b / "data" / "vectors").exists()
        result = run(b, "reprostack", "runs", "reproduce", first["run_id"])
        assert f"{first['run_id']}: reproduced (bit-identical)" in result.stdout and "(exact)" in result.stdout
        steps = [line for line in result.stderr.splitlines() if line.strip()]
        pull = next(i for i, line in enumerate(steps) if "pull: table texts version" in line)
        assert pull < next(i for i, line in enumerate(steps) if "worktree: checking out" in line)
        assert "stage embed" not in result.stderr  # exact: nothing re-embedded
        assert untouched_but_the_verdict(b, "")
        # a version (and tag) no one has
        forged = forge(b, first, vectors={**first["vectors"], "version": 999, "tag": "snap-gone"})
        missing = run(b, "reprostack", "runs", "reproduce", forged["run_id"], check=False)
        errors = [line for line in missing.stderr.splitlines() if line.startswith("error")]
        assert missing.returncode == 1 and len(errors) == 1, missing.stderr
        assert "and store 'store' (" in errors[0] and "does not have it either" in errors[0]
        assert errors[0].endswith(f"`reprostack runs reproduce {forged['run_id']} --re-embed`")
        # a store that is gone: its own one-line reason, and --re-embed still offered
        import shutil

        from reprostack.store import remote

        shutil.rmtree(remote.require(b).path)
        down = run(b, "reprostack", "runs", "reproduce", forged["run_id"], check=False)
        errors = [line for line in down.stderr.splitlines() if line.startswith("error")]
        assert down.returncode == 1 and len(errors) == 1, down.stderr
        assert "the store could not help: store 'store' (" in errors[0] and "does not exist" in errors[0]
        assert errors[0].endswith(f"`reprostack runs reproduce {forged['run_id']} --re-embed`")
    finally:
        (root / ".dvc" / "config.local").unlink(missing_ok=True)  # the tests below run without a store


def params_of(root):
    return yaml.safe_load((root / "params.yaml").read_text())


def test_plain_repro_after_exp_run_puts_conf_values_back_loudly(built):
    root, _ = built
    seed = params_of(root)["seed"]  # every project has a seed, whatever its classifier
    run(root, "dvc", "exp", "run", "-S", f"seed={seed + 1}")
    assert params_of(root)["seed"] == seed + 1
    result = run(root, "dvc", "repro")
    assert f"params.yaml: seed: {seed + 1} -> {seed} (from conf/)" in result.stderr
    assert "put back from conf/" in result.stderr
    # train re-runs, or DVC restores its earlier outputs for these params from its run cache
    assert params_of(root)["seed"] == seed
    assert "Running stage 'train'" in result.stdout or "Stage 'train' is cached" in result.stdout
    run(root, "reprostack", "params", "check")
    # and a repro with nothing changed re-runs nothing downstream of compose
    again = run(root, "dvc", "repro")
    assert "Running stage" not in again.stdout and "put back" not in again.stderr
    assert "Data and pipelines are up to date." in again.stdout


def test_release_refuses_params_that_differ_from_conf(built):
    root, _ = built
    seed = params_of(root)["seed"]
    run(root, "dvc", "exp", "run", "-S", f"seed={seed + 1}")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "an experiment, committed as is")
    result = run(root, "reprostack", "release", check=False)
    assert result.returncode != 0
    refusal = result.stderr.strip().splitlines()[-1]
    assert (
        refusal.startswith("error: params.yaml differs from conf/ at ")
        and f"seed={seed + 1} (conf/: {seed})" in refusal
    )
    assert not (root / "models" / "registry.json").exists()
    # the printed fix works
    run(root, "reprostack", "params", "compose")
    run(root, "dvc", "repro")
    run(root, "reprostack", "params", "check")


def test_a_failed_set_leaves_params_usable(built):
    root, _ = built
    seed = params_of(root)["seed"]
    result = run(root, "dvc", "exp", "run", "-S", "seed=abc", check=False)
    assert result.returncode != 0
    error = next(line for line in result.stderr.splitlines() if line.startswith("error [compose]"))
    assert "seed must be a non-negative integer, got 'abc'" in error
    assert "params.yaml was restored from conf/" in error
    assert params_of(root)["seed"] == seed
    for cmd in (["snapshot", "list"], ["vectors", "versions"], ["registry", "list"], ["params", "check"]):
        run(root, "reprostack", *cmd)
