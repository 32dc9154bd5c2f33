"""`reprostack release` and `reprostack predict`."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit


def cmd_release(args: argparse.Namespace) -> int:
    from reprostack import config, names
    from reprostack.registry import release

    name = names.check_model_name(args.name or config.load_params(args.params).model_name)
    if not args.json:
        print("checking the git tree and `dvc status`...", file=sys.stderr)
    result = release.release(".", name, version=args.version, bump=args.bump)
    emit(args, result, lambda r: f"released {r['name']} {r['version']} ({r['stage']}) at {r['path']}, "
                                 f"sha256 {r['sha256'][:12]}; tags {', '.join(r['tags'])}; "
                                 f"`git push --follow-tags` to share it"
                                 + ("; pushed to the store" if r["store"]["pushed"] else f"; not pushed: {r['store']['note']}"))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from reprostack.registry import loader

    model = loader.load_ref(args.model)
    predictions = model.predict(args.texts, loader.text_embedder(model.embedding))
    result = {"model": model.info(), "predictions": predictions}
    emit(args, result, lambda r: "\n".join(
        [f"# {model.name} {model.version} ({model.stage})"]
        + [f"{p['label']}\t{p['scores'][p['label']]:.3f}\t{p['text']}" for p in r["predictions"]]))
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("release", parents=[common],
                       help="copy the candidate into models/<name>/<version>/, register it, commit and tag")
    p.add_argument("name", nargs="?", help="model name (default: model_name in conf/config.yaml)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--version", help="vX.Y.Z (must be newer than the latest release)")
    group.add_argument("--bump", choices=["major", "minor", "patch"],
                       help="default: the smallest bump the change allows (see README, versioning policy)")
    p.set_defaults(func=cmd_release)
    p = sub.add_parser("predict", parents=[common], help="label texts with a registered model")
    p.add_argument("--model", required=True, help="name, name@stage or name@vX.Y.Z (default stage: production)")
    p.add_argument("texts", nargs="+", help="texts to label")
    p.set_defaults(func=cmd_predict)
