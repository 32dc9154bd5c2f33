"""Shared fixtures. Builders live in factories.py; expensive builds are made once per session
and copied per test (`clone`), so no test depends on another's order or leftovers."""

from __future__ import annotations

import copy
import os

import pytest
from factories import (
    build_project,
    clone,
    commit_all,
    copy_project,
    ensure_data,
    latest_record,
    make_candidate,
    params_of,
)
from reaper import pytest_configure  # noqa: F401  (servers and clusters die with the run)
from tools import VENV_BIN

ENV = {
    "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DVC_NO_ANALYTICS": "1",
}


@pytest.fixture(scope="session", autouse=True)
def session_env(tmp_path_factory):
    """The git identity, offline switches and a private HOME, for session builds too (they are
    made before any per-test fixture runs). Git stops looking for a repository at the temporary
    root, so a stray .git above it (/tmp/.git) cannot put a test's directory inside one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("session-home")))
        patch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path_factory.getbasetemp()))
        for key, value in ENV.items():
            patch.setenv(key, value)
        patch.delenv("DVC_EXP_NAME", raising=False)
        patch.delenv("REPROSTACK_KILL_AT", raising=False)
        # stage commands run `python`: make it this interpreter's venv
        patch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
        yield


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))


@pytest.fixture
def project(tmp_path):
    """The repository's files in a fresh git repository; nothing built (data generated when the
    project ships none)."""
    root = copy_project(tmp_path / "project")
    if message := ensure_data(root):
        commit_all(root, message)
    return root


@pytest.fixture(scope="session")
def built_once(tmp_path_factory):
    return build_project(tmp_path_factory.mktemp("built") / "project")


@pytest.fixture
def built(built_once, tmp_path):
    """A project whose pipeline has run with the stand-in encoder, outputs committed."""
    return clone(built_once, tmp_path / "built")


@pytest.fixture(scope="session")
def released_once(built_once, tmp_path_factory):
    """Two releases of params' model_name (v0.1.0, v0.2.0, both at the initial stage)."""
    from reprostack.registry import release

    root = clone(built_once, tmp_path_factory.mktemp("released") / "project")
    name = params_of(root).model_name
    first = release.release(root, name)
    make_candidate(root)
    second = release.release(root, name)
    return root, first, second


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

    root = clone(released_once[0], tmp_path_factory.mktemp("production") / "project")
    promotion.promote(root, config.load_params(root / "params.yaml"), params_of(root).model_name, "v0.1.0")
    return root


@pytest.fixture
def run_record(built_once):
    """A run record as the record stage wrote it (a fresh copy per test)."""
    return copy.deepcopy(latest_record(built_once))


@pytest.fixture(scope="session")
def candidate_once(released_once, tmp_path_factory):
    """The released project with a new, committed, not yet released candidate."""
    root = clone(released_once[0], tmp_path_factory.mktemp("candidate") / "project")
    make_candidate(root)
    return root


@pytest.fixture
def candidate(candidate_once, tmp_path):
    return clone(candidate_once, tmp_path / "candidate")


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One SeaweedFS S3 server on loopback for the session (test_store_slow.py), stopped by its
    pid at teardown, also when a test fails. It accepts only the key pair below (so a test can
    try wrong credentials); tests export it as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY."""
    from types import SimpleNamespace

    from reprostack.store import seaweed as weed

    keys = {"AWS_ACCESS_KEY_ID": "reprostack-test", "AWS_SECRET_ACCESS_KEY": "reprostack-secret"}
    proc, endpoint = weed.start(tmp_path_factory.mktemp("seaweedfs"), keys["AWS_ACCESS_KEY_ID"],
                                keys["AWS_SECRET_ACCESS_KEY"])
    try:
        yield SimpleNamespace(endpoint=endpoint, env=keys, pid=proc.pid)
    finally:
        weed.stop(proc)


@pytest.fixture
def seaweed_s3(seaweed):
    """LanceDB storage options for the bucket `vectors` on the session's SeaweedFS server."""
    import boto3

    keys = {"aws_access_key_id": seaweed.env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": seaweed.env["AWS_SECRET_ACCESS_KEY"]}
    client = boto3.client("s3", endpoint_url=seaweed.endpoint, region_name="us-east-1", **keys)
    if "vectors" not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
        client.create_bucket(Bucket="vectors")
    return {"aws_endpoint": seaweed.endpoint, "allow_http": "true", "aws_region": "us-east-1", **keys}
