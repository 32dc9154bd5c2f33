"""`reprostack release` and `reprostack predict`."""

from __future__ import annotations

import argparse
import sys

from reprostack.cli._output import emit


def cmd_release(args: argparse.Namespace) -> int:
    from reprostack import api
    from reprostack.core import config, names

    name = names.check_model_name(args.name or config.load_params(args.params).model_name)
    if not args.json:
        print("checking the git tree and `dvc status`...", file=sys.stderr)
    result = api.release(name, version=args.version, bump=args.bump, params_file=args.params).to_json()
    emit(
        args,
        result,
        lambda r: (
            f"released {r['name']} {r['version']} ({r['stage']}) at {r['path']}, "
            f"sha256 {r['sha256'][:12]}; tags {', '.join(r['tags'])}; "
            f"`git push --follow-tags` to share it" + ("; pushed to the store" if r["store"]["pushed"] else "")
        ),
    )
    if not result["store"]["pushed"] and not args.json:  # the release stands; the push is what is left to do
        print(
            f"warning: {name} {result['version']} is released here but not pushed: {result['store']['note']}",
            file=sys.stderr,
        )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from reprostack.core.errors import ServeError

    blank = [i + 1 for i, text in enumerate(args.texts) if not text.strip()]
    if blank:
        raise ServeError(f"text {blank[0]} is empty or whitespace; pass the texts to label as non-blank arguments")
    url = args.url or _served_url(args)
    if url:
        result = _predict_remote(url, args.texts)
        if not args.url and not args.json:
            print(f"(answered by the server at {url})", file=sys.stderr, flush=True)
    else:
        from reprostack import api

        model = api.load_model(args.model, params_file=args.params)
        if not args.json:
            print(
                f"loading {model.name} {model.version} ({model.stage}) and its encoder "
                f"{model.embedding.get('model')}...",
                file=sys.stderr,
                flush=True,
            )
        result = api.predict(args.texts, model).to_json()
    emit(
        args,
        result,
        lambda r: "\n".join(
            [f"# {r['model']['name']} {r['model']['version']} ({r['model']['stage']})"]
            + [
                f"{p['label']}\t{p['scores'][p['label']]:.3f}\t{p['text']}"
                + ("\t(truncated at the encoder's token limit)" if p.get("truncated") else "")
                for p in r["predictions"]
            ]
        ),
    )
    return 0


def _served_url(args: argparse.Namespace) -> str | None:
    """The URL of this project's running server if it serves the very version asked for."""
    from reprostack.core import config, names
    from reprostack.core.errors import ReprostackError
    from reprostack.registry import catalog, loader
    from reprostack.serving import client

    # a server takes up to 256 texts a request (serving/app.py MAX_TEXTS): more are labelled here
    found = None if args.local or len(args.texts) > 256 else client.discover(".")
    if found is None:
        return None
    try:
        name, which = names.parse_ref(args.model or config.load_params(args.params).model_name)
        is_version = bool(which and names.VERSION_RE.match(which))
        entry = loader.select_entry(
            catalog.read("."), name, None if is_version else (which or "production"), which if is_version else None
        )
        served = client.call(found["url"], "/model", timeout=2)
    except ReprostackError:
        return None  # the local path says what is wrong with the reference, or works without the server
    return found["url"] if (served.get("name"), served.get("version")) == (name, entry["version"]) else None


def _predict_remote(url: str, texts: list[str]) -> dict:
    """POST the texts to a running `reprostack serve` instead of loading the model here."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    from reprostack.core.errors import ServeError

    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ServeError(
            f"--url {url!r} is not an http(s) URL of a server; give one like http://127.0.0.1:8080 "
            "(what `reprostack serve` prints), or drop --url to load the model here"
        )
    request = urllib.request.Request(
        url.rstrip("/") + "/predict",
        data=json.dumps({"texts": texts}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300].replace("\n", " ")
        raise ServeError(f"{url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServeError(
            f"cannot reach {url}: {reason}; start it with `reprostack serve --model NAME` "
            "or drop --url to load the model here"
        ) from None


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "release",
        parents=[common],
        help="copy the candidate into models/<name>/<version>/, register it, commit and tag",
    )
    p.add_argument("name", nargs="?", help="model name (default: model_name in conf/config.yaml)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--version", help="vX.Y.Z (must be newer than the latest release)")
    group.add_argument(
        "--bump",
        choices=["major", "minor", "patch"],
        help="default: the smallest bump the change allows (see README, versioning policy)",
    )
    p.set_defaults(func=cmd_release)
    p = sub.add_parser("predict", parents=[common], help="label texts with a registered model")
    p.add_argument("--model", help="name, name@stage or name@vX.Y.Z (default: model_name in params, production)")
    p.add_argument(
        "--url",
        help="send the texts to a running `reprostack serve` at this URL instead of loading here "
        "(default: this project's server, if it serves that version)",
    )
    p.add_argument("--local", action="store_true", help="load the model here even if this project's server runs")
    p.add_argument("texts", nargs="+", help="texts to label")
    p.set_defaults(func=cmd_predict)
