"""`runs diff`: what differs between two run records and only that, by section, as a table or
--json, from one library function (runs/diff.py) that the report and the UI use too."""

import copy
import json

from factories import params_of

from reprostack import api
from reprostack.cli import main
from reprostack.runs import diff, records


def test_diff_finds_each_section_and_only_differences(run_record):
    a = run_record
    b = copy.deepcopy(a)
    b["run_id"], b["created_utc"] = "20991231T000000000000Z-abcdef", "2099-12-31T00:00:00Z"  # never shown
    b["code"]["commit"] = "f" * 40
    b["data"]["snapshot"] = "0123456789ab"
    b["params"]["seed"] = a["params"]["seed"] + 1
    b["environment"]["python"] = "3.99.0"
    b["outputs"]["model"]["sha256"] = "e" * 64
    b["outputs"]["metrics"]["accuracy"] = a["outputs"]["metrics"]["accuracy"] + 0.25
    b["something_new"] = {"added": "by a later schema"}  # read defensively: lands in "other"
    found = diff.diff(a, b)
    keys = {section: [row["key"] for row in rows] for section, rows in found["sections"].items()}
    assert keys == {
        "code": ["code.commit"],
        "data": ["data.snapshot"],
        "params": ["params.seed"],
        "environment": ["environment.python"],
        "outputs": ["outputs.model.sha256"],
        "metrics": ["outputs.metrics.accuracy"],
        "other": ["something_new.added"],
    }
    assert found["differences"] == 7 and found["same"] > 20
    (acc,) = found["sections"]["metrics"]
    assert acc["delta"] == round(b["outputs"]["metrics"]["accuracy"] - a["outputs"]["metrics"]["accuracy"], 12)
    assert diff.diff(a, copy.deepcopy(a))["sections"] == {}
    every = diff.diff(a, b, include_same=True)
    assert sum(len(rows) for rows in every["sections"].values()) == every["differences"] + every["same"]


def test_runs_diff_cli_table_and_json(released_once, capsys, monkeypatch):
    root = released_once[0]  # read only: two runs (the second with another seed)
    monkeypatch.chdir(root)
    first, second = (r["run_id"] for r in records.list_records(root / params_of(root).paths.runs)[-2:])
    assert main(["runs", "diff", first, second, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found == api.diff_runs(first, second, root=root).to_json()
    params_rows = {row["key"]: row for row in found["sections"]["params"]}
    assert params_rows["params.seed"]["delta"] == 1 and all(not row["same"] for row in params_rows.values())
    assert "code" in found["sections"]  # the second run was made from a later commit
    assert main(["runs", "diff", first, second]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("section"))
    rows = lines[lines.index(header) + 1 : -1]
    assert len(rows) == found["differences"]
    starts = [header.index(col) for col in ("key", " a ", " b ", "delta")]
    assert all(len(row) >= starts[1] for row in rows)  # aligned columns
    assert any(row.startswith("params") and "params.seed" in row and "+1" in row for row in rows)
    assert main(["runs", "diff", first, first]) == 0
    assert "no differences" in capsys.readouterr().out
    assert main(["runs", "diff", first, "nope"]) != 0
    assert capsys.readouterr().err.startswith("error: no run 'nope'")
