"""`reprostack policy check`: would conf/policy.yaml let a version into a stage? For CI."""

from __future__ import annotations

import argparse

from reprostack.cli._output import emit

EXIT_REFUSED = 3  # distinct from 1 (bad input, unknown version): CI can tell "refused" from "broken"


def cmd_check(args: argparse.Namespace) -> int:
    from reprostack import api

    found = api.check_policy(args.name, args.version, to=args.to, params_file=args.params).to_json()

    def text(r):
        lines = [f"{'ok  ' if c['passed'] else 'FAIL'} {c['rule']}: {c['detail']}" for c in r["rules"]]
        verdict = "allowed" if r["allowed"] else "refused"
        return "\n".join([*lines, f"{r['name']} {r['version']} -> {r['to']}: {verdict} ({len(r['rules'])} rules)"])

    emit(args, found, text)
    return 0 if found["allowed"] else EXIT_REFUSED


def register(sub, common: argparse.ArgumentParser) -> None:
    pol = sub.add_parser("policy", help="the promotion policy (conf/policy.yaml)")
    psub = pol.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = psub.add_parser(
        "check",
        parents=[common],
        help=f"evaluate the policy for a promotion without making it; exit 0 allowed, {EXIT_REFUSED} refused, 1 error",
    )
    p.add_argument("name")
    p.add_argument("version", help="vX.Y.Z")
    p.add_argument("--to", help="target stage (default: registry.production in conf/registry/)")
    p.set_defaults(func=cmd_check)
