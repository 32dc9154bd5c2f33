"""`reprostack provenance`: prove what a server (or a model version) is made of, link by link."""

from __future__ import annotations

import argparse

from reprostack.cli._output import emit

MARK = {"ok": "ok  ", "broken": "FAIL", "skipped": "--  "}


def cmd_provenance(args: argparse.Namespace) -> int:
    from reprostack import api

    if args.verify:
        if not (args.allowed_signers and args.identity):
            from reprostack.core.errors import ReprostackError

            raise ReprostackError("--verify needs --allowed-signers FILE and --identity NAME")
        said = api.verify_provenance(args.verify, allowed_signers=args.allowed_signers, identity=args.identity)
        emit(args, {"verified": True, "ssh_keygen": said}, lambda _: f"{args.verify}: signature verified ({said})")
        return 0
    if args.sign_key and not args.out:
        from reprostack.core.errors import ReprostackError

        raise ReprostackError("--sign-key signs the statement file: give --out FILE too")
    found = api.provenance(
        args.name, args.version, url=args.url, out=args.out, sign_key=args.sign_key, params_file=args.params
    ).to_json()

    def text(r):
        lines = [f"{MARK[link['status']]} {link['name']}: {link['detail']}" for link in r["links"]]
        if r["verified"]:
            lines.append(f"{r['name']} {r['version']}: provenance verified ({r['seconds']} s)")
        else:
            lines.append(f"{r['name']} {r['version'] or ''}: BROKEN at {r['first_broken']}")
        lines += [f"wrote {p}" for p in (r["written"], r["signature"]) if p]
        return "\n".join(lines)

    emit(args, found, text)
    return 0 if found["verified"] else 1


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "provenance",
        parents=[common],
        help="walk and re-hash what a running server (or a model version) is made of; exit 1 at a broken link",
    )
    p.add_argument("name", nargs="?", help="model name (default: model_name in params.yaml)")
    p.add_argument("version", nargs="?", help="vX.Y.Z (default: what --url serves, else the production version)")
    p.add_argument("--url", help="a running `reprostack serve` (e.g. http://127.0.0.1:8000): check the bytes it loaded")
    p.add_argument("--out", help="write the chain as an in-toto Statement (JSON) to this file")
    p.add_argument("--sign-key", help="sign the statement with this SSH private key (writes <out>.sig)")
    p.add_argument("--verify", metavar="STATEMENT", help="verify a signed statement instead (needs the two below)")
    p.add_argument("--allowed-signers", help="ssh allowed_signers file for --verify")
    p.add_argument("--identity", help="the signer's identity in the allowed_signers file")
    p.set_defaults(func=cmd_provenance)
