"""`reprostack verify`: re-check everything a run used."""

from __future__ import annotations

import argparse

from reprostack.cli._output import emit


def section_lines(name: str, section: dict) -> list[str]:
    status = "ok" if not section["problems"] else "FAILED"
    note = f" ({section['note']})" if section.get("note") else ""
    return [f"{name}: {status}, {section['checked']} checked{note}"] + [f"  {p}" for p in section["problems"]]


def cmd_verify(args: argparse.Namespace) -> int:
    from reprostack import api

    def show(name, check) -> None:  # each section as it finishes: the whole takes seconds
        print("\n".join(section_lines(name, check.to_json())), flush=True)

    report = api.verify(".", fix=args.fix, on_section=None if args.json else show).to_json()

    def text(r):  # the sections are out already; what is left is what --fix removed, and the verdict
        lines = [f"removed {path}" for path in r.get("removed", [])]
        failed = [name for name, section in r.items() if isinstance(section, dict) and section["problems"]]
        return "\n".join(lines + [f"FAILED: {', '.join(failed)}" if failed else "all sections ok"])

    emit(args, report, text)
    return 0 if report["ok"] else 1


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "verify",
        parents=[common],
        help="check environment vs lock, params vs conf/, snapshots, table, models, metrics, "
        "run records; each finding names the command that fixes it",
    )
    p.add_argument(
        "--fix",
        action="store_true",
        help="first repair what can be repaired in place: remove temp files and directories of killed runs, put "
        "back release and stage tags from the registry's history, restore torn vector table files from the "
        "store (else drop their fragments in a new version); not while another process writes to the project",
    )
    p.set_defaults(func=cmd_verify)
