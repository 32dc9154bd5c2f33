"""Every JSON file we own: schema_version, validated on read, written atomically.

Sorted keys and a fixed indent keep git diffs readable; temp file + fsync + replace means a
crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from reprostack.errors import ReprostackError


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes, *, exclusive: bool = False) -> None:
    """Write via a synced temp file. exclusive: link it into place, so an existing file is
    never replaced (FileExistsError) and two writers cannot clobber each other."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0600; give it the mode any new file would get (umask applies)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_json(
    path: str | Path,
    data: dict,
    *,
    schema_version: int,
    validate: Callable[[dict], None] | None = None,
) -> None:
    data = {**data, "schema_version": schema_version}
    if validate is not None:
        validate(data)
    atomic_write_text(path, dumps(data))


def read_json(
    path: str | Path,
    *,
    schema_version: int,
    required: tuple[str, ...] = (),
    error: type[ReprostackError] = ReprostackError,
    what: str = "file",
) -> dict:
    """Read one of our JSON files; any defect becomes one `error` line naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except UnicodeDecodeError:
        raise error(f"{what} {path} is not UTF-8 text; restore it from git or re-run the stage") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"{what} {path} is not valid JSON (line {exc.lineno}: {exc.msg}); "
            "restore it from git or re-run the stage that writes it"
        ) from None
    if not isinstance(data, dict):
        raise error(f"{what} {path} must hold a JSON object")
    found = data.get("schema_version")
    if found != schema_version:
        raise error(f"{what} {path} has schema_version {found!r}, expected {schema_version}")
    missing = [key for key in required if key not in data]
    if missing:
        raise error(f"{what} {path} lacks {', '.join(missing)}; re-run the stage that writes it")
    return data
