"""`reprostack runs`: list, show, diff and reproduce pipeline run records."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit, load_params, table


def cmd_runs_list(args: argparse.Namespace) -> int:
    from reprostack.runs import records

    found = records.list_records(load_params(args).paths.runs)
    rows = [{
        "run_id": r["run_id"],
        "commit": (r["code"].get("commit") or "-")[:10] + ("+dirty" if r["code"].get("dirty") else ""),
        "snapshot": r.get("data", {}).get("snapshot"),
        "model": r["params"].get("model", {}).get("name"),
        "accuracy": r["outputs"].get("metrics", {}).get("accuracy"),
        "macro_f1": r["outputs"].get("metrics", {}).get("macro_f1"),
    } for r in found]
    emit(args, rows, lambda r: table(r, ["run_id", "commit", "snapshot", "model", "accuracy", "macro_f1"]))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from reprostack import jsonio
    from reprostack.runs import records

    runs_dir = load_params(args).paths.runs
    record = records.read_record(runs_dir, records.resolve_run_id(runs_dir, args.run_id))
    emit(args, record, lambda r: jsonio.dumps(r).rstrip())
    return 0


RUN_SECTIONS = ("params", "data", "environment", "vectors", "outputs")


def cmd_runs_diff(args: argparse.Namespace) -> int:
    from reprostack import config
    from reprostack.runs import records

    runs_dir = load_params(args).paths.runs
    a, b = (records.read_record(runs_dir, records.resolve_run_id(runs_dir, ref)) for ref in (args.a, args.b))
    changes = {}
    for section in RUN_SECTIONS:
        for key, (old, new) in config.diff(a.get(section) or {}, b.get(section) or {}).items():
            changes[f"{section}.{key}"] = [old, new]
    result = {"a": a["run_id"], "b": b["run_id"], "changes": changes}

    def text(d):
        if not d["changes"]:
            return f"no differences between {d['a']} and {d['b']}"
        rows = [{"key": k, "a": str(v[0]), "b": str(v[1])} for k, v in d["changes"].items()]
        return f"a = {d['a']}\nb = {d['b']}\n" + table(rows, ["key", "a", "b"])

    emit(args, result, text)
    return 0


def cmd_runs_reproduce(args: argparse.Namespace) -> int:
    from reprostack.runs import records, reproduce

    runs_dir = load_params(args).paths.runs
    run_id = records.resolve_run_id(runs_dir, args.run_id)
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

    emit(args, result, text)
    return 0 if result["reproduced"] else 1


def register(sub, common: argparse.ArgumentParser) -> None:
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
