"""`reprostack report`: a self-contained HTML report (and its JSON sidecar) of a release or a run."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit


def cmd_report(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.core.errors import ReprostackError

    if args.target == "run":
        if not args.version:
            raise ReprostackError("give the run: `reprostack report run <run id|prefix|latest>`")
        result = api.report_run(args.version, output=args.output, params_file=args.params)
    else:
        if not args.version:
            raise ReprostackError(
                f"give the version: `reprostack report {args.target} <version>` "
                "(list them with `reprostack registry list`)"
            )
        result = api.report_release(args.target, args.version, output=args.output, params_file=args.params)
    found = result.to_json()

    def text(r):
        verdict = (
            "written"
            if r["kind"] == "run"
            else "lineage verified"
            if r["lineage_ok"]
            else "LINEAGE BROKEN (see the report)"
        )
        return f"{r['html']} ({r['bytes']:,} bytes, sidecar {r['json']}): {verdict}; took {r['seconds']} s"

    emit(args, found, text)
    if not result.lineage_ok:
        print(f"error: {result.title}: a lineage check failed; the report names it: {result.html}", file=sys.stderr)
        return 1
    return 0


def cmd_plots_template(args: argparse.Namespace) -> int:
    from reprostack.report import plots

    path = plots.write_template(".")
    emit(args, {"path": str(path)}, lambda r: f"wrote {r['path']} (`dvc plots show` renders offline with it)")
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("plots", help="the offline page template of `dvc plots show`")
    psub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = psub.add_parser("template", parents=[common], help="(re)write .dvc/plots/offline.html from vl-convert's bundle")
    t.set_defaults(func=cmd_plots_template)
    p = sub.add_parser(
        "report",
        parents=[common],
        help="write a self-contained HTML report (+ JSON) of a release (<model> <version>) or a run (run <id>)",
    )
    p.add_argument("target", help="a model name, or 'run'")
    p.add_argument("version", nargs="?", help="the model's version, or the run id (prefix, 'latest')")
    p.add_argument("-o", "--output", help="the HTML file to write (default: reports/<model>-<version>.html)")
    p.set_defaults(func=cmd_report)
