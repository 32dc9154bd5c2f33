import pytest
from factories import write_csv

from reprostack.core.errors import DataError
from reprostack.data.dataset import count_csv_rows, read_text_table

ROWS = [("a", "kick off at noon", "sports"), ("b", "crème brûlée tonight", "cooking")]


def read(path):
    return read_text_table(path, "id", "text", "label")


def test_reads_valid_utf8_with_non_ascii(tmp_path):
    table = read(write_csv(tmp_path / "t.csv", ROWS))
    assert table.ids == ["a", "b"]
    assert table.texts[1] == "crème brûlée tonight"
    assert count_csv_rows(tmp_path / "t.csv") == 2


def test_missing_column_names_file_and_fix(tmp_path):
    path = write_csv(tmp_path / "t.csv", [("a", "x")], header=("id", "text"))
    with pytest.raises(DataError) as err:
        read(path)
    message = str(err.value)
    assert str(path) in message and "missing column(s) label" in message and "conf/data/" in message


def test_missing_file_says_where_and_which_columns(tmp_path):
    with pytest.raises(DataError) as err:
        read_text_table(tmp_path / "raw" / "texts.csv", "doc_id", "body", "topic")
    assert str(err.value).startswith(f"{tmp_path / 'raw' / 'texts.csv'}: no data; put a UTF-8 CSV there")
    assert "columns doc_id, body, topic" in str(err.value) and "\n" not in str(err.value)


def test_empty_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="the file is empty"):
        read(path)


def test_header_only(tmp_path):
    with pytest.raises(DataError, match="no data rows"):
        read(write_csv(tmp_path / "t.csv", []))


def test_not_utf8(tmp_path):
    path = write_csv(tmp_path / "t.csv", ROWS, encoding="latin-1")
    with pytest.raises(DataError, match=r"not UTF-8 \(invalid byte at offset \d+\); re-save it as UTF-8"):
        read(path)


def test_duplicate_ids_and_empty_text(tmp_path):
    with pytest.raises(DataError, match="duplicate id 'a'"):
        read(write_csv(tmp_path / "d.csv", ROWS + [("a", "again", "sports")]))
    with pytest.raises(DataError, match=r":3: empty id, text or label"):
        read(write_csv(tmp_path / "e.csv", [ROWS[0], ("b", "  ", "sports"), ROWS[1]]))


def test_single_label_is_rejected(tmp_path):
    with pytest.raises(DataError, match="only one label"):
        read(write_csv(tmp_path / "t.csv", [("a", "x", "s"), ("b", "y", "s")]))


def test_shipped_sample_dataset():
    # Columns come from conf/ (a project made from the template may rename them or ship no data).
    from factories import REPO

    from reprostack.core import config

    data = config.load_params(REPO / "params.yaml").data
    path = REPO / data.raw_dir / data.file
    if not path.exists():
        pytest.skip(f"no sample data in {data.raw_dir}/")
    table = read_text_table(path, data.id_column, data.text_column, data.label_column)
    assert len(table) >= 600
    assert len(set(table.labels)) >= 5
    assert any(not t.isascii() for t in table.texts)


GOOD = "id,text,label\nt1,a text about rates,finance\nt2,a text about goals,sports\n"


@pytest.mark.parametrize(
    "bad, line, says",
    [
        # an unclosed quote: the lenient reader swallowed the rows after it into one text
        ('t3,"Salt the water, then season generously.,cooking\nt4,more,sports\nt5,"x, y",finance\n', 4, "quot"),
        ('t3,"Salt the water, then season generously.,cooking\nt4,more,sports\n', 4, "quot"),
        # a missing opening quote: the text's comma made a fourth field and a label from the text
        ('t3,Salt the water, then season generously.",cooking\nt4,more,sports\n', 4, "4 fields"),
        ("t3,a NUL\0 byte,cooking\nt4,more,sports\n", 4, "NUL"),
    ],
)
def test_rows_that_do_not_parse_strictly_stop_with_their_line(tmp_path, bad, line, says):
    path = tmp_path / "texts.csv"
    path.write_bytes((GOOD + bad).encode())
    with pytest.raises(DataError) as err:
        read_text_table(path, "id", "text", "label")
    assert f"texts.csv:{line}:" in str(err.value) and says in str(err.value), err.value


def test_a_quoted_text_over_several_lines_is_still_one_row(tmp_path):
    path = tmp_path / "texts.csv"
    path.write_bytes((GOOD + 't3,"two lines,\nof one text",cooking\nt4,after it,sports\n').encode())
    table = read_text_table(path, "id", "text", "label")
    assert table.ids == ["t1", "t2", "t3", "t4"] and table.texts[2] == "two lines,\nof one text"
