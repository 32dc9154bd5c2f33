import numpy as np
import pytest

from reprostack import vectors
from reprostack.errors import VectorStoreError

IDS = ["a", "b", "c"]
TEXTS = ["one", "two", "trois é"]
LABELS = ["x", "y", "x"]


def vecs(seed=0, n=3, dim=8):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def pointer_for(uri, version, content, dim=8, rows=3):
    return vectors.Pointer(uri=str(uri), table="t", version=version, rows=rows, model="m", model_fingerprint="f",
                           dimension=dim, vector_column="vector", metric="cosine", vectors_sha256=content, snapshot="s")


def test_write_then_read_at_version(tmp_path):
    uri = tmp_path / "db"
    version, content = vectors.write_table(str(uri), "t", IDS, TEXTS, LABELS, vecs(), "m")
    rows = vectors.read_rows(pointer_for(uri, version, content))
    assert rows.ids == IDS and rows.labels == LABELS
    np.testing.assert_array_equal(rows.vectors, vecs())


def test_unchanged_content_makes_no_new_version(tmp_path):
    uri = str(tmp_path / "db")
    first, _ = vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs(), "m")
    again, _ = vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs(), "m")
    assert again == first
    changed, _ = vectors.write_table(uri, "t", IDS, TEXTS, ["x", "x", "x"], vecs(), "m")
    assert changed > first


def test_old_version_stays_readable_after_later_writes(tmp_path):
    uri = tmp_path / "db"
    v1, c1 = vectors.write_table(str(uri), "t", IDS, TEXTS, LABELS, vecs(0), "m")
    vectors.write_table(str(uri), "t", IDS, TEXTS, LABELS, vecs(1), "m")
    np.testing.assert_array_equal(vectors.read_rows(pointer_for(uri, v1, c1)).vectors, vecs(0))


def test_pointer_mismatch_and_unknown_version(tmp_path):
    uri = tmp_path / "db"
    version, content = vectors.write_table(str(uri), "t", IDS, TEXTS, LABELS, vecs(), "m")
    with pytest.raises(VectorStoreError, match="does not match its pointer"):
        vectors.read_rows(pointer_for(uri, version, "0" * 64))
    with pytest.raises(VectorStoreError, match="has no version 99"):
        vectors.read_rows(pointer_for(uri, 99, content))
    with pytest.raises(VectorStoreError, match="table 'nope' not found"):
        vectors.read_rows(vectors.Pointer(**{**pointer_for(uri, version, content).__dict__, "table": "nope"}))


def test_bad_vectors_are_rejected(tmp_path):
    uri = str(tmp_path / "db")
    bad = vecs()
    bad[1, 2] = np.nan
    with pytest.raises(VectorStoreError, match="NaN or inf"):
        vectors.write_table(uri, "t", IDS, TEXTS, LABELS, bad, "m")
    with pytest.raises(VectorStoreError, match="duplicate ids"):
        vectors.write_table(uri, "t", ["a", "a", "c"], TEXTS, LABELS, vecs(), "m")
    with pytest.raises(VectorStoreError, match="expected"):
        vectors.check_vectors(vecs(dim=8), 384)


def test_pointer_file_round_trip_and_corruption(tmp_path):
    pointer = pointer_for(tmp_path, 1, "abc")
    vectors.write_pointer(tmp_path / "p.json", pointer)
    assert vectors.read_pointer(tmp_path / "p.json") == pointer
    (tmp_path / "p.json").write_text("{broken")
    with pytest.raises(VectorStoreError, match="not valid JSON"):
        vectors.read_pointer(tmp_path / "p.json")
