"""What names a snapshot (data/refs.py): labels, immutable once given, and the pointer file the
pipeline follows; hand-edited ones are one line naming the file and the key."""

import json

import pytest
from factories import write_csv
from test_snapshot import ROWS, raw  # noqa: F401 (raw: the fixture)

from reprostack.core.errors import SnapshotError
from reprostack.data import refs, snapshot


def test_labels_name_one_snapshot_forever(raw, tmp_path):
    root = tmp_path / "snaps"
    first = snapshot.create(raw, root, "ds", label="v0.1")
    assert snapshot.locate(root, "ds", "v0.1") == first.path
    assert snapshot.create(raw, root, "ds", label="v0.1") == first  # same content, same label: fine
    write_csv(raw / "texts.csv.new", ROWS[:1] + [("z", "new row", "weather")])
    (raw / "texts.csv.new").replace(raw / "texts.csv")
    with pytest.raises(SnapshotError, match="already names snapshot"):
        snapshot.create(raw, root, "ds", label="v0.1")
    with pytest.raises(SnapshotError, match="looks like a snapshot version"):
        snapshot.create(raw, root, "ds", label="abcdefabcdef")
    with pytest.raises(SnapshotError, match="no snapshot 'v9'"):
        snapshot.locate(root, "ds", "v9")
    listed = snapshot.list_snapshots(root)
    assert [row["labels"] for row in listed if row["version"] == first.version] == [["v0.1"]]


def test_pointer_round_trip(raw, tmp_path):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    refs.write_snapshot_pointer(tmp_path / "snapshot.json", snap)
    assert refs.read_snapshot_pointer(tmp_path / "snapshot.json") == snap
    assert json.loads((tmp_path / "snapshot.json").read_text())["schema_version"] == 1


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("version", "zz", "version: must be 12 lowercase hex digits"),
        ("digest", "q", "digest: must be 64 lowercase hex digits"),
        ("dataset", "../up", "dataset: invalid dataset name '../up'"),
        ("version", "0123456789ab", "version must be the digest's first 12 hex digits"),
    ],
)
def test_a_snapshot_pointer_with_a_bad_value_is_refused_in_one_line_naming_file_and_key(
    raw, tmp_path, key, value, expected
):
    snap = snapshot.create(raw, tmp_path / "snaps", "ds")
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps({**snap.to_json(), key: value}))
    with pytest.raises(SnapshotError) as caught:
        refs.read_snapshot_pointer(path)
    assert str(caught.value).startswith(f"snapshot pointer {path} is invalid: ") and expected in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "labels,expected",
    [
        ({"../up": "0123456789ab"}, "invalid label '../up'"),
        ({"v1": "not-a-version"}, "label 'v1' names 'not-a-version', not a snapshot version"),
    ],
)
def test_hand_edited_labels_are_one_line_naming_the_file(tmp_path, labels, expected):
    (tmp_path / snapshot.LABELS).write_text(json.dumps({"schema_version": 1, "labels": labels}))
    with pytest.raises(SnapshotError, match=f"snapshot labels {tmp_path}/labels.json is invalid: labels: ") as err:
        snapshot.labels(tmp_path)
    assert expected in str(err.value) and "\n" not in str(err.value)
