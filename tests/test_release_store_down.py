"""`reprostack release` with the shared store down (issue 12, bad input): the release completes
here, one line names the store and the command that pushes later, nothing reaches the store, and
once the store is back that command pushes and a fresh clone pulls and loads the model.

"Down" is an S3 store whose endpoint is a loopback port nothing listens on: the connection is
refused, which DVC's S3 filesystem (botocore) itself reports as an unreachable endpoint. A local
directory has no such state for DVC: `dvc push` creates a missing remote directory (an unmounted
share's mount point would be written into), so it cannot stand for a store that is down.
The server is moto's S3 on loopback (in this process, up in milliseconds, so the test stays fast;
test_store_slow.py covers SeaweedFS), restarted on the same port with its bucket kept, as a real
store that comes back keeps it."""

import re
import shlex
import subprocess

import boto3
import pytest
import yaml
from factories import params_of
from test_store import cli
from tools import free_port, git

KEYS = {
    "AWS_ACCESS_KEY_ID": "reprostack-test",
    "AWS_SECRET_ACCESS_KEY": "reprostack-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
BUCKET = "releases"


class Store:
    """moto's S3 server on one fixed loopback port, stopped and started like a real one."""

    def __init__(self):
        self.port, self.server = free_port(), None
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def up(self):
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()  # moto keeps its buckets in this process: a restart finds them again

    def down(self):
        if self.server is not None:
            self.server.stop()
            self.server = None

    def keys(self) -> list[str]:
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"],
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]


@pytest.fixture
def s3_store(monkeypatch):
    for key, value in KEYS.items():
        monkeypatch.setenv(key, value)
    store = Store()
    try:
        yield store
    finally:
        store.down()


def test_release_with_the_store_down_completes_here_and_pushes_later(candidate, s3_store, tmp_path):
    from reprostack.registry import loader

    root, name = candidate, params_of(candidate).model_name
    s3_store.up()
    made = cli("store", "init", f"s3://{BUCKET}/{name}", "--endpoint-url", s3_store.endpoint, cwd=root)
    assert made.returncode == 0, made.stderr
    git(root, "commit", "-q", "-m", "the team's store", ".dvc/config")
    s3_store.down()

    released = cli("release", cwd=root)
    assert released.returncode == 0, released.stderr  # the release is local work: it continues
    assert "Traceback" not in released.stdout + released.stderr
    version = re.search(rf"^released {name} (v\S+) ", released.stdout).group(1)
    sha256 = loader.load_model(name, version=version, root=root).sha256  # registered, its file there
    assert (root / "models" / name / version / "model.json").is_file()
    assert git(root, "tag", "-l", f"{name}@{version}").strip() == f"{name}@{version}"
    assert git(root, "status", "--porcelain") == ""  # committed, nothing left half-done here
    assert "not pushed" not in released.stdout
    warned = [line for line in released.stderr.splitlines() if "not pushed" in line]
    assert len(warned) == 1, released.stderr
    assert warned[0].startswith(
        f"warning: {name} {version} is released here but not pushed: store 'store' "
        f"(s3://{BUCKET}/{name} at {s3_store.endpoint}) is unreachable"
    )
    command = re.findall(r"`([^`]+)`", warned[0])[-1]
    assert command == "reprostack store push"
    verified = cli("verify", cwd=root)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    s3_store.up()  # the store comes back
    assert s3_store.keys() == []  # nothing was written to it, not even part of the model
    pushed = cli(*shlex.split(command)[1:], cwd=root)
    assert pushed.returncode == 0, pushed.stderr
    dvcfile = yaml.safe_load((root / "models" / name / f"{version}.dvc").read_text())
    md5 = dvcfile["outs"][0]["md5"]
    assert f"{name}/files/md5/{md5[:2]}/{md5[2:]}" in s3_store.keys()  # the model's directory listing

    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(root), str(fresh)], check=True)
    assert not (fresh / "models" / name / version).exists()
    pulled = cli("store", "pull", cwd=fresh)
    assert pulled.returncode == 0, pulled.stderr
    assert loader.load_model(name, version=version, root=fresh).sha256 == sha256
