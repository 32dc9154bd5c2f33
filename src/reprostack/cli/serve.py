"""`reprostack serve`: HTTP service for one registered model; follows promotes and rollbacks."""

from __future__ import annotations

import argparse
import sys


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from reprostack.registry import serving

    app = serving.create_app(".", args.model)
    current = app.state.slot.current
    print(f"serving {current.name} {current.version} ({current.stage}) on http://{args.host}:{args.port} "
          "(POST /predict, GET /model, GET /health)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve a registered model over HTTP")
    p.add_argument("--model", required=True, help="name, name@stage or name@vX.Y.Z (default stage: production)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default: warning)")
    p.set_defaults(func=cmd_serve)
