"""Talking to a running `reprostack serve` from the CLI: finding it, and one JSON request.

Standard library only (unlike the rest of serving/), so `vectors search` and `predict` can ask a
warm server in a few milliseconds instead of importing torch and loading the encoder (~6 s).

Discovery: `serve` writes a small file naming its URL, pid and model reference, in the user's
cache (not the project: it is this machine's state), under a name derived from the project's
absolute path; it removes it when it stops. A file whose pid is gone (a killed server) is
ignored and removed by the next reader.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from reprostack.core.errors import ServeError


class Refused(ServeError):
    """The server answered, but cannot take this request (e.g. 409: it holds another encoder)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


def _file(root: str | Path) -> Path:
    from reprostack.model.backends import cache_root

    key = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:24]
    return cache_root() / "serve" / f"{key}.json"


def announce(root: str | Path, url: str, ref: str) -> Path:
    """Say that this process serves `root` at `url` (written atomically)."""
    path = _file(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "ref": ref, "root": str(Path(root).resolve())}))
    os.replace(tmp, path)
    return path


def withdraw(root: str | Path) -> None:
    """Remove the announcement, if it is this process's own (a newer server may have replaced it)."""
    path = _file(root)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def discover(root: str | Path = ".") -> dict | None:
    """{url, pid, ref, root} of a live server of this project, or None."""
    path = _file(root)
    try:
        found = json.loads(path.read_text())
        os.kill(int(found["pid"]), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found


def call(url: str, path: str, body: dict | None = None, timeout: float = 60) -> dict:
    """GET (no body) or POST JSON to url+path; the answer's JSON. Unreachable: ServeError;
    an HTTP error status: Refused with the server's detail."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        url.rstrip("/") + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="GET" if body is None else "POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read().decode("utf-8", "replace")
        try:
            detail = json.loads(text).get("detail", text)
        except ValueError:
            detail = text
        raise Refused(exc.code, f"{url} answered {exc.code}: {str(detail)[:300]}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ServeError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None
