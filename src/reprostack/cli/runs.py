"""`reprostack runs`: list, show, diff and reproduce pipeline run records."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit, load_params, table


def from_git(record: dict, runs_dir: str, exclude: list[str]) -> str:
    """Whether `runs reproduce` can re-run the record's code from git, and from which commit."""
    from reprostack.runs import commits

    found = commits.find(".", record, exclude, record_path=f"{runs_dir}/{record['run_id']}.json")
    if found.how == "clean":
        return "yes"
    if found.commit:
        return f"yes, {found.commit[:10]}"  # its changes were committed after the run
    if found.how == "commit gone":
        return "no: commit gone"
    return "no: " + ", ".join(found.missing) + " not in git"


def cmd_runs_list(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.runs import records

    found = [record.to_json() for record in api.list_runs(params_file=args.params)]
    runs_dir = load_params(args).paths.runs
    exclude = records.pipeline_outputs(".", runs_dir)
    rows = [
        {
            "run_id": r["run_id"],
            "commit": (r["code"].get("commit") or "-")[:10] + ("+dirty" if r["code"].get("dirty") else ""),
            "snapshot": r.get("data", {}).get("snapshot"),
            "model": r["params"].get("model", {}).get("name"),
            "accuracy": r["outputs"].get("metrics", {}).get("accuracy"),
            "macro_f1": r["outputs"].get("metrics", {}).get("macro_f1"),
            "released": r["outputs"]["model_version"] or "-",
            "from_git": from_git(r, runs_dir, exclude),
        }
        for r in found
    ]
    columns = ["run_id", "commit", "snapshot", "model", "accuracy", "macro_f1", "released", "from_git"]
    emit(args, rows, lambda r: table(r, columns))
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.core import jsonio

    record = api.show_run(args.run_id, params_file=args.params).to_json()
    emit(args, record, lambda r: jsonio.dumps(r).rstrip())
    return 0


def cmd_runs_diff(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.runs.diff import short

    result = api.diff_runs(args.a, args.b, include_same=args.all, params_file=args.params).to_json()

    def text(d):
        head = f"a = {d['a']}\nb = {d['b']}\n"
        if not d["differences"] and not args.all:
            return head + f"no differences ({d['same']} values compared)"
        rows = [
            {
                "section": section,
                "key": row["key"],
                "a": short(row["a"]),
                "b": short(row["b"]),
                "delta": f"{row['delta']:+g}" if "delta" in row else ("=" if row["same"] else ""),
            }
            for section, found in d["sections"].items()
            for row in found
        ]
        tail = f"\n{d['differences']} differences, {d['same']} values the same"
        return head + table(rows, ["section", "key", "a", "b", "delta"]) + tail

    emit(args, result, text)
    return 0


def _text(r: dict) -> str:
    sha = r["model_sha256"]
    if r["verdict"] == "bit-identical":
        lines = [
            f"{r['run_id']}: reproduced (bit-identical): model sha256 {sha['original'][:12]}, identical metrics "
            f"({r['mode']})"
        ]
    else:
        word = "reproduced within tolerance" if r["verdict"] == "within tolerance" else "NOT reproduced"
        vec = r["vectors"]
        machines = r.get("machines_differ_in") or []
        lines = [
            f"{r['run_id']}: {word} ({r['mode']}): model sha256 {(sha['original'] or '?')[:12]} -> "
            f"{sha['reproduced'][:12]}" + (f"; the machines differ in: {'; '.join(machines)}" if machines else ""),
            f"metric deltas: {', '.join(f'{k} {v:+g}' for k, v in r['metric_deltas'].items()) or 'none'}",
            "identical held-out predictions: "
            + (f"{r['identical_predictions']:.2%}" if r["identical_predictions"] is not None else "unknown"),
            "vectors: "
            + (
                "identical"
                if vec["identical"]
                else "different"
                if vec["max_abs_difference"] is None
                else f"largest absolute difference {vec['max_abs_difference']:.3g} over {vec['rows_compared']} rows"
            ),
        ]
        lines += [f"note: {note}" for note in r["notes"] if "the machines differ in" not in note]
    if r.get("commit_found") not in (None, "clean"):
        lines.insert(1, f"re-ran commit {r['commit'][:12]}: {r['commit_found']}")
    envs = r["environment_differences"]
    lines.append("environment differences:" + ("" if envs else " none"))
    lines += [f"  {line}" for line in envs]
    lines.append(f"took {r['seconds']} s")
    if r.get("saved"):
        lines.append(f"verdict kept in {r['saved']} (commit it: reports and conf/policy.yaml's reproduce rule read it)")
    return "\n".join(lines + ([f"worktree kept at {r['worktree']}"] if r["worktree"] else []))


def cmd_runs_reproduce(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.runs import records

    runs_dir = load_params(args).paths.runs
    run_id = records.resolve_run_id(runs_dir, args.run_id)
    mode = "re-embedding too" if args.re_embed else "reading its vector table version"
    print(f"re-running {run_id} from its commit in a temporary worktree, {mode}", file=sys.stderr)
    result = api.reproduce_run(
        run_id,
        re_embed=args.re_embed,
        allow_dirty=args.allow_dirty,
        keep=args.keep,
        progress=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
        params_file=args.params,
    ).to_json()
    emit(args, result, _text)
    return 0 if result["reproduced"] else 1


def register(sub, common: argparse.ArgumentParser) -> None:
    run = sub.add_parser("runs", help="pipeline run records in runs/")
    rsub = run.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = rsub.add_parser("list", parents=[common], help="list run records, oldest first")
    p.set_defaults(func=cmd_runs_list)
    p = rsub.add_parser("show", parents=[common], help="print one run record")
    p.add_argument("run_id", help="run id, a unique prefix of one, or 'latest'")
    p.set_defaults(func=cmd_runs_show)
    p = rsub.add_parser(
        "diff",
        parents=[common],
        help="what differs between two runs: code, data, params, environment, outputs, metrics",
    )
    p.add_argument("a", help="run id, prefix or 'latest'")
    p.add_argument("b", help="run id, prefix or 'latest'")
    p.add_argument("--all", action="store_true", help="show the values that are the same too")
    p.set_defaults(func=cmd_runs_diff)
    p = rsub.add_parser(
        "reproduce",
        parents=[common],
        help="re-run a run from its commit in a temporary worktree and compare its outputs",
    )
    p.add_argument("run_id", help="run id, prefix or 'latest'")
    p.add_argument("--allow-dirty", action="store_true", help="re-run a run made with uncommitted changes anyway")
    p.add_argument(
        "--re-embed",
        action="store_true",
        help="re-embed too (recompute) instead of reading the run's vector table version (exact)",
    )
    p.add_argument("--keep", action="store_true", help="keep the temporary worktree for inspection")
    p.set_defaults(func=cmd_runs_reproduce)
