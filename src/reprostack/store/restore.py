"""The one command that restores a released model here, checked to work before it is advised:
`dvc checkout --force` from this clone's DVC cache, `dvc pull --force` from the configured store
when it holds the files, else no command (a finding says the copy is lost, or that a store must
be configured, with `<url>` and what to put there rather than a word that pastes as a value).
A `dvc checkout --force` advised with an empty cache deletes the model with no way back.
"""

from __future__ import annotations

from pathlib import Path

from reprostack.store.remote import check, default_local_path, find


def restore_command(root: str | Path, version_dir: str | Path) -> str | None:
    """The one command that puts a released version's directory (models/<name>/<version>/, tracked
    by <version>.dvc) back as `dvc add` recorded it, whether missing or changed, checked to work
    here: from this clone's DVC cache when it holds every file (--force: DVC refuses to overwrite
    a changed file without it), else from the configured store when it holds them (`dvc pull
    --force`, the same for a file that is missing or changed), else from this machine's store for
    the project, once configured. None: no copy is reachable from here."""
    root = Path(root)
    dvcfile = Path(f"{Path(version_dir).as_posix().rstrip('/')}.dvc").as_posix()
    if _cached(root, root / dvcfile):
        return f"dvc checkout --force {dvcfile}"
    store = find(root)
    if store is None:
        # `store init` with no URL configures this machine's store for the project (another clone's)
        if not default_local_path(root).is_dir():
            return None
        if not (root / version_dir).is_dir():  # missing, not changed: a plain pull restores it (and adopts)
            return "reprostack store pull"
        return f"reprostack store init && dvc pull --force {dvcfile}"
    from reprostack.store import objects

    try:
        check(store)
        if objects.missing(root, store, [dvcfile]):
            return None
    except Exception:  # noqa: BLE001 - a store that is down: it is still where the copy is
        pass
    return f"dvc pull --force {dvcfile}"


def restore_advice(root: str | Path, version_dir: str | Path, lead: str = "fix:") -> str:
    """`<lead> `<command>`` when a command here restores the version; otherwise what is wrong and
    what to do, with no placeholder that could be pasted and run as if it were a value."""
    command = restore_command(root, version_dir)
    if command is not None:
        return f"{lead} `{command}`"
    store = find(root)
    if store is None:
        return (
            f"no copy is here (this clone's DVC cache lacks it) and no store is configured; {lead} "
            "`reprostack store init <url> && reprostack store pull`, with <url> the store your team pushes "
            "to (s3://<bucket>/<path> plus --endpoint-url <server>, or a shared directory)"
        )
    dvcfile = f"{Path(version_dir).as_posix()}.dvc"
    return (
        f"lost here: neither this clone's DVC cache nor {store.describe()} holds it; push it from a clone "
        f"that has it (`reprostack store push` there), then {lead} `dvc pull --force {dvcfile}`"
    )


def _cached(root: Path, dvcfile: Path) -> bool:
    """Whether the DVC cache holds every file of the .dvc file's output (DVC 3's files/md5 layout)."""
    import json

    import yaml

    def obj(md5: str) -> Path:
        return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]

    try:
        md5 = yaml.safe_load(dvcfile.read_text(encoding="utf-8"))["outs"][0]["md5"]
        if not md5.endswith(".dir"):
            return obj(md5).is_file()
        entries = json.loads(obj(md5).read_text(encoding="utf-8"))
        return all(obj(entry["md5"]).is_file() for entry in entries)
    except (OSError, ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return False
