"""`reprostack ui`: the site served read-only on 127.0.0.1 (each page rendered when asked, so it
shows the project as it is now), or built once into a folder that opens from file://.

The server answers GET and HEAD only, binds the loopback address and writes nothing; a page
that fails to render answers 500 with the one-line reason, never a traceback.
"""

from __future__ import annotations

import os
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

from reprostack.core import jsonio
from reprostack.core.errors import ReprostackError
from reprostack.ui.site import Site

HOST = "127.0.0.1"


def make_server(site: Site, port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _page(self) -> tuple[int, bytes]:
            name = unquote(urlparse(self.path).path).lstrip("/") or "index.html"
            try:
                return 200, site.render(name).encode("utf-8")
            except ReprostackError as exc:
                code = 404 if str(exc).startswith("no ") else 500
                return code, f"<!DOCTYPE html><title>{code}</title><p>error: {exc}</p>".encode()

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._answer(*self._page(), body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(*self._page(), body=False)

        def _refuse(self) -> None:
            self._answer(HTTPStatus.METHOD_NOT_ALLOWED, b"read-only", body=True)

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

        def _answer(self, code: int, data: bytes, body: bool) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if body:
                self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # quiet: the CLI prints the address once
            pass

    return ThreadingHTTPServer((HOST, port), Handler)


def build(site: Site, dest: str | Path) -> list[str]:
    """Write every page into dest (created; it must not be inside the project, whose tree the UI
    never changes); return the file names."""
    dest = Path(dest).resolve()
    if dest == site.root.resolve() or site.root.resolve() in dest.parents and not _ignored(site.root, dest):
        raise ReprostackError(
            f"{dest} is inside the project; build the UI elsewhere or under the git-ignored reports/ folder"
        )
    dest.mkdir(parents=True, exist_ok=True)
    names = site.names()
    for name in names:
        jsonio.atomic_write_text(dest / name, site.render(name))
    return names


def _ignored(root: Path, path: Path) -> bool:
    from reprostack.core import git

    rel = os.path.relpath(path, root.resolve())
    return git.ok(root, "check-ignore", "-q", rel)
