"""`reprostack serve`: HTTP service for one registered model; follows promotes and rollbacks."""

from __future__ import annotations

import argparse
import sys


def port_number(text: str) -> int:
    from reprostack.core.errors import ServeError

    port = int(text) if text.isdigit() else -1
    if not 0 <= port <= 65535:
        raise ServeError(f"--port {text} is not a port number; pass one from 1 to 65535 (0: any free port)")
    return port


def bind(host: str, port: int):
    """The listening socket, bound before the model loads, so a taken port fails in a second."""
    import socket

    from reprostack.core.errors import ServeError

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named, not 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose
        # proto says TCP, and with Nagle on, every keep-alive response waited 40 ms for the
        # client's delayed ACK between its header and body segments
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServeError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}; pick another with --port "
            "(or stop what is using it)"
        ) from None
    sock.listen(2048)
    return sock


def announce(app, url: str, ref: str) -> None:
    """While the app runs, `vectors search` and `predict` in this project find it and ask it
    (serving/client.py). Inside the app's lifespan: uvicorn re-raises SIGTERM once it has shut
    down, so code after `server.run` never runs on a plain `kill`."""
    import contextlib

    from reprostack.serving import client

    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_):
        async with inner(app_) as state:
            client.announce(".", url, ref)
            try:
                yield state
            finally:
                client.withdraw(".")

    app.router.lifespan_context = lifespan


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from reprostack.core import config, extras

    extras.require("serve", "reprostack serve")  # before binding: nothing to clean up
    serve = config.load_params(args.params).serve if os.path.exists(args.params) else config.ServeParams()
    sock = bind(args.host, port_number(args.port))
    try:
        import uvicorn

        from reprostack.serving import app as serving_app

        print(f"loading {args.model}...", file=sys.stderr, flush=True)
        app = serving_app.create_app(".", args.model, serve=serve)
        current = app.state.slot.current
        host, port = sock.getsockname()[:2]
        print(
            f"serving {current.name} {current.version} ({current.stage}) on http://{host}:{port} "
            f"(POST /predict, GET /model, /health, /metrics, /v2 KServe; batches of up to {serve.max_batch} texts)",
            file=sys.stderr,
            flush=True,
        )
        shown = f"[{host}]" if ":" in host else ("127.0.0.1" if host in ("0.0.0.0", "") else host)
        announce(app, f"http://{shown}:{port}", args.model)
        server = uvicorn.Server(uvicorn.Config(app, log_level=args.log_level, timeout_graceful_shutdown=30))
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve a registered model over HTTP")
    p.add_argument("--model", required=True, help="name, name@stage or name@vX.Y.Z (default stage: production)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", default="8000", help="port (default: 8000)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level (default: warning)")
    p.set_defaults(func=cmd_serve)
