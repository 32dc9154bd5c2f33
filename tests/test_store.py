"""The shared store with a local-directory DVC remote (no server): set up, push, pull into a
second clone, a pull killed by kill -9, diverged tables, bad input, verify, temp workspaces.
The S3 (SeaweedFS) side and the full pipeline are in test_store_slow.py."""

import json
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from tools import VENV_BIN, git, run_cli

from reprostack import vectors
from reprostack.core import workspace
from reprostack.core.errors import StoreError, VectorStoreError
from reprostack.store import remote, sync, tables
from reprostack.vectors import lance_table, pointer, update

TEXTS = {f"id{i:03d}": f"text number {i}" for i in range(40)}


def encode(texts):
    return np.stack([np.random.default_rng(int(t.split()[-1].strip("!?"))).normal(size=8) for t in texts]).astype(
        np.float32
    )


def build_table(root: Path, changed: str = "") -> vectors.VectorsPointer:
    """The project's table with stand-in vectors and the pointer the embed stage would write."""
    uri = str(root / "data" / "vectors")
    texts = [t + (changed if i == 0 else "") for i, t in enumerate(TEXTS.values())]
    update.update(uri, "texts", list(TEXTS), texts, ["x", "y"] * 20, "m", "f", True, encode, "s")
    data = lance_table.dataset(uri, "texts")
    rows = pointer.read_column(data, "vector")
    ptr = vectors.VectorsPointer(
        uri="data/vectors",
        table="texts",
        version=data.version,
        tag="",
        rows=len(rows.ids),
        model="m",
        model_fingerprint="f",
        dimension=8,
        vector_column="vector",
        metric="cosine",
        snapshot="s",
        vectors_sha256=lance_table.content_sha256(rows.ids, rows.labels, rows.vectors),
    )
    vectors.write_vectors_pointer(root / "data" / "vectors.json", ptr)
    return ptr


def cli(*args, cwd, env=None):
    """`reprostack ARGS` in process; as its own process when it gets an environment (a kill)."""
    if env is None:
        return run_cli(cwd, *args)
    return subprocess.run(
        [str(VENV_BIN / "reprostack"), *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **env}
    )


def clone(src: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(src), str(dest)], check=True)
    return dest


def readable(root: Path, ptr: vectors.VectorsPointer) -> bool:
    try:
        vectors.read_rows(ptr.model_copy(update={"uri": str(root / ptr.uri)}))
        return True
    except VectorStoreError:  # the pinned version is not (fully) here
        return False


@pytest.fixture
def pushed(project, tmp_path):
    """Clone A with a table at version 2 pushed to a local-directory store; clone B made from it."""
    git(project, "rm", "-q", "--ignore-unmatch", "dvc.yaml", "dvc.lock")  # no pipeline outputs here: the table alone
    first = build_table(project)
    ptr = build_table(project, changed="!")
    assert ptr.version == first.version + 1
    git(project, "add", "-f", "data/vectors.json")
    git(project, "commit", "-q", "-m", "table")
    sync.init(project, str(tmp_path / "store"))
    git(project, "add", ".dvc/config")
    git(project, "commit", "-q", "-m", "store")
    result = sync.push(project)
    return SimpleNamespace(a=project, b=clone(project, tmp_path / "b"), ptr=ptr, first=first, result=result)


def test_default_store_is_local_and_outside_the_repo(project):
    result = cli("store", "init", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    made = json.loads(result.stdout)
    path = Path(made["url"])
    assert made["scope"] == "local" and path.is_dir() and project not in path.parents
    root_commit = git(project, "rev-list", "--max-parents=0", "HEAD").strip()
    assert path == Path(os.environ["HOME"]) / ".local/share/reprostack/stores" / remote.project_key(project)
    assert path.name.endswith(f"-{root_commit[:12]}")  # not the clone's directory name
    assert "store" in (project / ".dvc" / "config.local").read_text()
    assert git(project, "status", "--porcelain") == ""  # this machine's path is not committed


def test_push_then_pull_in_a_fresh_clone(pushed):
    a, b, ptr, first, result = pushed.a, pushed.b, pushed.ptr, pushed.first, pushed.result
    assert result["table"]["files"] > 0 and not readable(b, ptr)
    pulled = cli("store", "pull", "--json", cwd=b)
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout)["table"]["files"] == result["table"]["files"]
    assert readable(b, ptr) and readable(b, first)  # every version, not only the latest
    assert sync.push(a)["table"]["files"] == 0  # nothing new: a sync copies only what is missing
    assert json.loads(cli("store", "pull", "--json", cwd=b).stdout)["table"]["files"] == 0


def test_a_pull_killed_by_kill_9_completes_next_time(pushed):
    b, ptr, result = pushed.b, pushed.ptr, pushed.result
    killed = cli("store", "pull", cwd=b, env={"REPROSTACK_KILL_AT": "store.pull-file"})
    assert killed.returncode == -9
    table = b / "data" / "vectors" / "texts.lance"
    assert 0 < len(tables.local_files(table)) < result["table"]["files"]
    assert not (table / "_versions").exists()  # manifests come last: no version names missing data
    assert list((b / "data" / "vectors").glob(".tmp-pull-*"))  # what the kill left behind
    again = cli("store", "pull", cwd=b)
    assert again.returncode == 0, again.stderr
    assert readable(b, ptr) and not list((b / "data" / "vectors").glob(".tmp-pull-*"))


def test_verify_names_what_is_missing_and_the_command_that_fetches_it(pushed):
    b, ptr = pushed.b, pushed.ptr
    failed = cli("verify", cwd=b)
    assert failed.returncode == 1
    line = f"data/vectors/texts.lance version {ptr.version} is not in this clone; fix: `reprostack store pull`"
    assert line in failed.stdout
    assert cli("store", "pull", cwd=b).returncode == 0
    assert "store: ok" in cli("verify", cwd=b).stdout


def test_diverged_tables_are_refused_by_name(pushed, tmp_path):
    a, result = pushed.a, pushed.result
    other = clone(a, tmp_path / "c")
    (other / "data" / "vectors.json").unlink()
    build_table(other)  # its own version 1 differs from A's (other texts): same number, other content
    build_table(other, changed="?")
    build_table(other, changed="?!")
    with pytest.raises(StoreError, match="has diverged from store 'store'.*version 2 differs.*reprostack store pull"):
        sync.push(other)
    before = tables.remote_files(remote.require(a), tables.remote_dir(remote.require(a), {"table": "texts"}))
    assert len(before) == result["table"]["files"]  # nothing of the diverged table was pushed


def test_no_store_and_missing_store_fail_in_one_line_with_a_fix_that_works(project, tmp_path):
    build_table(project)
    none = cli("store", "push", cwd=project)
    assert none.returncode == 1 and none.stderr.count("\n") == 1
    assert "no store is configured; run `reprostack store init`" in none.stderr
    assert cli("store", "pull", "--if-configured", cwd=project).returncode == 0
    sync.init(project, str(tmp_path / "gone"))
    (tmp_path / "gone").rmdir()
    missing = cli("store", "push", cwd=project)
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1
    assert (
        f"store 'store' ({tmp_path / 'gone'}) does not exist; create it with `reprostack store init`" in missing.stderr
    )
    kept = cli("store", "pull", "--keep-going", cwd=project)
    assert kept.returncode == 0 and "continuing without the store" in kept.stderr
    assert cli("store", "init", cwd=project).returncode == 0  # the advised fix
    assert cli("store", "push", cwd=project).returncode == 0


def test_temporary_experiment_workspace_links_to_the_project(tmp_path):
    project = tmp_path / "proj"
    exp = project / ".dvc" / "tmp" / "exps" / "tmpabc"
    exp.mkdir(parents=True)
    (exp / "params.yaml").write_text("paths: {snapshots: data/snapshots}\nembedding: {uri: data/vectors}\n")
    assert workspace.origin(exp) == project.resolve() and workspace.origin(project) is None
    assert workspace.link_shared(exp) == ["data/snapshots", "data/vectors"]
    assert (exp / "data" / "vectors").resolve() == (project / "data" / "vectors").resolve()
    (exp / "data" / "vectors" / "written").write_text("x")
    assert (project / "data" / "vectors" / "written").exists()
    assert workspace.link_shared(exp) == []  # already linked
    assert workspace.link_shared(project) == []  # the project itself: nothing


@pytest.fixture
def two_clones(released, tmp_path):
    """Clone A with two releases, its default local store made and pushed; clone B, a `git clone`
    of A in a directory of another name, with nothing pulled yet."""
    a, first, _ = released
    made = cli("store", "init", "--json", cwd=a)
    assert made.returncode == 0, made.stderr
    pushed_ = cli("store", "push", cwd=a)
    assert pushed_.returncode == 0, pushed_.stderr
    return SimpleNamespace(a=a, b=clone(a, tmp_path / "b"), first=first, store=Path(json.loads(made.stdout)["url"]))


def test_a_second_clone_on_this_machine_finds_the_default_store(two_clones, tmp_path):
    from reprostack.registry import loader

    a, b, first, path = two_clones.a, two_clones.b, two_clones.first, two_clones.store
    root_commit = git(a, "rev-list", "--max-parents=0", "HEAD").strip()
    assert path.parent == Path(os.environ["HOME"]) / ".local/share/reprostack/stores"
    assert path.name.endswith(f"-{root_commit[:12]}")  # the project's name and its root commit
    assert remote.default_local_path(b) == path  # keyed by the repository, not the clone's directory
    model_dir = b / first["path"]
    assert not model_dir.exists()
    verified = cli("verify", cwd=b)  # no store in B's config yet, but this machine has the project's
    assert f"{first['path']} is not in this clone; fix: `reprostack store pull`" in verified.stdout
    pulled = cli("store", "pull", "--if-configured", cwd=b)  # what `make repro` runs first
    assert pulled.returncode == 0, pulled.stderr
    assert f"store: using this machine's store for the project, {path} (written to .dvc/config.local)" in pulled.stderr
    assert "pulled from store 'store'" in pulled.stdout
    assert str(path) in (b / ".dvc" / "config.local").read_text()
    name = first["name"]
    assert loader.load_model(name, version=first["version"], root=b).sha256 == first["sha256"]  # A's release
    ptr = vectors.read_vectors_pointer(b / "data" / "vectors.json")
    assert readable(b, ptr)  # and the table version B's pointer pins
    assert git(b, "status", "--porcelain") == ""
    # another repository (another root commit) never adopts this project's store
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    (other / "README").write_text("another project\n")
    git(other, "add", "README")
    git(other, "commit", "-q", "-m", "other")
    (other / ".dvc").mkdir()
    (other / ".dvc" / "config").write_text("")
    assert cli("store", "pull", "--if-configured", cwd=other).returncode == 0
    assert not (other / ".dvc" / "config.local").exists()


def test_a_released_model_missing_here_advises_the_command_that_restores_it(two_clones, tmp_path):
    from reprostack.core.errors import ModelNotFoundError
    from reprostack.registry import loader

    b, first = two_clones.b, two_clones.first
    name = first["name"]
    with pytest.raises(ModelNotFoundError) as failed:
        loader.load_model(name, version=first["version"], root=b)
    assert str(failed.value).endswith("is not in this clone; restore it with `reprostack store pull`")
    assert cli("store", "pull", cwd=b).returncode == 0  # the advised command, as printed
    assert loader.load_model(name, version=first["version"], root=b).sha256 == first["sha256"]
    # with no store anywhere, the advice says where the file lives and how to reach it
    shutil.rmtree(two_clones.store)
    lonely = clone(two_clones.a, tmp_path / "c")
    with pytest.raises(
        ModelNotFoundError,
        match=r"is not in this clone; no copy is here .* restore it with "
        r"`reprostack store init <url> && reprostack store pull`, with <url> the store your team pushes to",
    ):
        loader.load_model(name, version=first["version"], root=lonely)


def test_a_pointer_naming_its_version_by_tag_is_missing_until_the_tag_is_here(project):
    """Schema 3 pointers (issue 21) carry the content-named tag, not the local version number."""
    git(project, "rm", "-q", "--ignore-unmatch", "dvc.yaml", "dvc.lock")
    ptr = build_table(project)
    tag = f"snap-s-{ptr.vectors_sha256[:12]}"
    table = project / "data" / "vectors" / "texts.lance"
    vectors.write_vectors_pointer(
        project / "data" / "vectors.json", ptr.model_copy(update={"version": None, "tag": tag})
    )
    assert sync.missing(project) == [(f"data/vectors/texts.lance tag {tag}", False)]
    lance_table.dataset(str(project / "data" / "vectors"), "texts").tags.create(tag, ptr.version)
    assert sync.missing(project) == []
    shutil.rmtree(table / "_versions")  # the tag names a version whose manifest is gone
    assert sync.missing(project) == [(f"data/vectors/texts.lance version {ptr.version}", False)]
