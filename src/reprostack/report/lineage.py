"""A release's lineage, each link re-checked when the report is made: data snapshot (its files
re-hashed against the manifest digest) -> vector table version and embedding model (the
vectors re-read and re-hashed) -> code commit and params -> model sha256 (the stored file
re-hashed) -> release tag -> the stages it has held (the history log replayed).

A link is {"id", "label", "value", "detail", "status", "problem"}; status is "ok", "failed",
"new" (made by the release this report is written for: the tag does not exist yet) or
"unchecked" (nothing to check it against). A check that raises is a failed link, never a
crashed report: a tampered project is exactly what the report must show.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from reprostack.core import config, git, jsonio
from reprostack.data.hashing import sha256_file, sha256_text


def _link(id_: str, label: str, value: str | None, detail: str, check: Callable[[], str | None] | None) -> dict:
    """check() returns None (ok) or a problem; it may return "unchecked: why" or "new: why"."""
    status, problem = "unchecked", None
    if check is not None:
        try:
            found = check()
        except Exception as exc:  # noqa: BLE001 (any failure to re-check is a failed link, shown as such)
            found = f"{type(exc).__name__}: {exc}" if not str(exc).startswith(("unchecked:", "new:")) else str(exc)
        if found is None:
            status = "ok"
        elif found.startswith(("unchecked:", "new:")):
            status, problem = found.split(":", 1)[0], found.split(":", 1)[1].strip()
        else:
            status, problem = "failed", found
    return {"id": id_, "label": label, "value": value, "detail": detail, "status": status, "problem": problem}


def _snapshot(root: Path, params: config.Params, data: dict) -> str | None:
    from reprostack.data import manifest

    folder = root / params.paths.snapshots / str(data.get("dataset")) / str(data.get("snapshot"))
    if not (folder / manifest.MANIFEST).exists():
        return f"no snapshot manifest at {folder.relative_to(root)}"
    found = manifest.load(folder)
    if found.digest != data.get("digest"):
        return f"manifest digest {found.digest[:16]} differs from the recorded {str(data.get('digest'))[:16]}"
    problems = manifest.problems(folder, found)
    return "; ".join(problems[:5]) + (f" and {len(problems) - 5} more" if len(problems) > 5 else "") or None


def _table(root: Path, params: config.Params, record: dict | None, entry: dict) -> str | None:
    from reprostack import vectors
    from reprostack.runs import reproduce

    if record is None:
        return "unchecked: no run record to find the table in"
    pointer = reproduce.run_pointer(root, record)
    if pointer is None:
        return "unchecked: the run record has no complete vector pointer"
    if pointer.version != entry["vectors"].get("version") or pointer.vectors_sha256 != entry["vectors"].get("sha256"):
        return "the registry's table version or vectors sha256 differs from the run record's"
    if (entry.get("embedding") or {}).get("model") not in (None, pointer.model):
        return f"embedding model {entry['embedding']['model']} differs from the table's {pointer.model}"
    vectors.read_rows(pointer, params.embedding.storage_options)  # re-read, re-hashed; raises on a difference
    return None


def _params(root: Path, record: dict | None, entry: dict) -> str | None:
    if record is None:
        return f"no run record {entry.get('run_id')}"
    found = sha256_text(jsonio.dumps(record["params"]))
    return None if found == entry.get("params_sha256") else f"the run's params hash to {found[:16]}"


def _commit(root: Path, commit: str) -> str | None:
    return None if git.ok(root, "cat-file", "-e", f"{commit}^{{commit}}") else f"commit {commit[:12]} is not in git"


def _model(root: Path, entry: dict, record: dict | None, model_file: Path | None) -> str | None:
    path = model_file or root / entry["model"]["path"]
    if not path.exists():
        return f"{entry['model']['path']} is missing; restore it with `dvc checkout`"
    found = sha256_file(path)
    if found != entry["model"]["sha256"]:
        return f"{entry['model']['path']} hashes to {found[:16]}, the registry says {entry['model']['sha256'][:16]}"
    produced = ((record or {}).get("outputs") or {}).get("model") or {}
    if produced.get("sha256") not in (None, found):
        return f"the run produced {produced['sha256'][:16]}, not this model"
    return None


def _tag(root: Path, entry: dict, pending: bool) -> str | None:
    tag, commit = entry["git"]["tag"], entry["git"]["commit"]
    target = git.rev_parse(root, f"refs/tags/{tag}^{{commit}}")
    if target is None:
        return f"new: tag {tag} is created by this release" if pending else f"tag {tag} does not exist"
    parent = git.rev_parse(root, f"{target}^")
    return None if parent == commit else f"tag {tag} is on {target[:12]}, whose parent is not {commit[:12]}"


def _stages(entry: dict, held: list[dict]) -> str | None:
    if not held:
        return "unchecked: the history log has no event for this version"
    return (
        None
        if held[-1]["to"] == entry["stage"]
        else f"the history ends in {held[-1]['to']}, the registry says {entry['stage']}"
    )


def release_lineage(
    root: Path,
    params: config.Params,
    entry: dict,
    record: dict | None,
    held: list[dict],
    pending: bool = False,
    model_file: Path | None = None,
) -> list[dict]:
    """The links of one registry entry; `held` is its stage changes from the history log;
    `model_file`: where the model is while its release assembles it (default: its stored path)."""
    data, vec, emb = entry.get("data") or {}, entry.get("vectors") or {}, entry.get("embedding") or {}
    stages = " -> ".join(h["to"] for h in held) or entry["stage"]
    return [
        _link(
            "snapshot",
            f"data snapshot {data.get('dataset')}/{data.get('snapshot')}",
            data.get("digest"),
            "manifest digest; every file re-hashed",
            lambda: _snapshot(root, params, data),
        ),
        _link(
            "table",
            f"table {vec.get('table')} version {vec.get('version')}"
            + (f" (tag {vec['tag']})" if vec.get("tag") else ""),
            vec.get("sha256"),
            f"vectors sha256; embedding model {emb.get('model')} (fingerprint {str(emb.get('fingerprint'))[:16]})",
            lambda: _table(root, params, record, entry),
        ),
        _link(
            "code",
            "code commit",
            entry["git"]["commit"],
            "the commit that built the model",
            lambda: _commit(root, entry["git"]["commit"]),
        ),
        _link(
            "params",
            f"params of run {entry.get('run_id')}",
            entry.get("params_sha256"),
            "sha256 of the run's params",
            lambda: _params(root, record, entry),
        ),
        _link(
            "model",
            f"model {entry['model']['path']}",
            entry["model"]["sha256"],
            "model file sha256",
            lambda: _model(root, entry, record, model_file),
        ),
        _link(
            "tag",
            f"release tag {entry['git']['tag']}",
            entry["git"]["tag"],
            "on a child of the code commit",
            lambda: _tag(root, entry, pending),
        ),
        _link("stages", "stages held", stages, "replayed from the history log", lambda: _stages(entry, held)),
    ] + ([_report_link(root, entry["report"])] if entry.get("report") and not pending else [])


def _report_link(root: Path, report: dict) -> dict:
    def check() -> str | None:
        path = root / report["path"]
        if not path.exists():
            return f"{report['path']} is missing"
        found = sha256_file(path)
        return None if found == report["sha256"] else f"{report['path']} hashes to {found[:16]}"

    return _link("report", "release report", report["sha256"], "the report written at release, re-hashed", check)


def ok(links: list[dict]) -> bool:
    return all(link["status"] in ("ok", "new") for link in links)
