import numpy as np
import pytest

from reprostack import vectors
from reprostack.errors import VectorStoreError

IDS = ["a", "b", "c"]
TEXTS = ["one", "two", "trois é"]
LABELS = ["x", "y", "x"]


def vecs(seed=0, n=3, dim=8):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def pointer_for(uri, version, content, dim=8, rows=3, table="t"):
    return vectors.Pointer(uri=str(uri), table=table, version=version, rows=rows, model="m", model_fingerprint="f",
                           dimension=dim, vector_column="vector", metric="cosine", vectors_sha256=content, snapshot="s")


def test_write_then_read_at_version(tmp_path):
    uri = tmp_path / "db"
    version, content = vectors.write_table(str(uri), "t", IDS, TEXTS, LABELS, vecs(), "m")
    rows = vectors.read_rows(pointer_for(uri, version, content))
    order = np.argsort(rows.ids)
    assert sorted(rows.ids) == IDS and [rows.labels[i] for i in order] == LABELS
    np.testing.assert_array_equal(rows.vectors[order], vecs())


def test_unchanged_content_makes_no_new_version(tmp_path):
    uri = str(tmp_path / "db")
    first, content = vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs(), "m")
    plan = vectors.plan_update(uri, "t", IDS, TEXTS, LABELS, "m")
    assert plan.empty
    assert vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs(), "m") == (first, content)
    # same texts, vectors differing in the last bits (another batch): a new, full version
    again, other = vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs() + np.float32(1e-7), "m")
    assert again > first and other != content


def test_plan_embeds_only_new_and_changed_texts(tmp_path):
    uri = str(tmp_path / "db")
    vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs(), "m")
    ids = ["a", "b", "d", "it's"]
    texts = ["one", "two changed", "four", "quoted id"]
    labels = ["z", "y", "x", "y"]
    plan = vectors.plan_update(uri, "t", ids, texts, labels, "m")
    assert plan.embed == [1, 2, 3] and plan.relabel == [0] and plan.delete == ["c"] and not plan.rebuild
    new = vecs(seed=5, n=3)
    version = vectors.apply_update(uri, "t", plan, ids, texts, labels, new, "m")
    rows = vectors.read_rows(pointer_for(uri, version, vectors.table_content_sha256(uri, "t", version), rows=4))
    got = {i: (label, vec) for i, label, vec in zip(rows.ids, rows.labels, rows.vectors)}
    assert sorted(got) == sorted(ids)
    assert got["a"][0] == "z"  # relabelled ...
    np.testing.assert_array_equal(got["a"][1], vecs()[0])  # ... without re-embedding
    np.testing.assert_array_equal(got["b"][1], new[0])
    np.testing.assert_array_equal(got["it's"][1], new[2])


def test_another_model_rebuilds_every_row(tmp_path):
    uri = str(tmp_path / "db")
    vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs(), "m")
    plan = vectors.plan_update(uri, "t", IDS, TEXTS, LABELS, "other-model")
    assert plan.rebuild and plan.embed == [0, 1, 2]


def test_old_version_stays_readable_after_later_writes(tmp_path):
    uri = tmp_path / "db"
    v1, c1 = vectors.write_table(str(uri), "t", IDS, TEXTS, LABELS, vecs(0), "m")
    vectors.write_table(str(uri), "t", IDS, ["uno", "dos", "tres"], LABELS, vecs(1), "m")
    rows = vectors.read_rows(pointer_for(uri, v1, c1))
    np.testing.assert_array_equal(rows.vectors[np.argsort(rows.ids)], vecs(0))


def test_pointer_mismatch_and_unknown_version(tmp_path):
    uri = tmp_path / "db"
    version, content = vectors.write_table(str(uri), "t", IDS, TEXTS, LABELS, vecs(), "m")
    with pytest.raises(VectorStoreError, match="does not match its pointer"):
        vectors.read_rows(pointer_for(uri, version, "0" * 64))
    with pytest.raises(VectorStoreError, match="has no version 99"):
        vectors.read_rows(pointer_for(uri, 99, content))
    with pytest.raises(VectorStoreError, match="table 'nope' not found"):
        vectors.read_rows(pointer_for(uri, version, content, table="nope"))


def test_bad_vectors_are_rejected(tmp_path):
    uri = str(tmp_path / "db")
    bad = vecs()
    bad[1, 2] = np.nan
    with pytest.raises(VectorStoreError, match="NaN or inf"):
        vectors.write_table(uri, "t", IDS, TEXTS, LABELS, bad, "m")
    with pytest.raises(VectorStoreError, match="duplicate ids"):
        vectors.write_table(uri, "t", ["a", "a", "c"], TEXTS, LABELS, vecs(), "m")
    vectors.write_table(uri, "t", IDS, TEXTS, LABELS, vecs(), "m")
    texts = ["one", "two", "new"]
    plan = vectors.plan_update(uri, "t", IDS, texts, LABELS, "m")
    with pytest.raises(VectorStoreError, match=r"shape \(1, 4\), expected \(n, 8\)"):
        vectors.apply_update(uri, "t", plan, IDS, texts, LABELS, vecs(n=1, dim=4), "m")


def test_pointer_file_round_trip_and_corruption(tmp_path):
    pointer = pointer_for(tmp_path, 1, "abc")
    vectors.write_pointer(tmp_path / "p.json", pointer)
    assert vectors.read_pointer(tmp_path / "p.json") == pointer
    (tmp_path / "p.json").write_text("{broken")
    with pytest.raises(VectorStoreError, match="not valid JSON"):
        vectors.read_pointer(tmp_path / "p.json")
