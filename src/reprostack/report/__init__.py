"""Reports: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched) and a
JSON sidecar holding the same facts, for a release (`report <model> <version>`, and the one
`release` writes next to the model) and for a run (`report run <id>`). Offline `dvc plots`
templates are report/plots.py.

This package stands below the registry: callers hand it the registry data and history events
(the release writes its report before the registry shows the release).
"""

from __future__ import annotations

from pathlib import Path

from reprostack.core import config, jsonio
from reprostack.data.hashing import sha256_text
from reprostack.report import facts, render

HTML_FILE = "report.html"
JSON_FILE = "report.json"

__all__ = ["HTML_FILE", "JSON_FILE", "facts", "release_report", "run_report", "write", "write_release_report"]


def release_report(
    root: Path,
    params: config.Params,
    registry: dict,
    events: list[dict],
    name: str,
    version: str,
    pending: bool = False,
    model_file: Path | None = None,
) -> tuple[dict, str]:
    """(facts, HTML) of one registry entry."""
    from reprostack.report import charts

    charts.warm_up()
    found = facts.release_facts(root, params, registry, events, name, version, pending, model_file)
    return found, render.release_page(found)


def run_report(
    root: Path, params: config.Params, record: dict, previous: dict | None, releases: list[str]
) -> tuple[dict, str]:
    found = facts.run_facts(root, params, record, previous, releases)
    return found, render.run_page(found)


def write(html_path: Path, found: dict, page: str) -> dict:
    """report.html and its sidecar (same stem, .json), each written atomically; the sidecar
    first, so a page never exists without its facts. Returns their sha256s."""
    html_path = Path(html_path)
    sidecar = html_path.with_suffix(".json")
    facts_text = jsonio.dumps(found)
    jsonio.atomic_write_text(sidecar, facts_text)
    jsonio.atomic_write_text(html_path, page)
    return {
        "html": str(html_path),
        "json": str(sidecar),
        "sha256": sha256_text(page),
        "json_sha256": sha256_text(facts_text),
    }


def write_release_report(
    root: Path, params: config.Params, registry: dict, events: list[dict], name: str, version: str, folder: Path
) -> dict:
    """The release's own report, written into the store folder being assembled (`folder`, whose
    model file is checked in place of the final path). Returns what the registry records."""
    found, page = release_report(
        root,
        params,
        registry,
        events,
        name,
        version,
        True,
        folder
        / Path(
            next(v for m in registry["models"] if m["name"] == name for v in m["versions"] if v["version"] == version)[
                "model"
            ]["path"]
        ).name,
    )
    written = write(folder / HTML_FILE, found, page)
    return {"path": f"models/{name}/{version}/{HTML_FILE}", "sha256": written["sha256"]}
