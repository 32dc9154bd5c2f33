"""Reading the labelled text table, with one clear error per defect."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from reprostack.core.errors import DataError

# Python's csv refuses fields over 128 KiB with a bare `_csv.Error`; texts this long are legal
# input (the encoder truncates them to its token limit), so allow fields up to 16 MiB and make
# anything larger one clear line.
MAX_FIELD = 16 << 20
csv.field_size_limit(MAX_FIELD)


@dataclass(frozen=True)
class TextTable:
    ids: list[str]
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.ids)


def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; put your CSV there or set data.file in conf/data/") from None
    except PermissionError:
        raise DataError(f"{path}: cannot read the file (permission denied); fix its permissions") from None
    if not raw.strip():
        raise DataError(f"{path}: the file is empty; it needs a header row and at least one data row")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: not UTF-8 (invalid byte at offset {exc.start}); re-save it as UTF-8, "
            "e.g. `iconv -f latin1 -t utf-8`"
        ) from None


def read_text_table(path: str | Path, id_column: str, text_column: str, label_column: str) -> TextTable:
    """Read and validate a CSV of id, text and label columns (names from conf/data/)."""
    path = Path(path)
    if not path.exists():
        # The first thing a project made without the sample data hits: say exactly what to put where.
        raise DataError(
            f"{path}: no data; put a UTF-8 CSV there with a header row and the columns "
            f"{id_column}, {text_column}, {label_column} (or set data.raw_dir, data.file and the "
            "column names in conf/data/)"
        )
    text = _decode(path)
    if "\0" in text:  # csv reads a NUL as text; it is a sign of a binary or broken file
        line = text.count("\n", 0, text.index("\0")) + 1
        raise DataError(f"{path}:{line}: a NUL byte in the row; remove it (is this a binary or UTF-16 file?)")
    # strict: a quote must close before a delimiter or line end, so an unclosed quote stops
    # here instead of swallowing the rows after it into one text
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    header = reader.fieldnames or []
    missing = [column for column in (id_column, text_column, label_column) if column not in header]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(header) or 'none'}); "
            "rename them in the file or set data.*_column in conf/data/"
        )
    ids, texts, labels, seen = [], [], [], set()
    rows, starts = [], []
    start = reader.line_num + 1
    try:
        for row in reader:
            if None in row:  # more fields than the header: a stray delimiter or quote
                raise DataError(
                    f"{path}:{start}: the row has {len(header) + len(row[None])} fields, the header "
                    f'{len(header)}; quote the text ("...") or remove the extra field'
                )
            rows.append(row)
            starts.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(
            f"{path}:{start}: {exc} in the row starting on line {start} (an unclosed or stray quote?); "
            f"fix the quoting (fields may hold up to {MAX_FIELD >> 20} MiB)"
        ) from None
    for line, row in zip(starts, rows):
        row_id, text, label = (row.get(c) for c in (id_column, text_column, label_column))
        if None in (row_id, text, label):
            raise DataError(f"{path}:{line}: the row has fewer fields than the header; fix the row")
        row_id, text, label = row_id.strip(), text.strip(), label.strip()
        if not row_id or not text or not label:
            raise DataError(
                f"{path}:{line}: empty {id_column}, {text_column} or {label_column}; fill it in or drop the row"
            )
        if row_id in seen:
            raise DataError(f"{path}:{line}: duplicate {id_column} {row_id!r}; ids must be unique")
        seen.add(row_id)
        ids.append(row_id)
        texts.append(text)
        labels.append(label)
    if not ids:
        raise DataError(f"{path}: the file has a header but no data rows; add rows")
    if len(set(labels)) < 2:
        raise DataError(f"{path}: found only one label ({labels[0]!r}); a classifier needs at least two")
    return TextTable(ids=ids, texts=texts, labels=labels)


def thin_labels(labels: list[str], test_size: float) -> dict[str, int]:
    """Labels with fewer examples than the held-out split needs: at least 2 (one on each side)
    and about 1/test_size, so the hash split can be expected to put one in the test set."""
    import math
    from collections import Counter

    needed = max(2, math.ceil(1 / test_size)) if test_size > 0 else 2
    return {label: n for label, n in sorted(Counter(labels).items()) if n < needed}


def count_csv_rows(path: str | Path) -> int | None:
    """Data rows of a CSV/TSV file (header excluded), or None if it does not parse as text."""
    path = Path(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return max(sum(1 for _ in csv.reader(handle, delimiter=delimiter)) - 1, 0)
    except (UnicodeDecodeError, csv.Error):
        return None
