"""A rendered project for real (slow): the README's commands in a new, thin project on the
library under test, with non-default answers and the user's own data, then the platform through
the `reprostack` command there: every command group, a release, a promotion, a prediction."""

from __future__ import annotations

import csv
import json
import os
import pickle
import re
import subprocess
import time

import pytest
from factories import REPO
from templating import render_in_process, warm_env
from tools import git

from reprostack.cli import COMMANDS
from reprostack.core import config

# Not one default: another classifier, dataset and column names, model name, embedding model
# spelling and license; no sample data, so the user drops a CSV in.
OWN_DATA = {
    "project_name": "Support Desk",
    "package_name": "desk",
    "model_name": "router",
    "sample_data": "no",
    "dataset_name": "tickets",
    "id_column": "ticket_id",
    "text_column": "body",
    "label_column": "queue",
    "classifier": "random_forest",
    "embedding_model": "all-MiniLM-L6-v2",
    "license": "none",
    "python_version": "3.11",
    "library_extras": "serve",
}


def write_own_data(project) -> None:
    """The sample texts under the user's own column names and ids."""
    shipped = config.load_params(REPO / "params.yaml").data
    with (REPO / shipped.raw_dir / shipped.file).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (project / "data" / "raw" / "texts.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ticket_id", "body", "queue"])
        for row in rows:
            writer.writerow([f"T-{row[shipped.id_column]}", row[shipped.text_column], row[shipped.label_column]])


@pytest.mark.slow
def test_a_thin_project_with_own_data_runs_its_pipeline_its_tests_and_the_platform(tmp_path):
    timings = {}
    project = render_in_process(tmp_path / "out", OWN_DATA)
    venv = warm_env.make_warm_venv(project, tmp_path / "venv")  # reprostack = this checkout's src/
    env = {**os.environ, "PYTHONPATH": ""}

    def run(*command, step=None):
        started = time.monotonic()
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env)
        assert done.returncode == 0, f"{command}:\n" + done.stdout[-6000:] + done.stderr[-3000:]
        if step:
            timings[step] = round(time.monotonic() - started, 1)
        return done

    write_own_data(project)
    forest = project / "conf" / "model" / "random_forest.yaml"  # an option of the classifier it trains
    forest.write_text(re.sub(r"^n_estimators: .*$", "n_estimators: 37", forest.read_text(), count=1, flags=re.M))
    reprostack = str(venv / "bin" / "reprostack")
    run(reprostack, "params", "compose")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our data, our forest")

    repro = run("make", "repro", f"VENV={venv}", step="make repro")
    assert "Running stage 'record'" in repro.stdout and "python -m reprostack.stages.train" in repro.stdout
    (snapshot,) = (project / "data" / "snapshots" / "tickets").iterdir()
    assert [f["path"] for f in json.loads((snapshot / "manifest.json").read_text())["files"]] == ["texts.csv"]
    assert json.loads((project / "eval" / "metrics.json").read_text())["accuracy"] > 0.8
    card = json.loads((project / "models" / "candidate" / "model.json").read_text())
    assert card["classifier"] == "random_forest" and card["options"]["n_estimators"] == 37
    model = pickle.loads((project / "models" / "candidate" / card["file"]).read_bytes())  # made by this test
    assert len(model.estimators_) == 37
    (record,) = (project / "runs").glob("*.json")
    assert json.loads(record.read_text())["params"]["embedding"]["model"] == "all-MiniLM-L6-v2"

    tests = run("make", "test", f"VENV={venv}", step="make test")
    assert re.search(r"\b7 passed\b", tests.stdout) and "skipped" not in tests.stdout, tests.stdout[-2000:]
    git(project, "add", "-A")
    git(project, "commit", "-qm", "first run")

    for group in sorted(COMMANDS):
        helped = run(reprostack, group, "--help")
        assert helped.stdout.startswith(f"usage: reprostack {group}"), group
    released = run(reprostack, "release", step="release")
    assert "v0.1.0" in released.stdout + released.stderr
    run(
        reprostack,
        "registry",
        "promote",
        "router",
        "v0.1.0",
        "--to",
        "production",
        "--reason",
        "first model",
        step="promote",
    )
    predicted = run(
        reprostack,
        "predict",
        "--json",
        "--model",
        "router@production",
        "The striker scored twice in the second half",
        step="predict",
    )
    labels = {row["queue"] for row in csv.DictReader((project / "data" / "raw" / "texts.csv").open(encoding="utf-8"))}
    assert set(re.findall(r'"label": "([^"]+)"', predicted.stdout)) <= labels and '"label"' in predicted.stdout
    print("timings (s):", timings)
