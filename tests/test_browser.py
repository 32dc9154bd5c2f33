"""The pages in a real browser (headless Chromium from Debian's package, networking off): the
offline `dvc plots show` page, a release report (green, and red for a tampered model) and the
UI, served and built. Each asserts the charts rendered (svg/canvas), no request left the
machine or failed, no console error or exception; screenshots are kept under
test-artifacts/browser/<test name>/ (REPROSTACK_TEST_ARTIFACTS moves it)."""

import re
import subprocess

import pytest
from browser import ARTIFACTS, Browser, chromium
from factories import clone, params_of
from test_ui import ui_process
from tools import VENV_BIN

from reprostack import api, ui
from reprostack.runs import records

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(chromium() is None, reason="no Chromium here: install Debian's `chromium` package"),
]


@pytest.fixture
def browser():
    found = Browser()
    try:
        yield found
    finally:
        found.close()


def shots(request):
    return ARTIFACTS / "browser" / request.node.name


def clean(found: dict, local=("file://", "http://127.0.0.1")) -> None:
    """Nothing fetched from outside, nothing failed, nothing logged as an error."""
    assert [u for u in found["requests"] if not u.startswith(local) and not u.startswith("data:")] == []
    assert found["failed"] == [] and found["console_errors"] == [] and found["exceptions"] == []


def test_dvc_plots_show_renders_offline(built_once, tmp_path, browser, request):
    root = clone(built_once, tmp_path / "p")
    out = tmp_path / "plots"
    done = subprocess.run(
        [str(VENV_BIN / "dvc"), "plots", "show", "-o", str(out)], cwd=root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    page = (out / "index.html").read_text()
    assert "cdn.jsdelivr" not in page and not re.search(r"<script[^>]+src=", page)
    found = browser.visit((out / "index.html").as_uri(), shots(request) / "dvc-plots-show.png", charts=3)
    clean(found)
    # the confusion matrix, per-class precision and per-class recall, each drawn by vega-embed
    assert found["charts"] >= 3 and found["loaded"]


def test_release_report_renders_and_shows_a_tampered_model(production_once, released, tmp_path, browser, request):
    name = params_of(production_once).model_name
    good = api.report_release(name, "v0.2.0", output=tmp_path / "good.html", root=production_once)
    found = browser.visit(f"file://{good.html}", shots(request) / "release-report.png", charts=5)
    clean(found, local=("file://",))
    # lineage graph, metrics, per-class, two confusion matrices: all inline SVG
    assert found["charts"] >= 5 and "Lineage verified" in found["text"] and "LINEAGE BROKEN" not in found["text"]
    root = released[0]
    model = root / "models" / name / "v0.1.0" / "model.pkl"
    model.chmod(0o644)
    model.write_bytes(b"not the model")
    bad = api.report_release(name, "v0.1.0", output=tmp_path / "bad.html", root=root)
    found = browser.visit(f"file://{bad.html}", shots(request) / "release-report-tampered.png", charts=3)
    clean(found, local=("file://",))
    assert not bad.lineage_ok and "LINEAGE BROKEN" in found["text"] and "Lineage verified" not in found["text"]


def test_ui_served_and_built_renders(production_once, tmp_path, browser, request):
    root = production_once
    name = params_of(root).model_name
    first, second = (r["run_id"] for r in records.list_records(root / params_of(root).paths.runs)[-2:])
    pages = {
        "index.html": 0,
        "runs.html": 0,
        f"run-{second}.html": 2,
        f"diff-{first}--{second}.html": 0,
        f"release-{name}-v0.2.0.html": 5,
    }
    with ui_process(root) as port:
        for page, charts in pages.items():
            found = browser.visit(f"http://127.0.0.1:{port}/{page}", shots(request) / f"served-{page}.png", charts)
            clean(found, local=(f"http://127.0.0.1:{port}/",))
            assert found["charts"] >= charts and found["title"], page
    site = tmp_path / "site"
    ui.build(ui.Site(root), site)
    for page, charts in pages.items():
        found = browser.visit((site / page).as_uri(), shots(request) / f"built-{page}.png", charts)
        clean(found, local=("file://",))
        assert found["charts"] >= charts, page
