"""Releases with real git, DVC and GTO: what a release registers, copies, commits and tags, and
what it refuses (an existing tag, a small bump, a stale pipeline); the name and semver rules.

Each test starts from a session fixture (conftest.released_once, candidate, project); the
registry operations on a released copy are in test_registry.py."""

import json

import pytest
from factories import REPO, params_of
from tools import git, registry_state

from reprostack import vectors
from reprostack.core import names
from reprostack.core.errors import RegistryError, ReleaseError
from reprostack.registry import catalog, history, release, tags
from reprostack.runs import records

NAME = params_of(REPO).model_name  # a project made from the template names its model otherwise


def test_release_registers_copies_commits_and_tags(released_once):
    root, first, second = released_once  # read only
    assert (first["version"], second["version"]) == ("v0.1.0", "v0.2.0")  # minor: retrained, same interface
    params = params_of(root)
    data = catalog.read(root, params.registry)
    entry = catalog.require_version(data, NAME, "v0.1.0")
    assert entry["stage"] == params.registry.initial and entry["git"]["tag"] == f"{NAME}@v0.1.0"
    # what the pipeline recorded at the commit the release was made from
    built_from = entry["git"]["commit"]
    assert entry["metrics"] == json.loads(git(root, "show", f"{built_from}:{params.paths.eval}/metrics.json"))
    record = records.read_record(root / params.paths.runs, entry["run_id"])
    pointer = vectors.read_vectors_pointer(root / params.paths.vectors_pointer)
    # the version the run read, resolved through the pointer's content-named tag
    assert entry["vectors"]["tag"] == pointer.tag and entry["vectors"]["version"] == record["vectors"]["version"]
    assert record["vectors"]["version"] == vectors.resolve_version(
        pointer.model_copy(update={"uri": str(root / pointer.uri)})
    )
    assert record["outputs"]["model"]["sha256"] == entry["model"]["sha256"] == first["sha256"]
    assert entry["data"]["snapshot"] == record["data"]["snapshot"] and len(entry["params_sha256"]) == 64
    assert entry["model"]["sha256"] != catalog.require_version(data, NAME, "v0.2.0")["model"]["sha256"]
    store_dir = root / "models" / NAME / "v0.1.0"
    assert sorted(p.name for p in store_dir.iterdir()) == [
        "MODEL_CARD.md",
        "metrics.json",
        "model.json",
        "model.pkl",
        "params.json",
        "report.html",
        "report.json",
    ]
    # cache.type reflink,copy: the store file is the workspace's own copy, never the cache object
    cached = {p.stat().st_ino for p in (root / ".dvc" / "cache").rglob("*") if p.is_file()}
    assert (store_dir / "model.pkl").stat().st_ino not in cached and (store_dir / "model.pkl").stat().st_nlink == 1
    assert "Intended use" in (store_dir / "MODEL_CARD.md").read_text()
    assert (root / "models" / NAME / "v0.1.0.dvc").is_file()
    assert git(root, "cat-file", "-t", f"{NAME}@v0.1.0").strip() == "tag"  # annotated
    # the tag is on the release commit, whose parent built the candidate
    assert git(root, "rev-parse", f"{NAME}@v0.1.0^{{commit}}^").strip() == built_from
    assert git(root, "status", "--porcelain", "--untracked-files=no") == ""
    assert [e["action"] for e in history.read(root)] == ["release", "release"]
    assert tags.gto_show(root)[NAME]["version"] == "v0.2.0"


def test_release_refuses_an_existing_tag_and_small_bumps(candidate):
    root = candidate  # a new candidate after v0.2.0
    before = registry_state(root)
    git(root, "tag", "-a", f"{NAME}@v0.3.0", "-m", "by hand")
    with pytest.raises(ReleaseError, match=f"tag {NAME}@v0.3.0 already exists"):
        release.release(root, NAME)
    git(root, "tag", "-d", f"{NAME}@v0.3.0")
    with pytest.raises(ReleaseError, match="not newer than the latest release v0.2.0"):
        release.release(root, NAME, version="v0.1.5")
    with pytest.raises(ReleaseError, match="needs a minor bump"):
        release.release(root, NAME, bump="patch")
    assert registry_state(root) == before
    assert not (root / "models" / NAME / "v0.3.0").exists()
    assert release.release(root, NAME, bump="major")["version"] == "v1.0.0"


def test_release_refuses_a_stale_pipeline(project):
    root = project  # the real dvc.yaml, nothing built yet
    with pytest.raises(ReleaseError, match="pipeline is not up to date"):
        release.release(root, NAME)
    assert not (root / catalog.REGISTRY_FILE).exists()


def test_names_and_semver_rules():
    for bad in ("../x", "a b", "A", "", "-x", "x/y", "x" * 65, None):
        with pytest.raises(RegistryError):
            names.check_model_name(bad)
    assert names.bump(None, "minor") == "v0.1.0" and names.bump(None, "major") == "v1.0.0"
    assert names.bump("v1.2.3", "patch") == "v1.2.4" and names.bump("v1.2.3", "minor") == "v1.3.0"
    assert names.bump("v1.2.3", "major") == "v2.0.0"
    assert names.parse_ref(f"{NAME}@staging") == (NAME, "staging")
    assert names.parse_ref(f"{NAME}@v1.0.0") == (NAME, "v1.0.0")
    assert sorted(["v1.10.0", "v1.9.0", "v0.2.0"], key=names.version_key) == ["v0.2.0", "v1.9.0", "v1.10.0"]


def test_gto_state_in_process_is_what_the_gto_command_prints(production_once, tmp_path):
    """The registry asks gto.api in process (0.1 s, not a 3-4 s process): it must see exactly what
    `gto show --json` shows a user, on a project with real releases and stage tags."""
    import subprocess
    import sys
    from pathlib import Path

    root = production_once  # read only: two releases, v0.1.0 promoted
    gto = Path(sys.executable).parent / "gto"
    printed = subprocess.run([str(gto), "show", "--json"], cwd=root, capture_output=True, text=True, check=True)
    in_process = tags.gto_show(root)
    assert in_process == json.loads(printed.stdout)
    stages = params_of(root).registry
    assert in_process[NAME]["version"] == "v0.2.0"
    assert (
        in_process[NAME]["stage"][stages.production] == "v0.1.0"
        and in_process[NAME]["stage"][stages.initial] == "v0.2.0"
    )
    with pytest.raises(RegistryError, match="`gto show` failed: .* is not a git repository"):
        tags.gto_show(tmp_path)  # a GTO failure is one registry error, as the process's was
