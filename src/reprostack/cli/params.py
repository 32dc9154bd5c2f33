"""`reprostack params`: compose params.yaml from conf/ and check it for drift."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit


def cmd_params_compose(args: argparse.Namespace) -> int:
    from reprostack.core import config
    from reprostack.model.training import check_classifier

    changes = config.write_composed(args.conf, args.params, args.overrides, check=check_classifier)
    emit(
        args,
        {"written": args.params, "changed": changes},
        lambda d: "\n".join([f"{k}: {o!r} -> {n!r}" for k, (o, n) in d["changed"].items()] + [f"wrote {d['written']}"]),
    )
    return 0


def cmd_params_check(args: argparse.Namespace) -> int:
    from reprostack.core import config

    config.load_params(args.params)
    drift = config.drift(args.conf, args.params)
    emit(
        args,
        {"in_sync": not drift, "drift": drift},
        lambda d: (
            f"{args.params} matches conf/"
            if d["in_sync"]
            else "\n".join(f"{k}: conf/ has {c!r}, {args.params} has {p!r}" for k, (c, p) in d["drift"].items())
        ),
    )
    if drift:
        print(
            f"error: {args.params} differs from conf/ in {len(drift)} value(s); move the change into "
            "conf/ or run `reprostack params compose` to discard it",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_params_show(args: argparse.Namespace) -> int:
    from reprostack.core import config

    params = config.load_params(args.params)
    emit(args, params.raw, lambda d: "\n".join(f"{k} = {v!r}" for k, v in config.flatten(d).items()))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
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
