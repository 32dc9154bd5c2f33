"""Every JSON file we own: a pydantic `Document` with schema_version, validated on read and
before write, migrated on read from older schema versions (as pipx does with its metadata),
written atomically.

Sorted keys and a fixed indent keep git diffs readable; temp file + fsync + replace means a
crash leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from reprostack.core.errors import ReprostackError


class Document(BaseModel):
    """Base of every JSON file we own. Subclasses set SCHEMA_VERSION and, when it grows, override
    `migrate` to turn an older file's dict into the current shape (never reject old files)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, defer_build=True)
    SCHEMA_VERSION: ClassVar[int] = 1
    schema_version: int

    @classmethod
    def migrate(cls, data: dict, found: int) -> dict:
        """Upgrade `data`, written with schema `found` < SCHEMA_VERSION, to the current shape."""
        raise ValueError(f"schema_version {found} is older than {cls.SCHEMA_VERSION} and has no migration")

    def to_json(self) -> dict:
        # warnings off: save() re-validates what this returns and raises on a bad value instead
        return self.model_dump(mode="json", by_alias=True, warnings=False)


D = TypeVar("D", bound=Document)


def explain(exc: ValidationError) -> str:
    """The first problem of a ValidationError as `key.path: message` (one line, no pydantic URL)."""
    err = exc.errors(include_url=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "(top level)"
    return f"{where}: {err['msg']}" + (f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else "")


def parse(data: Any, model: type[D], *, error: type[ReprostackError], where: str) -> D:
    """Validate one decoded JSON value as `model`, migrating older schema versions first."""
    if not isinstance(data, dict):
        raise error(f"{where} must hold a JSON object")
    found = data.get("schema_version")
    if not isinstance(found, int) or isinstance(found, bool) or found > model.SCHEMA_VERSION or found < 1:
        raise error(
            f"{where} has schema_version {found!r}; this reprostack reads 1..{model.SCHEMA_VERSION} "
            "(upgrade reprostack, or restore the file from git)"
        )
    try:
        if found < model.SCHEMA_VERSION:
            data = {**model.migrate(dict(data), found), "schema_version": model.SCHEMA_VERSION}
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{where} is invalid: {explain(exc)}; restore it from git or re-run what writes it") from None
    except ValueError as exc:
        raise error(f"{where} cannot be read: {exc}") from None


def load(path: str | Path, model: type[D], *, error: type[ReprostackError] = ReprostackError, what: str = "file") -> D:
    """Read and validate one of our JSON files; any defect is one `error` line naming the file."""
    path = Path(path)
    return parse(_decode(path, error, what), model, error=error, where=f"{what} {path}")


def save(path: str | Path, doc: Document) -> None:
    """Validate (again: a model may have been mutated) and write atomically."""
    doc = type(doc).model_validate(doc.to_json())
    atomic_write_text(path, dumps(doc.to_json()))


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
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:  # a write error names no file: name the one being written
            if exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(path)) from None
            raise
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
    data = _decode(path, error, what)
    found = data.get("schema_version")
    if found != schema_version:
        raise error(f"{what} {path} has schema_version {found!r}, expected {schema_version}")
    missing = [key for key in required if key not in data]
    if missing:
        raise error(f"{what} {path} lacks {', '.join(missing)}; re-run the stage that writes it")
    return data


def _decode(path: Path, error: type[ReprostackError], what: str) -> dict:
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
    return data
