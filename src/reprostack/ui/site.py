"""The pages of `reprostack ui`: the registry (stages, versions, history), the runs (list, one
run, the diff of any two) and the reports, each a function of the project as it is now.

Pages live in one flat namespace of relative file names (index.html, run-<id>.html,
diff-<a>--<b>.html, release-<model>-<version>.html), so the same links work from the local
server and from a static build opened with file:// (the kedro-viz `build` pattern).
Nothing here writes: pages are strings, and the project is only read.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from reprostack import report
from reprostack.core import config
from reprostack.core.errors import ReprostackError
from reprostack.registry import catalog, history
from reprostack.report import render
from reprostack.report.html import link, num, page, table
from reprostack.runs import diff, records

NAV = (
    '<nav><a href="index.html">Registry</a><a href="history.html">History</a>'
    '<a href="runs.html">Runs</a><a href="diff.html">Compare runs</a></nav>'
)
RUN = re.compile(r"^run-(?P<id>[^/]+)\.html$")
DIFF = re.compile(r"^diff-(?P<a>[^/]+?)--(?P<b>[^/]+)\.html$")
RELEASE = re.compile(r"^release-(?P<model>[^/]+)-(?P<version>v[^/-]+)\.html$")
# the diff form: to the page of the chosen pair (the same file name served or built)
FORM_SCRIPT = "<script>function go(f){location.href='diff-'+f.a.value+'--'+f.b.value+'.html';return false}</script>"


class Site:
    """One project's pages, read on demand."""

    def __init__(self, root: str | Path = ".", params_file: str = config.PARAMS_FILE):
        self.root = Path(root)
        self.params = config.load_params(self.root / params_file)
        self.runs_dir = self.root / self.params.paths.runs

    # ---- what the pages read ----
    def registry(self) -> dict:
        return catalog.read(self.root, self.params.registry)

    def run_ids(self) -> list[str]:
        return sorted(p.stem for p in self.runs_dir.glob("*.json") if records.RUN_ID_RE.match(p.stem))

    def record(self, run_id: str) -> dict:
        return records.with_release(records.read_record(self.runs_dir, run_id), self.registry())

    # ---- the pages ----
    def names(self, all_pairs_up_to: int = 40) -> list[str]:
        """Every page a static build holds; diffs of every pair up to that many runs, else each
        run against the one before it and against the latest."""
        ids = self.run_ids()
        out = ["index.html", "history.html", "runs.html", "diff.html"]
        out += [f"run-{i}.html" for i in ids]
        if len(ids) <= all_pairs_up_to:
            pairs = [(a, b) for n, a in enumerate(ids) for b in ids[n + 1 :]]
        else:
            pairs = list(zip(ids, ids[1:])) + [(a, ids[-1]) for a in ids[:-2]]
        out += [f"diff-{a}--{b}.html" for a, b in pairs]
        out += [f"release-{m['name']}-{v['version']}.html" for m in self.registry()["models"] for v in m["versions"]]
        return out

    def render(self, name: str) -> str:
        """The page called `name`; ReprostackError for one that does not exist."""
        fixed = {
            "index.html": self.index,
            "history.html": self.history,
            "runs.html": self.runs,
            "diff.html": self.chooser,
        }
        if name in fixed:
            return fixed[name]()
        if m := RUN.match(name):
            return self.run(m["id"])
        if m := DIFF.match(name):
            return self.diff(m["a"], m["b"])
        if m := RELEASE.match(name):
            return self.release(m["model"], m["version"])
        raise ReprostackError(f"no page {name!r}")

    def index(self) -> str:
        data, rules = self.registry(), self.params.registry
        parts = []
        for model in data["models"]:
            rows = [
                [
                    link(f"release-{model['name']}-{v['version']}.html", v["version"]),
                    f'<td class="{"ok" if v["stage"] == rules.production else ""}">{escape(v["stage"])}</td>',
                    v["created_at"][:19],
                    num(v["metrics"].get("accuracy"), "accuracy"),
                    num(v["metrics"].get("macro_f1"), "macro_f1"),
                    f'<td class="hash">{escape(v["model"]["sha256"][:16])}</td>',
                    link(f"run-{v['run_id']}.html", v["run_id"]),
                ]
                for v in model["versions"]
            ]
            stages = ", ".join(
                f"{stage}: {', '.join(v['version'] for v in model['versions'] if v['stage'] == stage) or '-'}"
                for stage in rules.stages
            )
            parts.append(f"<h2>{escape(model['name'])}</h2><p>{escape(stages)}</p>")
            parts.append(
                table(["version", "stage", "released (UTC)", "accuracy", "macro_f1", "model sha256", "run"], rows)
            )
        body = "".join(parts) or '<p class="muted">No model released yet: <code>reprostack release</code>.</p>'
        return page("Model registry", body, NAV)

    def history(self) -> str:
        events = history.read(self.root)
        rows = [
            [
                e["time"][:19],
                e["action"],
                e["model"],
                ", ".join(f"{c['version']}: {c.get('from') or '-'} -> {c['to']}" for c in e["changes"]),
                e["reason"] or None,
                e["user"],
            ]
            for e in reversed(events)
        ]
        return page(
            "Registry history (newest first)",
            table(["time (UTC)", "action", "model", "changes", "reason", "by"], rows),
            NAV,
        )

    def runs(self) -> str:
        ids = self.run_ids()
        rows = []
        for n, run_id in enumerate(ids):
            r = self.record(run_id)
            code, metrics = r.get("code") or {}, (r.get("outputs") or {}).get("metrics") or {}
            rows.append(
                [
                    link(f"run-{run_id}.html", run_id),
                    (code.get("commit") or "-")[:10] + ("+dirty" if code.get("dirty") else ""),
                    (r.get("data") or {}).get("snapshot"),
                    (r.get("params") or {}).get("model", {}).get("name"),
                    num(metrics.get("accuracy"), "accuracy"),
                    num(metrics.get("macro_f1"), "macro_f1"),
                    r["outputs"].get("model_version"),
                    link(f"diff-{ids[n - 1]}--{run_id}.html", "vs previous") if n else None,
                ]
            )
        return page(
            "Runs",
            table(["run", "commit", "snapshot", "model", "accuracy", "macro_f1", "released as", "diff"], rows),
            NAV,
        )

    def chooser(self) -> str:
        ids = self.run_ids()
        options = "".join(f'<option value="{escape(i)}">{escape(i)}</option>' for i in reversed(ids))
        form = (
            f'{FORM_SCRIPT}<form onsubmit="return go(this)">a <select name="a">{options}</select> '
            f'b <select name="b">{options}</select> <button>compare</button></form>'
        )
        return page(
            "Compare two runs",
            form + "<p>Or pick a run in the list of runs: each links its diff with the run before it.</p>",
            NAV,
        )

    def run(self, run_id: str) -> str:
        ids = self.run_ids()
        if run_id not in ids:
            raise ReprostackError(f"no run {run_id!r}")
        n = ids.index(run_id)
        record = self.record(run_id)
        previous = records.read_record(self.runs_dir, ids[n - 1]) if n else None
        released = record["outputs"].get("model_version")
        _, text = report.run_report(self.root, self.params, record, previous, released.split(", ") if released else [])
        return _with_nav(text)

    def diff(self, a: str, b: str) -> str:
        found = diff.diff(self.record(a), self.record(b))
        return page(f"Runs {a} and {b}", render.diff_table(found), NAV)

    def release(self, model: str, version: str) -> str:
        data = self.registry()
        catalog.require_version(data, model, version)
        _, text = report.release_report(self.root, self.params, data, history.read(self.root), model, version)
        return _with_nav(text)


def _with_nav(text: str) -> str:
    return text.replace("<body>", f"<body>{NAV}", 1)
