"""`reprostack ui`: the registry, runs, diffs and reports as pages, served read-only on
127.0.0.1 (GET and HEAD only; the project tree is byte-for-byte the same afterwards) or built
into a folder whose links all resolve from file://."""

import contextlib
import hashlib
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
from factories import params_of
from tools import VENV_BIN, free_port, request, stop_session

from reprostack import ui
from reprostack.runs import records


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under root (.git and .dvc included), and every directory's listing."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found[folder] = "dir:" + ",".join(sorted(dirs + files))
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@contextlib.contextmanager
def ui_process(root: Path, timeout: float = 60):
    """`reprostack ui --port P` in its own session; yields P once / answers; stopped by pid."""
    port = free_port()
    proc = subprocess.Popen(
        [str(VENV_BIN / "reprostack"), "ui", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            assert proc.poll() is None, proc.stdout.read().decode()
            with contextlib.suppress(OSError):
                if request(port, "/")[0] == 200:
                    break
            assert time.monotonic() < deadline, "ui did not answer"
            time.sleep(0.1)
        yield port
    finally:
        stop_session(proc)


def links(page: str) -> set[str]:
    return {h for h in re.findall(r'href="([^"#?]+)"', page) if ":" not in h}  # not data:, http://


@pytest.mark.slow
def test_ui_serves_every_page_and_writes_nothing(production_once, tmp_path):
    root = production_once  # read only, and this test proves the UI keeps it so
    before = tree_digest(root)
    name = params_of(root).model_name
    run_ids = [r["run_id"] for r in records.list_records(root / params_of(root).paths.runs)]
    with ui_process(root) as port:
        status, body, headers = request(port, "/")
        page = body.decode()
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert f"release-{name}-v0.1.0.html" in page and "production" in page
        seen, todo = set(), {"index.html"}
        while todo:  # every page reachable by a link answers 200
            current = todo.pop()
            seen.add(current)
            status, body, _ = request(port, f"/{current}")
            assert status == 200, (current, body[:300])
            todo |= links(body.decode()) - seen
        assert {f"run-{i}.html" for i in run_ids} <= seen and f"diff-{run_ids[0]}--{run_ids[1]}.html" in seen
        assert {"history.html", "runs.html", "diff.html", f"release-{name}-v0.2.0.html"} <= seen
        status, body, _ = request(port, f"/diff-{run_ids[1]}--{run_ids[0]}.html")  # any pair, either order
        assert status == 200 and "params.seed" in body.decode()
        assert request(port, "/no-such-page.html")[0] == 404
        assert request(port, "/index.html", raw=b"x")[0] == 405  # POST: read-only
    assert tree_digest(root) == before


def test_ui_build_writes_pages_whose_links_resolve(production_once, tmp_path):
    root = production_once
    site = ui.Site(root)
    names = ui.build(site, tmp_path / "site")
    files = {p.name for p in (tmp_path / "site").iterdir()}
    assert set(names) == files and "index.html" in files
    for name in names:
        assert links((tmp_path / "site" / name).read_text()) <= files, name
    with pytest.raises(Exception, match="inside the project"):
        ui.build(site, root / "site")
