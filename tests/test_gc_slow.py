"""`reprostack gc` after 10 data-changing runs, 5 releases (every second run) and 3 promotions
(v0.1.0, v0.3.0, v0.5.0 to production): the dry run lists exactly the unreachable items, checked
independently (DVC's own `dvc gc --workspace --all-tags` on a copy for the cache; the registry's
and the pointer's table versions and snapshots for the rest); gc frees them; every kept version
still verifies (provenance), serves (a real server, predict) and reproduces."""

import subprocess

import gc_scenario
import pytest
from conftest import shared
from factories import REPO, clone, params_of
from test_gc import dry, small_once, state, table  # noqa: F401 (small_once: the fixture)
from tools import free_port, http, run_cli, serving_process

from reprostack.provenance import chain
from reprostack.registry import catalog

pytestmark = pytest.mark.slow
NAME = params_of(REPO).model_name
VERSIONS = ["v0.1.0", "v0.2.0", "v0.3.0", "v0.4.0", "v0.5.0"]


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    base = shared(
        tmp_path_factory,
        "gc-ten-runs",
        lambda b: gc_scenario.build(b / "project", 10, 2, ("v0.1.0", "v0.3.0", "v0.5.0")),
    )
    return clone(base, tmp_path_factory.mktemp("gc-ten") / "project")


def dvc_kept_objects(root, tmp_path):
    """DVC's own answer: the cache objects `dvc gc --workspace --all-tags` keeps, on a copy."""
    copy = clone(root, tmp_path / "dvc-gc")
    subprocess.run(["dvc", "gc", "--workspace", "--all-tags", "--force", "-q"], cwd=copy, check=True)
    return set(state(copy)["objects"])


def test_ten_runs_five_releases_three_promotions(history, tmp_path):
    from reprostack.vectors import read_vectors_pointer

    data = catalog.read(history)
    entries = data["models"][0]["versions"]
    assert [e["version"] for e in entries] == VERSIONS
    assert catalog.in_stage(data, NAME, "production")[0]["version"] == "v0.5.0"
    pointer = read_vectors_pointer(history / params_of(history).paths.vectors_pointer)
    all_versions = [v["version"] for v in table(history).versions()]
    pinned = table(history).tags.list()[pointer.tag]["version"]  # the pointer names it by its tag
    needed = {e["vectors"]["version"] for e in entries} | {pinned, max(all_versions)}
    tags = table(history).tags.list()
    expected = {
        "vectors": sorted(str(v) for v in all_versions if v not in needed),
        "vector-tags": sorted(t for t, info in tags.items() if info["version"] not in needed),
        "snapshots": sorted(
            f"data/snapshots/sample/{s}"
            for s in state(history)["snapshots"]
            if s not in {e["data"]["snapshot"] for e in entries} | {pointer.snapshot.split("/")[-1]}
        ),
        "dvc-cache": sorted(set(state(history)["objects"]) - dvc_kept_objects(history, tmp_path)),
        "dvc-remote": [],
        "models": [],
    }
    assert len(expected["vectors"]) >= 4 and len(expected["snapshots"]) >= 4  # the unreleased runs' outputs
    found = dry(history)
    assert {s: sorted(i["key"] for i in found["items"] if i["store"] == s) for s in expected} == expected

    done = run_cli(history, "gc")
    assert done.returncode == 0, done.stderr
    reclaimed = int(done.stdout.rsplit("(", 1)[1].split(" bytes")[0])
    print(f"\ngc after 10 runs, 5 releases, 3 promotions: reclaimed {reclaimed} bytes")  # the figure to quote
    assert reclaimed >= sum(v for store, v in found["bytes"].items() if store != "vectors") > 0
    assert dry(history)["items"] == []

    for version in VERSIONS:  # every kept version verifies, link by link
        walked = chain.walk(history, params_of(history), NAME, version)
        assert walked.first_broken is None, (version, [(lk.name, lk.detail) for lk in walked.links])
    assert run_cli(history, "verify").returncode == 0
    assert run_cli(history, "registry", "rollback", NAME, "--dry-run").returncode == 0
    from reprostack import api

    for version in VERSIONS:  # ... serves
        assert api.predict(["a note about finance"], f"{NAME}@{version}", root=history).predictions[0].label
    with serving_process(history, "serve", "--model", NAME, "--port", str(free_port())) as (port, _):
        status, body = http(port, "/predict", {"texts": ["a note about finance"]})
        assert status == 200 and body["model"]["version"] == "v0.5.0"
        proved = run_cli(history, "provenance", "--url", f"http://127.0.0.1:{port}")
        assert proved.returncode == 0, proved.stdout
    oldest = entries[0]["run_id"]  # ... and reproduces: the oldest release, from its kept table version
    again = run_cli(history, "runs", "reproduce", oldest, "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.json()["verdict"] == "bit-identical"


def test_the_stores_unreachable_objects_go_and_kept_versions_still_pull(small_once, tmp_path):
    """A local store holding every commit's objects (`dvc push --all-commits`): gc removes from
    it exactly what DVC's own gc of the workspace and all tags would not keep, and a clone that
    lost its cache and released model pulls them back."""
    import shutil

    from tools import sh

    root = clone(small_once, tmp_path / "project")
    store = tmp_path / "store"
    assert run_cli(root, "store", "init", str(store), "--local").returncode == 0
    sh(root, "dvc", "push", "--all-commits", "-q")
    remote = store / "files" / "md5"
    before = {p.parent.name + p.name for p in remote.glob("*/*")}
    expected = sorted(before - dvc_kept_objects(root, tmp_path))
    assert expected  # the first run's outputs were pushed too
    found = dry(root)
    assert sorted(i["key"] for i in found["items"] if i["store"] == "dvc-remote") == expected
    assert run_cli(root, "gc").returncode == 0
    assert {p.parent.name + p.name for p in remote.glob("*/*")} == before - set(expected)
    shutil.rmtree(root / ".dvc" / "cache")
    subprocess.run(["chmod", "-R", "u+w", str(root / "models" / NAME / "v0.1.0")], check=True)
    shutil.rmtree(root / "models" / NAME / "v0.1.0")
    pulled = run_cli(root, "store", "pull")
    assert pulled.returncode == 0, pulled.stderr
    walked = chain.walk(root, params_of(root), NAME, "v0.1.0")  # the workspace is back; the build commit's
    assert walked.first_broken.name == "dvc.lock"  # objects are not, and the link names the fix: run it
    sh(root, *walked.first_broken.detail.rsplit("`", 2)[-2].split())
    walked = chain.walk(root, params_of(root), NAME, "v0.1.0")
    assert walked.first_broken is None, [(lk.name, lk.detail) for lk in walked.links]
