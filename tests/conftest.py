"""Shared fixtures. Builders live in factories.py; expensive builds are made once per test run,
by whichever xdist worker asks first (`shared`), and copied per test (`clone`), so no test
depends on another's order or leftovers."""

from __future__ import annotations

import copy
import os
import pickle
import shutil
from pathlib import Path

import pytest
import reaper
from factories import (
    build_project,
    clone,
    commit_all,
    copy_sources,
    ensure_data,
    latest_record,
    make_candidate,
    pack,
    params_of,
)
from filelock import FileLock
from tools import ENV, VENV_BIN


@pytest.fixture(scope="session", autouse=True)
def session_env(tmp_path_factory):
    """The git identity, offline switches and a private HOME, for session builds too (they are
    made before any per-test fixture runs). Git stops looking for a repository at the temporary
    root, so a stray .git above it (/tmp/.git) cannot put a test's directory inside one."""
    with pytest.MonkeyPatch.context() as patch:
        home = str(tmp_path_factory.mktemp("session-home"))
        patch.setenv("HOME", home)
        patch.setenv("REPROSTACK_SESSION_HOME", home)
        patch.setenv("GIT_CEILING_DIRECTORIES", str(shared_base(tmp_path_factory)))
        for key, value in ENV.items():
            patch.setenv(key, value)
        patch.delenv("DVC_EXP_NAME", raising=False)
        patch.delenv("REPROSTACK_KILL_AT", raising=False)
        # stage commands run `python`: make it this interpreter's venv
        patch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
        yield


XDIST_WORKER = False  # set in pytest_configure


def pytest_configure(config) -> None:
    global XDIST_WORKER
    XDIST_WORKER = hasattr(config, "workerinput")
    reaper.pytest_configure(config)  # servers and clusters die with the run


def shared_base(tmp_path_factory) -> Path:
    """The temporary root every xdist worker of this run shares (the run's own, without xdist).
    A worker is known by its config, never by PYTEST_XDIST_WORKER: a pytest started by a test
    inherits that variable, and its basetemp's parent is every run's (/tmp/pytest-of-USER)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if XDIST_WORKER else base


def shared(tmp_path_factory, name: str, build):
    """build(directory) once per test run, under a file lock in the workers' shared temporary
    root (the pytest-xdist pattern); every worker gets its result. What it builds is a read-only
    base: tests clone it."""
    root = shared_base(tmp_path_factory) / "shared" / name
    result = root / "result.pickle"
    with FileLock(f"{root}.lock"):
        if not result.exists():
            shutil.rmtree(root, ignore_errors=True)  # a build that failed half-way
            root.mkdir(parents=True)
            result.write_bytes(pickle.dumps(build(root)))
    return pickle.loads(result.read_bytes())


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture(scope="session")
def sources_once(tmp_path_factory, session_env):
    """The project's sources in a fresh git repository (factories.copy_sources), once per run."""

    def build(base):
        root = copy_sources(base / "project")
        if message := ensure_data(root):
            commit_all(root, message)
        return pack(root)

    return shared(tmp_path_factory, "sources", build)


@pytest.fixture
def project(sources_once, tmp_path):
    """The project's sources in a fresh git repository, one commit; nothing built (data generated
    when the project ships none)."""
    return clone(sources_once, tmp_path / "project")


@pytest.fixture(scope="session")
def built_once(tmp_path_factory, session_env):
    return shared(tmp_path_factory, "built", lambda root: build_project(root / "project"))


@pytest.fixture
def built(built_once, tmp_path):
    """A project whose pipeline has run with the stand-in encoder, outputs committed."""
    return clone(built_once, tmp_path / "built")


@pytest.fixture(scope="session")
def released_once(built_once, tmp_path_factory):
    """Two releases of params' model_name (v0.1.0, v0.2.0, both at the initial stage)."""
    from reprostack.registry import release

    def build(base):
        root = clone(built_once, base / "project")
        name = params_of(root).model_name
        first = release.release(root, name)
        make_candidate(root)
        second = release.release(root, name)
        return pack(root), first, second

    return shared(tmp_path_factory, "released", build)


@pytest.fixture
def released(released_once, tmp_path):
    """A copy of the released project; (root, first release, second release)."""
    root, first, second = released_once
    return clone(root, tmp_path / "released"), copy.deepcopy(first), copy.deepcopy(second)


@pytest.fixture(scope="session")
def production_once(released_once, tmp_path_factory):
    """The released project with v0.1.0 promoted to production (v0.2.0 still at the initial stage);
    a read-only base: clone it before changing anything."""
    from reprostack.core import config
    from reprostack.registry import promotion

    def build(base):
        root = clone(released_once[0], base / "project")
        promotion.promote(root, config.load_params(root / "params.yaml"), params_of(root).model_name, "v0.1.0")
        return pack(root)

    return shared(tmp_path_factory, "production", build)


@pytest.fixture(scope="session")
def real_repro_once(sources_once, tmp_path_factory):
    """The project's own pipeline run once by `dvc repro` with its configured (real) model, its
    outputs committed: (root, the repro's CompletedProcess). Read only: clone it."""
    import subprocess

    from tools import VENV_BIN

    def build(base):
        root = clone(sources_once, base / "project")
        result = subprocess.run([str(VENV_BIN / "dvc"), "repro"], cwd=root, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        commit_all(root, "first run")
        return pack(root), result

    return shared(tmp_path_factory, "real-repro", build)


@pytest.fixture
def run_record(built_once):
    """A run record as the record stage wrote it (a fresh copy per test)."""
    return copy.deepcopy(latest_record(built_once))


@pytest.fixture(scope="session")
def candidate_once(released_once, tmp_path_factory):
    """The released project with a new, committed, not yet released candidate."""

    def build(base):
        root = clone(released_once[0], base / "project")
        make_candidate(root)
        return pack(root)

    return shared(tmp_path_factory, "candidate", build)


@pytest.fixture
def candidate(candidate_once, tmp_path):
    return clone(candidate_once, tmp_path / "candidate")


# Modules whose tests share the session's Ray instance: under `--dist loadgroup` one xdist worker
# runs them all, so Ray starts once per run (see pytest_xdist_make_scheduler).
RAY_MODULES = ("tests/test_cluster.py::", "tests/test_cluster_migrate.py::", "tests/test_cluster_stage.py::")


@pytest.hookimpl(optionalhook=True)  # xdist's hook: pytest -p no:xdist runs too
def pytest_xdist_make_scheduler(config, log):
    """`--dist loadgroup` with the Ray modules as one group, every other test on its own. Not
    xdist's `xdist_group` marker: xdist 3.8 groups by renaming item._nodeid, which pytest 9 no
    longer reads, so marked tests were spread over the workers."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class RayTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "ray" if nodeid.startswith(RAY_MODULES) else nodeid

    return RayTogether(config, log)


class RaySession:
    """One local Ray instance for the tests of this process: started on first use and kept for
    the session (a start costs ~5 s, more under load), unless a test needs Ray stopped."""

    def __init__(self) -> None:
        self._stack = None
        self.cluster = None

    def start(self):
        if self._stack is None:
            import contextlib

            from reprostack.cluster import session
            from reprostack.core.params import RayParams

            stack = contextlib.ExitStack()
            with pytest.MonkeyPatch.context() as patch:
                # Ray's workers inherit this environment: they import the test modules whose
                # encoders they unpickle, and their HOME stays the session's (Ray reads its token there)
                patch.setenv(
                    "PYTHONPATH", os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
                )
                patch.setenv("HOME", os.environ.get("REPROSTACK_SESSION_HOME", os.environ["HOME"]))
                self.cluster = stack.enter_context(session.connect(RayParams(), threads=2))
            self._stack = stack
        return self.cluster

    def stop(self) -> None:
        if self._stack is not None:
            stack, self._stack, self.cluster = self._stack, None, None
            stack.close()


@pytest.fixture(scope="session")
def ray_session():
    ray = RaySession()
    try:
        yield ray
    finally:
        ray.stop()


@pytest.fixture
def ray_running(ray_session):
    """The session's local Ray instance (a cluster.session.Cluster), started if it is not."""
    return ray_session.start()


@pytest.fixture
def ray_stopped(ray_session):
    """No Ray initialised in this process (a test whose own connect must start or fail)."""
    ray_session.stop()


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One SeaweedFS S3 server on loopback for the session (test_store_slow.py), stopped by its
    pid at teardown, also when a test fails. It accepts only the key pair below (so a test can
    try wrong credentials); tests export it as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
    from types import SimpleNamespace

    from reprostack.store import seaweed as weed

    keys = {"AWS_ACCESS_KEY_ID": "reprostack-test", "AWS_SECRET_ACCESS_KEY": "reprostack-secret"}
    proc, endpoint = weed.start(
        tmp_path_factory.mktemp("seaweedfs"), keys["AWS_ACCESS_KEY_ID"], keys["AWS_SECRET_ACCESS_KEY"]
    )

    def client():
        """A boto3 S3 client with the server's key pair: what the store holds, seen without reprostack."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"],
        )

    try:
        yield SimpleNamespace(endpoint=endpoint, env=keys, pid=proc.pid, client=client)
    finally:
        weed.stop(proc)


@pytest.fixture
def seaweed_s3(seaweed):
    """LanceDB storage options for the bucket `vectors` on the session's SeaweedFS server."""
    keys = {
        "aws_access_key_id": seaweed.env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": seaweed.env["AWS_SECRET_ACCESS_KEY"],
    }
    client = seaweed.client()
    if "vectors" not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
        client.create_bucket(Bucket="vectors")
    return {"aws_endpoint": seaweed.endpoint, "allow_http": "true", "aws_region": "us-east-1", **keys}
