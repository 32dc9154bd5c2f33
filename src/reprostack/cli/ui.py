"""`reprostack ui`: the registry, runs and reports in a browser, read-only (served on 127.0.0.1,
or built into a folder with --build)."""

from __future__ import annotations

import argparse
import sys


def cmd_ui(args: argparse.Namespace) -> int:
    from reprostack import ui

    site = ui.Site(".", args.params)
    if args.build:
        names = ui.build(site, args.build)
        print(f"wrote {len(names)} pages to {args.build}; open {args.build}/index.html")
        return 0
    server = ui.make_server(site, args.port)
    print(f"serving the project read-only at http://{ui.HOST}:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ui", parents=[common], help="a read-only web view of the registry, runs and reports")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free port)")
    p.add_argument("--build", metavar="DIR", help="write the pages into DIR instead (they open from file://)")
    p.set_defaults(func=cmd_ui)
