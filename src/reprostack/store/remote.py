"""The store is the project's default DVC remote, configured the DVC way (`dvc remote add -d`,
`dvc remote modify ... endpointurl`, credentials from AWS_* or `dvc remote modify --local`).

This module reads that configuration with DVC's own Config (not a whole Repo, which is slower),
opens DVC's filesystem for it, and turns a store that is down, refuses the credentials or lacks
its bucket into one line naming the store and the fix.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from reprostack.core import extras
from reprostack.core.errors import StoreError

DEFAULT_NAME = "store"


@dataclass
class Store:
    name: str
    url: str
    endpoint: str | None
    fs: object  # a dvc_objects FileSystem
    path: str  # the remote's root inside fs

    def describe(self) -> str:
        return f"store {self.name!r} ({self.url}" + (f" at {self.endpoint})" if self.endpoint else ")")

    def join(self, *parts: str) -> str:
        return self.fs.join(self.path, *parts)


def _config(root: Path):
    from dvc.config import Config

    return Config(dvc_dir=str(root / ".dvc"))


def find(root: str | Path) -> Store | None:
    """The default DVC remote as a Store, or None when none is configured."""
    from dvc.fs import get_cloud_fs

    config = _config(Path(root))
    name = config["core"].get("remote")
    if not name:
        return None
    section = config["remote"].get(name)
    if section is None:
        raise StoreError(
            f"the default DVC remote {name!r} is not defined; run `dvc remote default --unset` "
            "or `reprostack store init`"
        )
    if urlparse(section["url"]).scheme == "s3":  # else DVC's own message names its own package
        extras.require("s3", f"the store {name!r} ({section['url']})")
    cls, fs_config, path = get_cloud_fs(config, name=name)
    return Store(name, section["url"], section.get("endpointurl"), cls(**fs_config), path)


def section_for(url: str, endpoint: str | None) -> dict:
    """The remote's config section for a URL: a local path made absolute (DVC's config writer
    stores it relative to .dvc/, as `dvc remote add` does)."""
    if "://" not in url:
        url = os.path.abspath(url)
    return {"url": url, **({"endpointurl": endpoint} if endpoint else {})}


def probe(root: str | Path, url: str, endpoint: str | None) -> Store:
    """The Store a URL would configure, opened from an in-memory copy of the configuration:
    nothing is written, so a store that turns out to be down changes nothing."""
    from dvc.fs import get_cloud_fs

    config = _config(Path(root))
    config["remote"][DEFAULT_NAME] = section_for(url, endpoint)
    try:
        cls, fs_config, path = get_cloud_fs(config, name=DEFAULT_NAME)
    except Exception as exc:  # noqa: BLE001 - DVC's own config error, one line
        raise StoreError(f"store {url!r} cannot be configured: {str(exc).splitlines()[0]}") from None
    return Store(DEFAULT_NAME, url, endpoint, cls(**fs_config), path)


def require(root: str | Path) -> Store:
    found = find(root)
    if found is None:
        raise StoreError(
            "no store is configured; run `reprostack store init` (a local directory) or "
            "`reprostack store init s3://<bucket>/<path> --endpoint-url <S3 server URL>` (your team's store)"
        )
    return found


def default_local_path(root: str | Path) -> Path:
    """Outside the repository, so `git clean` never eats it, and named by what every clone of the
    repository shares (the project's name and its root commit), not by the clone's directory:
    two clones on this machine find the same store."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "reprostack" / "stores" / project_key(Path(root).resolve())


def project_key(root: Path) -> str:
    """`<project name>-<root commit, 12 hex>`; outside git (no commit yet) the directory's name."""
    from reprostack.core import git

    found = git.call(root, "rev-list", "--max-parents=0", "HEAD")
    roots = sorted(found.stdout.split()) if found.returncode == 0 else []
    if not roots:
        return root.name
    return f"{_project_name(root)}-{roots[0][:12]}"  # several roots (merged histories): the same one everywhere


def _project_name(root: Path) -> str:
    import re
    import tomllib

    try:
        name = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, KeyError, TypeError, tomllib.TOMLDecodeError):
        name = "project"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)) or "project"


def adopt_default(root: str | Path) -> Path | None:
    """A clone with no store configured, on a machine whose default local store for this project
    exists (another clone made it): configure it here, in .dvc/config.local. Its path, else None."""
    root = Path(root)
    if find(root) is not None:
        return None
    path = default_local_path(root)
    if not path.is_dir():
        return None
    from dvc.config import Config

    config = Config(dvc_dir=str(root / ".dvc"))
    with config.edit("local") as local:  # what `dvc remote add --local -d store PATH` writes
        local["remote"][DEFAULT_NAME] = {"url": str(path)}
        local["core"]["remote"] = DEFAULT_NAME
    return path


def _endpoint_reachable(store: Store, timeout: float = 2.0) -> None:
    if not store.endpoint:
        return
    parsed = urlparse(store.endpoint)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        socket.create_connection((parsed.hostname, port), timeout=timeout).close()
    except OSError as exc:
        raise StoreError(
            f"{store.describe()} is unreachable ({exc.strerror or exc}); start it, or point it at the "
            f"right server with `dvc remote modify {store.name} endpointurl <server URL>`"
        ) from None


def explain(store: Store, exc: BaseException) -> StoreError:
    """One line for a failure talking to the store: what is wrong and the command that fixes it."""
    text = f"{type(exc).__name__}: {exc}"
    if any(
        code in text
        for code in (
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "Forbidden",
            "403",
            "PermissionError",
            "credentials",
        )
    ):
        return StoreError(
            f"{store.describe()} refused the credentials; export AWS_ACCESS_KEY_ID and "
            f"AWS_SECRET_ACCESS_KEY (or `dvc remote modify --local {store.name} access_key_id ...`)"
        )
    if "NoSuchBucket" in text or "bucket does not exist" in text.lower():
        return StoreError(f"{store.describe()}: the bucket does not exist; create it with `reprostack store init`")
    if any(word in text for word in ("Connect", "connect", "Timeout", "timed out", "Connection")):
        return StoreError(
            f"{store.describe()} is unreachable; start it, or point it at the right server with "
            f"`dvc remote modify {store.name} endpointurl <server URL>`"
        )
    return StoreError(f"{store.describe()}: {text.splitlines()[0][:300]}")


def check(store: Store) -> None:
    """Fail fast, before anything is copied, if the store cannot be used."""
    _endpoint_reachable(store)
    try:
        if _is_local(store):
            if not Path(store.path).is_dir():
                raise StoreError(f"{store.describe()} does not exist; create it with `reprostack store init`")
            return
        bucket = store.path.split("/", 1)[0]
        store.fs.fs.ls(bucket, refresh=True)  # s3fs: missing bucket, bad keys and no server all fail here
    except StoreError:
        raise
    except Exception as exc:  # noqa: BLE001 (any transport error becomes one line naming the store)
        raise explain(store, exc) from None


def create(store: Store) -> None:
    """Make the store's directory or bucket; existing ones are fine."""
    _endpoint_reachable(store)
    try:
        if _is_local(store):
            Path(store.path).mkdir(parents=True, exist_ok=True)
            return
        bucket = store.path.split("/", 1)[0]
        if not store.fs.fs.exists(bucket):
            store.fs.fs.mkdir(bucket)  # s3fs: creates the bucket; object stores need no directories
    except Exception as exc:  # noqa: BLE001
        raise explain(store, exc) from None


def _is_local(store: Store) -> bool:
    return "local" in type(store.fs).__name__.lower()
