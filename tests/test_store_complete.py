"""A push is complete or it says so: after a push killed at any watched point, the next push
leaves the store holding every object of every released model and pipeline output and every
table file, checked here against a listing of the store's directory made without reprostack;
`store status` and `verify` see what the store lacks; `store pull` says what it restored."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from tools import VENV_BIN, cli_process, fix_command, git, run_cli

from reprostack.store import sync


def cached(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def needed(root: Path) -> set[str]:
    """Every object the store must hold, read from the .dvc files, dvc.lock and the cache's
    directory listings (dvc.yaml's cache: false outputs are params.yaml, stamps and eval/)."""
    outs = []
    for dvcfile in (root / "models").glob("*/*.dvc"):
        outs += yaml.safe_load(dvcfile.read_text())["outs"]
    for stage in yaml.safe_load((root / "dvc.lock").read_text())["stages"].values():
        outs += [o for o in stage.get("outs", []) if not o["path"].startswith(("runs/", "eval/", "params.yaml"))]
    assert len(outs) >= 5  # two releases, the candidate, the two pointers
    found = set()
    for out in outs:
        found.add(out["md5"])
        if out["md5"].endswith(".dir"):
            found |= {e["md5"] for e in json.loads(cached(root, out["md5"]).read_text())}
    return found


def held(store: Path) -> set[str]:
    base = store / "files" / "md5"
    return {p.parent.name + p.name for p in base.glob("*/*") if p.is_file()} if base.is_dir() else set()


def table_complete(root: Path, store: Path) -> bool:
    ours = root / "data" / "vectors"
    theirs = store / "lance"
    local = {p.relative_to(ours): p.stat().st_size for p in ours.rglob("*") if p.is_file()}
    # not table files: Lance's local latest-version hint, and the writer lock beside the table
    local = {k: v for k, v in local.items() if not k.name.endswith(("_latest.manifest", ".writer.lock"))}
    return all((theirs / k).is_file() and (theirs / k).stat().st_size == v for k, v in local.items())


@pytest.fixture
def stored(released, tmp_path):
    root, first, second = released
    store = tmp_path / "store"
    assert run_cli(root, "store", "init", str(store)).returncode == 0
    git(root, "commit", "-qam", "store")
    return SimpleNamespace(root=root, store=store, first=first, second=second)


@pytest.mark.parametrize(
    "point",
    [
        pytest.param("store.push-table", marks=pytest.mark.slow),
        pytest.param("store.push-dvc", marks=pytest.mark.slow),
        "store.push-object",  # DVC's blind spot: the fast suite keeps this one
    ],
)
def test_a_killed_push_then_a_push_ends_complete(stored, point):
    root, store = stored.root, stored.store
    if point == "store.push-object":
        # a store holding a released model's directory listing (.dir) but not its files: DVC
        # takes the listing for the whole directory and skips it; the check after DVC does not
        assert run_cli(root, "store", "push").returncode == 0
        model = yaml.safe_load((root / f"{stored.first['path']}.dvc").read_text())
        for entry in json.loads(cached(root, model["outs"][0]["md5"]).read_text()):
            (store / "files" / "md5" / entry["md5"][:2] / entry["md5"][2:]).unlink()
    killed = cli_process(root, "store", "push", env={"REPROSTACK_KILL_AT": point})
    assert killed.returncode == -9, killed.stderr
    assert not needed(root) <= held(store) or not table_complete(root, store)  # the kill left it partial
    again = cli_process(root, "store", "push")
    assert again.returncode == 0, again.stderr
    assert "the store's listing holds every DVC object" in again.stdout
    assert needed(root) <= held(store) and table_complete(root, store)


def test_a_store_lacking_a_released_model_is_seen_by_status_and_verify(stored):
    root, store = stored.root, stored.store
    assert run_cli(root, "store", "push").returncode == 0
    version_dir = stored.second["path"]
    md5 = yaml.safe_load((root / f"{version_dir}.dvc").read_text())["outs"][0]["md5"]
    (store / "files" / "md5" / md5[:2] / md5[2:]).unlink()  # the directory's listing: the model is gone
    status = run_cli(root, "store", "status", "--json").json()
    assert status["objects_not_pushed"] >= 1 and version_dir in status["outputs_not_pushed"]
    assert status["snapshots_not_pushed"] == 0 and status["table_files_not_pushed"] == 0
    failed = run_cli(root, "verify")
    assert failed.returncode == 1
    line = next(ln for ln in failed.stdout.splitlines() if version_dir in ln and "store" in ln)
    assert fix_command(line) == "reprostack store push"
    fixed = cli_process(root, *fix_command(line).split()[1:])
    assert fixed.returncode == 0, fixed.stderr
    assert needed(root) <= held(store)
    assert "store: ok" in run_cli(root, "verify").stdout


def test_pull_reports_what_it_restored(stored, tmp_path):
    root = stored.root
    assert run_cli(root, "store", "push").returncode == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(root), str(other))
    pulled = run_cli(other, "store", "pull", "--json").json()
    assert stored.first["path"] in pulled["restored"]
    assert pulled["dvc_files"] == len(pulled["restored"]) >= 2
    text = run_cli(other, "store", "pull")
    assert "0 DVC outputs restored" in text.stdout  # nothing left to restore
    shutil.rmtree(other / stored.second["path"])
    again = run_cli(other, "store", "pull")
    assert f"restored {stored.second['path']}" in again.stdout and os.path.exists(other / stored.second["path"])


def test_a_failed_store_init_changes_nothing(stored, tmp_path):
    root = stored.root
    before = (root / ".dvc" / "config").read_text()
    down = run_cli(root, "store", "init", "s3://bucket/path", "--endpoint-url", "http://127.0.0.1:1")
    assert down.returncode == 1 and "unreachable" in down.stderr and down.stderr.count("\n") == 1
    assert (root / ".dvc" / "config").read_text() == before  # the working store is still the one
    assert not (root / ".dvc" / "config.local").exists()
    assert git(root, "status", "--porcelain") == ""
    assert run_cli(root, "store", "push").returncode == 0  # and it still works
    other = tmp_path / "elsewhere"
    made = run_cli(root, "store", "init", str(other))  # a good one is configured as before
    assert made.returncode == 0 and other.is_dir()
    assert str(other) in json.dumps(sync.remote.require(root).path)


def test_a_pulled_clone_gets_its_snapshots(stored, tmp_path):
    root = stored.root
    assert run_cli(root, "store", "push").returncode == 0
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(root), str(other))
    assert not (other / "data" / "snapshots").exists()
    pulled = run_cli(other, "store", "pull", "--json").json()
    assert pulled["snapshots"] >= 1
    shown = cli_process(other, "snapshot", "show")
    assert shown.returncode == 0, shown.stderr
    verified = run_cli(other, "verify", "--json").json()
    assert verified["snapshots"]["checked"] >= 1 and verified["snapshots"]["problems"] == []
    assert run_cli(other, "store", "pull", "--json").json()["snapshots"] == 0  # nothing new
    shutil.rmtree(other / "data" / "snapshots")  # a clone pulled before snapshots were in the store
    before = run_cli(other, "verify", "--json").json()["snapshots"]  # not "ok, 0 checked"
    line = next(p for p in before["problems"] if "which is not in data/snapshots/" in p)
    assert fix_command(line) == "reprostack store pull"
    assert cli_process(other, "store", "pull").returncode == 0
    assert run_cli(other, "verify", "--json").json()["snapshots"]["problems"] == []


@pytest.mark.slow  # a SeaweedFS S3 server
def test_a_killed_push_to_s3_then_a_push_ends_complete(released, seaweed):

    root, first, _ = released
    env = dict(seaweed.env)
    made = cli_process(root, "store", "init", "s3://complete/p", "--endpoint-url", seaweed.endpoint, env=env)
    assert made.returncode == 0, made.stderr
    git(root, "commit", "-qm", "the team's store", ".dvc/config")
    assert cli_process(root, "store", "push", env=env).returncode == 0
    s3 = seaweed.client()

    def listing(prefix):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="complete", Prefix=prefix)
        return {o["Key"][len(prefix) :]: o["Size"] for page in pages for o in page.get("Contents", [])}

    model = yaml.safe_load((root / f"{first['path']}.dvc").read_text())
    for entry in json.loads(cached(root, model["outs"][0]["md5"]).read_text()):  # the .dir listing stays
        s3.delete_object(Bucket="complete", Key=f"p/files/md5/{entry['md5'][:2]}/{entry['md5'][2:]}")
    killed = cli_process(root, "store", "push", env={**env, "REPROSTACK_KILL_AT": "store.push-object"})
    assert killed.returncode == -9, killed.stderr
    again = cli_process(root, "store", "push", env=env)
    assert again.returncode == 0, again.stderr
    assert needed(root) <= {k.replace("/", "") for k in listing("p/files/md5/")}
    table = root / "data" / "vectors" / "texts.lance"
    ours = {p.relative_to(table).as_posix(): p.stat().st_size for p in table.rglob("*") if p.is_file()}
    theirs = listing("p/lance/texts.lance/")
    assert all(theirs.get(k) == v for k, v in ours.items() if not k.endswith("_latest.manifest"))


@pytest.mark.slow
def test_a_model_on_neither_store_nor_cache_gets_a_fix_that_works_here(stored):
    root, store = stored.root, stored.store
    shutil.rmtree(root / ".dvc" / "cache")  # never pushed, and the cache emptied
    pushed = cli_process(root, "store", "push")
    assert pushed.returncode == 1 and "this clone's DVC cache lacks them too" in pushed.stderr.splitlines()[-1]
    assert fix_command(pushed.stderr.splitlines()[-1]) == "dvc commit --force && reprostack store push"
    line = next(p for p in run_cli(root, "verify", "--json").json()["store"]["problems"] if stored.first["path"] in p)
    assert fix_command(line) == "dvc commit --force && reprostack store push"
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(fix_command(line), shell=True, cwd=root, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert needed(root) <= held(store)
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""  # nothing recorded anew
    assert run_cli(root, "verify", "--json").json()["store"]["problems"] == []


@pytest.mark.slow
def test_pushes_killed_at_timed_moments_then_pushed_again_end_complete(stored, tmp_path):
    """kill -9 of `store push` after a delay (its first seconds, where the field report lost a
    model), then a push: each time a fresh store, each time complete."""
    import signal
    import time

    root, survived = stored.root, 0
    delays = (0.6, 0.9, 1.2, 1.5, 1.8, 2.2, 2.8)
    for i, delay in enumerate(delays):
        store = tmp_path / f"store-{i}"
        assert run_cli(root, "store", "init", str(store)).returncode == 0
        proc = subprocess.Popen([str(VENV_BIN / "reprostack"), "store", "push"], cwd=root, stderr=subprocess.PIPE)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        again = cli_process(root, "store", "push")
        assert again.returncode == 0, (delay, again.stderr)
        assert needed(root) <= held(store) and table_complete(root, store), delay
        survived += 1
    assert survived == len(delays)
