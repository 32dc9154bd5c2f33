"""A rendered project's own pipeline and tests (slow): the README's commands in a new project."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from factories import REPO
from templating import only_project, render, warm_env
from tools import git


# ---- slow: the rendered project's own pipeline and tests ----------------------------------------

# Not one default: another classifier, dataset and column names (in another order), model name,
# embedding model spelling and license; no sample data, so the user drops a CSV in.
OWN_DATA = {"project_name": "Support Desk", "package_name": "desk", "model_name": "router",
            "sample_data": "no", "dataset_name": "tickets", "id_column": "ticket_id", "text_column": "body",
            "label_column": "queue", "classifier": "random_forest", "embedding_model": "all-MiniLM-L6-v2",
            "license": "none", "python_version": "3.11"}


@pytest.mark.slow
def test_a_project_with_other_answers_and_own_data_passes_its_own_make_test_before_and_after_repro(tmp_path):
    """The README's commands in a project rendered with non-default answers, plus a user's CSV
    and their own option for the classifier the project uses: its full `make test` (slow
    included) straight away, `make repro` (which trains with that option), and its full `make
    test` again. Its environment reuses this venv's packages (template/warm_env.py)."""
    import csv
    import pickle

    from reprostack.core import config

    result = render(tmp_path / "out", OWN_DATA)
    assert result.returncode == 0, result.stdout + result.stderr
    project = only_project(tmp_path / "out")
    venv = warm_env.make_warm_venv(project, tmp_path / "venv")
    env = {**os.environ, "PYTHONPATH": ""}

    def run(*command):
        done = subprocess.run(command, cwd=project, capture_output=True, text=True, env=env)
        assert done.returncode == 0, f"{command}:\n" + done.stdout[-6000:] + done.stderr[-3000:]
        return done

    def make_test():
        tests = run("make", "test", f"VENV={venv}")
        assert " passed" in tests.stdout and "deselected" not in tests.stdout  # slow ones included
        assert "no data in data/raw" not in tests.stdout  # the pipeline tests ran, not skipped
        return tests

    # the user's data: the sample texts under their own column names
    shipped = config.load_params(REPO / "params.yaml").data
    with (REPO / shipped.raw_dir / shipped.file).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    with (project / "data" / "raw" / "texts.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["ticket_id", "body", "queue"])
        for row in rows:
            writer.writerow([f"T-{row[shipped.id_column]}", row[shipped.text_column], row[shipped.label_column]])
    # an option of the classifier this project trains (OWN_DATA's), not the shipped default's
    forest = project / "conf" / "model" / f"{OWN_DATA['classifier']}.yaml"
    forest.write_text(re.sub(r"^n_estimators: .*$", "n_estimators: 37", forest.read_text(), count=1, flags=re.M))
    run(str(venv / "bin" / "desk"), "params", "compose")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "our data, our forest")

    make_test()
    repro = run("make", "repro", f"VENV={venv}")
    assert "Running stage 'record'" in repro.stdout and "python -m desk.stages.train" in repro.stdout
    (snapshot,) = (project / "data" / "snapshots" / "tickets").iterdir()
    assert [f["path"] for f in json.loads((snapshot / "manifest.json").read_text())["files"]] == ["texts.csv"]
    assert json.loads((project / "eval" / "metrics.json").read_text())["accuracy"] > 0.8
    card = json.loads((project / "models" / "candidate" / "model.json").read_text())
    assert card["classifier"] == "random_forest" and card["options"]["n_estimators"] == 37
    model = pickle.loads((project / "models" / "candidate" / card["file"]).read_bytes())  # made by this test
    assert len(model.estimators_) == 37  # the option reached the classifier trained, not only the card
    assert len(list((project / "runs").glob("*.json"))) == 1
    again = run("make", "repro", f"VENV={venv}").stdout  # only compose, which always runs, re-runs
    assert re.findall(r"Running stage '(\w+)'", again) == ["compose"] and "didn't change, skipping" in again
    git(project, "add", "-A")
    git(project, "commit", "-qm", "first run")
    # the full suite again, now beside the dvc.lock, run record and model the repro made
    make_test()
