"""`reprostack registry`: list, show, history, promote, demote, rollback."""

from __future__ import annotations

import argparse

from reprostack.cli._output import emit, load_params, table


def _versions_rows(model: dict) -> list[dict]:
    return [
        {
            "version": v["version"],
            "stage": v["stage"],
            "created_at": v["created_at"][:19],
            "sha256": v["model"]["sha256"][:12],
            "accuracy": v["metrics"].get("accuracy"),
            "macro_f1": v["metrics"].get("macro_f1"),
            "snapshot": v["data"].get("snapshot"),
            "run_id": v["run_id"],
        }
        for v in model["versions"]
    ]


def cmd_list(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.core import names

    params = load_params(args)
    data = api.show_registry(params_file=args.params).to_json()
    rows = []
    for model in data["models"]:
        by_stage = {
            stage: [v["version"] for v in model["versions"] if v["stage"] == stage] for stage in params.registry.stages
        }
        latest = max((v["version"] for v in model["versions"]), key=names.version_key, default="-")
        rows.append(
            {
                "name": model["name"],
                "versions": len(model["versions"]),
                "latest": latest,
                **{
                    stage: ",".join(vs[-3:]) or "-"
                    for stage, vs in by_stage.items()
                    if stage != params.registry.replaced_to
                },
            }
        )
    columns = ["name", "versions", "latest", *[s for s in params.registry.stages if s != params.registry.replaced_to]]
    emit(args, rows, lambda r: table(r, columns))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.registry import catalog

    model = catalog.require_model(api.show_registry(params_file=args.params).to_json(), args.name)
    if args.version:
        entry = catalog.require_version({"models": [model]}, args.name, args.version)
        emit(args, entry, lambda e: "\n".join(f"{k}: {v}" for k, v in sorted(e.items())))
        return 0
    emit(
        args,
        model,
        lambda m: table(
            _versions_rows(m),
            ["version", "stage", "created_at", "sha256", "accuracy", "macro_f1", "snapshot", "run_id"],
        ),
    )
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from reprostack.core import names
    from reprostack.registry import history

    if args.name:
        names.check_model_name(args.name)
    entries = history.read(".", args.name)
    if args.name and not entries:
        from reprostack.registry import catalog

        catalog.require_model(catalog.read("."), args.name)  # an unknown name is an error, not "(none)"
    rows = [
        {
            "time": e["time"][:19],
            "user": e["user"],
            "action": e["action"],
            "model": e["model"],
            "changes": "; ".join(f"{c['version']} {c['from'] or 'new'} -> {c['to']}" for c in e["changes"]),
            "reason": e["reason"]
            + (f" [policy overridden: {e['policy_override']}]" if e.get("policy_override") else ""),
        }
        for e in entries
    ]
    emit(args, entries, lambda _: table(rows, ["time", "user", "action", "model", "changes", "reason"]))
    return 0


def _render_event(event: dict) -> str:
    changes = ", ".join(f"{c['version']}: {c['from'] or 'new'} -> {c['to']}" for c in event["changes"])
    return (
        f"{event['action']} {event['model']}: {changes}"
        + (f" (reason: {event['reason']})" if event["reason"] else "")
        + (f"\npolicy overridden: {event['policy_override']}" if event.get("policy_override") else "")
    )


def cmd_promote(args: argparse.Namespace) -> int:
    from reprostack import api

    event = api.promote(
        args.name, args.version, to=args.to, reason=args.reason, override=args.override, params_file=args.params
    ).to_json()
    emit(args, event, _render_event)
    return 0


def cmd_demote(args: argparse.Namespace) -> int:
    from reprostack import api

    event = api.demote(args.name, args.version, to=args.to, reason=args.reason, params_file=args.params).to_json()
    emit(args, event, _render_event)
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from reprostack import api

    if args.dry_run:
        found = api.rollback_drill(args.name, params_file=args.params).to_json()

        def text(r):
            lines = [f"{'ok  ' if c['passed'] else 'FAIL'} {c['check']}: {c['detail']}" for c in r["checks"]]
            lines += [f"     {a['label']} <- {a['text'][:60]!r}" for a in r["answers"]]
            verdict = "can be served now" if r["ok"] else "can NOT be served now"
            lines.append(
                f"rollback drill: {r['name']} {r['target']} (now {r['current'] or 'none'} in production) "
                f"{verdict}; nothing switched"
            )
            return "\n".join(lines)

        emit(args, found, text)
        return 0 if found["ok"] else 1

    event = api.rollback(args.name, reason=args.reason, params_file=args.params).to_json()
    emit(args, event, _render_event)
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    reg = sub.add_parser("registry", help="released models and their stages (models/registry.json)")
    rsub = reg.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = rsub.add_parser("list", parents=[common], help="every model with its latest and staged versions")
    p.set_defaults(func=cmd_list)
    p = rsub.add_parser("show", parents=[common], help="one model's versions, or one version in full")
    p.add_argument("name")
    p.add_argument("version", nargs="?", help="vX.Y.Z: show everything recorded about it")
    p.set_defaults(func=cmd_show)
    p = rsub.add_parser("history", parents=[common], help="every stage change with time, user and reason")
    p.add_argument("name", nargs="?", help="only this model")
    p.set_defaults(func=cmd_history)
    for name, func, text, default in (
        (
            "promote",
            cmd_promote,
            "move a released version up (default: to production; the old one is archived)",
            "registry.production",
        ),
        ("demote", cmd_demote, "move a version down (default: to archived)", "registry.replaced_to"),
    ):
        p = rsub.add_parser(name, parents=[common], help=text)
        p.add_argument("name")
        p.add_argument("version", help="vX.Y.Z")
        p.add_argument("--to", help=f"target stage (default: {default} in conf/registry/)")
        p.add_argument("--reason", default="", help="why; kept in the history log and the commit message")
        if name == "promote":
            p.add_argument(
                "--override",
                metavar="REASON",
                help="promote although conf/policy.yaml refuses it (the reason and failed rules go to the history)",
            )
        p.set_defaults(func=func)
    p = rsub.add_parser("rollback", parents=[common], help="put the previous production version back in production")
    p.add_argument("name")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="a drill: check the version it would put back can be served now (files, table, encoder, "
        "dimensions, known requests), switching nothing",
    )
    p.add_argument("--reason", default="", help="why; kept in the history log and the commit message")
    p.set_defaults(func=cmd_rollback)
