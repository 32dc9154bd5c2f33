"""The dataset in data/raw: the columns conf/data/ names, unique ids, texts, two labels or more,
and the data hook (src/{{ cookiecutter.package_name }}/data.py) returning a table the pipeline accepts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from reprostack import api

ROOT = Path(__file__).resolve().parents[1]
DATA = api.load_params(ROOT).data
RAW = ROOT / DATA.raw_dir / DATA.file
COLUMNS = (DATA.id_column, DATA.text_column, DATA.label_column)


@pytest.fixture(scope="module")
def table() -> tuple[list[str], list[dict]]:
    if not RAW.is_file():
        pytest.skip(
            f"no data yet: put a UTF-8 CSV with the columns {', '.join(COLUMNS)} at "
            f"{RAW.relative_to(ROOT)} (see conf/data/)"
        )
    with RAW.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_the_csv_has_the_configured_columns(table):
    header, _ = table
    assert [c for c in COLUMNS if c not in header] == [], f"{RAW.name} lacks columns; its header is {header}"


def test_ids_are_unique_and_texts_not_empty(table):
    _, rows = table
    ids = [row[DATA.id_column].strip() for row in rows]
    assert rows and len(set(ids)) == len(ids) and all(ids)
    assert all(row[DATA.text_column].strip() for row in rows)


def test_there_are_at_least_two_labels(table):
    _, rows = table
    assert len({row[DATA.label_column].strip() for row in rows}) >= 2


def test_the_data_hook_returns_a_table_the_pipeline_accepts(table):
    """What the snapshot and embed stages do: read the CSV, then call data.preprocess on it."""
    processed = api.read_dataset(ROOT)  # an unimportable hook or a bad result: one line naming the fix
    assert 0 < len(processed) <= len(table[1])
