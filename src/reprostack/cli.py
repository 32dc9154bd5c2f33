"""The `reprostack` command: parse, call the library, render.

Library modules never print; this module does. Heavy imports (torch, lancedb, sklearn) happen
inside the handlers, so `reprostack --help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from reprostack import __version__
from reprostack.errors import ReprostackError


def _emit(args: argparse.Namespace, data: Any, text: Callable[[Any], str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str))
    else:
        out = text(data)
        if out:
            print(out)


def _table(rows: list[dict], columns: list[str]) -> str:
    if not rows:
        return "(none)"
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns) for r in rows]
    return "\n".join(lines)


# ---- params -------------------------------------------------------------------------------

def cmd_params_compose(args: argparse.Namespace) -> int:
    from reprostack import config

    changes = config.write_composed(args.conf, args.params, args.overrides)
    _emit(args, {"written": args.params, "changed": changes},
          lambda d: "\n".join([f"{k}: {o!r} -> {n!r}" for k, (o, n) in d["changed"].items()]
                              + [f"wrote {d['written']}"]))
    return 0


def cmd_params_check(args: argparse.Namespace) -> int:
    from reprostack import config

    config.load_params(args.params)
    drift = config.drift(args.conf, args.params)
    _emit(args, {"in_sync": not drift, "drift": drift},
          lambda d: f"{args.params} matches conf/" if d["in_sync"] else "\n".join(
              f"{k}: conf/ has {c!r}, {args.params} has {p!r}" for k, (c, p) in d["drift"].items()))
    if drift:
        print(
            f"error: {args.params} differs from conf/ in {len(drift)} value(s); move the change into "
            "conf/ or run `reprostack params compose` to discard it",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_params_show(args: argparse.Namespace) -> int:
    from reprostack import config

    params = config.load_params(args.params)
    _emit(args, params.raw, lambda d: "\n".join(f"{k} = {v!r}" for k, v in config.flatten(d).items()))
    return 0


# ---- snapshot -----------------------------------------------------------------------------

def _load_params(args: argparse.Namespace):
    """Commands default to the pipeline's own paths and dataset from params.yaml."""
    from reprostack import config

    return config.load_params(args.params)


def cmd_snapshot_create(args: argparse.Namespace) -> int:
    from reprostack import snapshot

    params = _load_params(args)
    snap = snapshot.create(args.source or params.data.raw_dir, params.paths.snapshots,
                           args.dataset or params.data.name, notes=args.notes, label=args.label,
                           link=args.link or params.data.link)
    _emit(args, snap.pointer(), lambda d: f"snapshot {d['dataset']}/{d['version']} at {d['path']}")
    return 0


def cmd_snapshot_list(args: argparse.Namespace) -> int:
    from reprostack import snapshot

    rows = snapshot.list_snapshots(_load_params(args).paths.snapshots)
    shown = [{**r, "labels": ",".join(r["labels"]) or "-"} for r in rows]
    _emit(args, rows, lambda _: _table(shown, ["dataset", "version", "labels", "file_count", "total_size_bytes", "created_utc"]))
    return 0


def _snapshot_dir(args: argparse.Namespace, ref: str | None):
    """A version, a label or a directory; no ref means the pipeline's current snapshot."""
    from reprostack import snapshot

    params = _load_params(args)
    if ref is None:
        return snapshot.read_pointer(params.paths.snapshot_pointer).path
    return snapshot.resolve(params.paths.snapshots, args.dataset or params.data.name, ref)


def cmd_snapshot_show(args: argparse.Namespace) -> int:
    from reprostack import snapshot

    manifest = snapshot.load_manifest(_snapshot_dir(args, args.snapshot))
    _emit(args, manifest, lambda m: "\n".join(
        [f"{m['dataset']}/{m['version']}  digest {m['digest']}  created {m['created_utc']}",
         f"{m['file_count']} files, {m['total_size_bytes']} bytes, from {m['source']}"]
        + [f"  {f['sha256'][:12]}  {f['size_bytes']:>12}  {f['path']}" for f in m["files"]]))
    return 0


def cmd_snapshot_verify(args: argparse.Namespace) -> int:
    from reprostack import snapshot

    path = _snapshot_dir(args, args.snapshot)
    problems = snapshot.verify(path)
    _emit(args, {"snapshot": str(path), "ok": not problems, "problems": problems},
          lambda d: f"{d['snapshot']}: ok" if d["ok"] else "\n".join([f"{d['snapshot']}: FAILED"] + d["problems"]))
    return 0 if not problems else 1


def cmd_snapshot_diff(args: argparse.Namespace) -> int:
    from reprostack import snapshot

    changes = snapshot.diff(_snapshot_dir(args, args.a), _snapshot_dir(args, args.b))
    _emit(args, changes, lambda d: "\n".join(
        [f"{sign} {path}" for key, sign in (("added", "+"), ("removed", "-"), ("changed", "M")) for path in d[key]]
    ) or "no differences")
    return 0


# ---- runs ---------------------------------------------------------------------------------

def cmd_runs_list(args: argparse.Namespace) -> int:
    from reprostack import runs

    records = runs.list_records(_load_params(args).paths.runs)
    rows = [{
        "run_id": r["run_id"],
        "commit": (r["code"].get("commit") or "-")[:10] + ("+dirty" if r["code"].get("dirty") else ""),
        "snapshot": r.get("data", {}).get("snapshot"),
        "model": r["params"].get("model", {}).get("name"),
        "accuracy": r["outputs"].get("metrics", {}).get("accuracy"),
        "macro_f1": r["outputs"].get("metrics", {}).get("macro_f1"),
    } for r in records]
    _emit(args, rows, lambda r: _table(r, ["run_id", "commit", "snapshot", "model", "accuracy", "macro_f1"]))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from reprostack import jsonio, runs

    runs_dir = _load_params(args).paths.runs
    record = runs.read_record(runs_dir, runs.resolve_run_id(runs_dir, args.run_id))
    _emit(args, record, lambda r: jsonio.dumps(r).rstrip())
    return 0


RUN_SECTIONS = ("params", "data", "environment", "vectors", "outputs")


def cmd_runs_diff(args: argparse.Namespace) -> int:
    from reprostack import config, runs

    runs_dir = _load_params(args).paths.runs
    a, b = (runs.read_record(runs_dir, runs.resolve_run_id(runs_dir, ref)) for ref in (args.a, args.b))
    changes = {}
    for section in RUN_SECTIONS:
        for key, (old, new) in config.diff(a.get(section) or {}, b.get(section) or {}).items():
            changes[f"{section}.{key}"] = [old, new]
    result = {"a": a["run_id"], "b": b["run_id"], "changes": changes}

    def text(d):
        if not d["changes"]:
            return f"no differences between {d['a']} and {d['b']}"
        rows = [{"key": k, "a": str(v[0]), "b": str(v[1])} for k, v in d["changes"].items()]
        return f"a = {d['a']}\nb = {d['b']}\n" + _table(rows, ["key", "a", "b"])

    _emit(args, result, text)
    return 0


def cmd_runs_reproduce(args: argparse.Namespace) -> int:
    from reprostack import reproduce, runs

    runs_dir = _load_params(args).paths.runs
    run_id = runs.resolve_run_id(runs_dir, args.run_id)
    if not args.json:
        print(f"re-running {run_id} from its commit in a temporary worktree...", file=sys.stderr)
    result = reproduce.reproduce(".", runs_dir, run_id, allow_dirty=args.allow_dirty, keep=args.keep)

    def text(r):
        head = (f"{r['run_id']}: reproduced (model sha256 {r['model_sha256']['original'][:12]}, identical metrics)"
                if r["reproduced"] else
                f"{r['run_id']}: NOT reproduced; model sha256 {r['model_sha256']['original'][:12]} -> "
                f"{r['model_sha256']['reproduced'][:12]}, metrics {r['metrics']['original']} -> {r['metrics']['reproduced']}")
        lines = [head, f"inputs that differ: {', '.join(r['inputs_differing']) or 'none'}",
                 f"original vector table version: {r['original_vectors']}", f"took {r['seconds']} s"]
        return "\n".join(lines + ([f"worktree kept at {r['worktree']}"] if r["worktree"] else []))

    _emit(args, result, text)
    return 0 if result["reproduced"] else 1


def cmd_verify(args: argparse.Namespace) -> int:
    from reprostack import verify

    report = verify.verify_project(".")

    def text(r):
        lines = []
        for name, section in r.items():
            if not isinstance(section, dict):
                continue
            status = "ok" if not section["problems"] else "FAILED"
            note = f" ({section['note']})" if section.get("note") else ""
            lines.append(f"{name}: {status}, {section['checked']} checked{note}")
            lines += [f"  {p}" for p in section["problems"]]
        return "\n".join(lines)

    _emit(args, report, text)
    return 0 if report["ok"] else 1


# ---- parser -------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reprostack", description="Reproducible ML pipeline tools.")
    parser.add_argument("--version", action="version", version=f"reprostack {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print machine-readable JSON")
    common.add_argument("--traceback", action="store_true", help="show the full stack on errors")
    common.add_argument("--params", default="params.yaml", help="params file (default: params.yaml)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    params = sub.add_parser("params", help="compose and check params.yaml against conf/")
    psub = params.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = psub.add_parser("compose", parents=[common], help="write params.yaml from conf/ (Hydra)")
    p.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. model=random_forest model.n_estimators=50")
    p.add_argument("--conf", default="conf", help="Hydra config directory (default: conf)")
    p.set_defaults(func=cmd_params_compose)
    p = psub.add_parser("check", parents=[common], help="fail if params.yaml differs from conf/")
    p.add_argument("--conf", default="conf", help="Hydra config directory (default: conf)")
    p.set_defaults(func=cmd_params_check)
    p = psub.add_parser("show", parents=[common], help="print the validated params")
    p.set_defaults(func=cmd_params_show)

    snap = sub.add_parser("snapshot", help="immutable data snapshots")
    ssub = snap.add_subparsers(dest="action", metavar="ACTION", required=True)
    snap_common = argparse.ArgumentParser(add_help=False, parents=[common])
    snap_common.add_argument("--dataset", help="dataset name (default: data.name)")
    p = ssub.add_parser("create", parents=[snap_common], help="snapshot a directory (default: data.raw_dir)")
    p.add_argument("--source", help="directory to snapshot (default: data.raw_dir)")
    p.add_argument("--label", help="a human name for this snapshot, e.g. v0.1 (immutable)")
    p.add_argument("--link", choices=["hardlink", "copy"], help="how files enter the snapshot (default: data.link)")
    p.add_argument("--notes", default="", help="free text stored in the manifest")
    p.set_defaults(func=cmd_snapshot_create)
    p = ssub.add_parser("list", parents=[common], help="list snapshots with their labels")
    p.set_defaults(func=cmd_snapshot_list)
    for name, func, text in (("show", cmd_snapshot_show, "print a snapshot's manifest"),
                             ("verify", cmd_snapshot_verify, "re-read and re-hash every file; exit 1 on any change")):
        p = ssub.add_parser(name, parents=[snap_common], help=text)
        p.add_argument("snapshot", nargs="?", help="version, label or directory (default: the pipeline's current one)")
        p.set_defaults(func=func)
    p = ssub.add_parser("diff", parents=[snap_common], help="files added, removed and changed from A to B")
    p.add_argument("a", help="version, label or directory")
    p.add_argument("b", help="version, label or directory")
    p.set_defaults(func=cmd_snapshot_diff)

    run = sub.add_parser("runs", help="pipeline run records in runs/")
    rsub = run.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = rsub.add_parser("list", parents=[common], help="list run records, oldest first")
    p.set_defaults(func=cmd_runs_list)
    p = rsub.add_parser("show", parents=[common], help="print one run record")
    p.add_argument("run_id", help="run id, a unique prefix of one, or 'latest'")
    p.set_defaults(func=cmd_runs_show)
    p = rsub.add_parser("diff", parents=[common], help="params, data, environment and metrics of two runs side by side")
    p.add_argument("a", help="run id, prefix or 'latest'")
    p.add_argument("b", help="run id, prefix or 'latest'")
    p.set_defaults(func=cmd_runs_diff)
    p = rsub.add_parser("reproduce", parents=[common],
                        help="re-run a run from its commit in a temporary worktree and compare outputs bit for bit")
    p.add_argument("run_id", help="run id, prefix or 'latest'")
    p.add_argument("--allow-dirty", action="store_true", help="re-run a run made with uncommitted changes anyway")
    p.add_argument("--keep", action="store_true", help="keep the temporary worktree for inspection")
    p.set_defaults(func=cmd_runs_reproduce)

    p = sub.add_parser("verify", parents=[common],
                       help="check environment vs lock, params vs conf/, every snapshot and model sha256")
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ReprostackError as exc:
        if args.traceback:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
