"""The versioned vector table on real LanceDB in tmp dirs. A deterministic stand-in encoder
(vectors derived from each text's sha256) keeps these tests fast; tests/test_vectors_model.py
uses the real models."""

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from factories import pointer_to

from reprostack import vectors
from reprostack.core.errors import VectorStoreError
from reprostack.vectors import lance_table, search, update, versions

IDS = ["a", "b", "c"]
TEXTS = ["one", "two", "trois é"]
LABELS = ["x", "y", "x"]


class Encoder:
    """Vectors from the text's hash: batch-invariant like embedding.embed; counts what it embeds."""

    def __init__(self, dim=8, poison=None):
        self.dim, self.poison, self.seen = dim, poison, []

    def __call__(self, texts):
        self.seen += texts
        out = (
            np.stack(
                [
                    np.frombuffer(hashlib.sha256(t.encode()).digest()[: self.dim], dtype=np.uint8).astype(np.float32)
                    / 255
                    for t in texts
                ]
            )
            if texts
            else np.empty((0, self.dim), np.float32)
        )
        if self.poison is not None:
            out[0, 0] = self.poison
        return out


def put(uri, ids=IDS, texts=TEXTS, labels=LABELS, encoder=None, model="m", fingerprint="f", settings="s"):
    encoder = encoder or Encoder()
    return update.update(str(uri), "t", ids, texts, labels, model, fingerprint, True, encoder, settings), encoder


def pin(uri, version, tag=""):
    return pointer_to(uri, "t", version, tag=tag)


def test_create_then_read_at_version_in_id_order(tmp_path):
    result, enc = put(tmp_path / "db", ids=["c", "a", "b"])
    assert result.new_version and result.embedded == 3 and result.column == "vector"
    rows = vectors.read_rows(pin(tmp_path / "db", result.version))
    assert rows.ids == ["a", "b", "c"] and rows.labels == ["y", "x", "x"]
    np.testing.assert_array_equal(rows.vectors[0], Encoder()([TEXTS[1]])[0])


def test_nothing_changed_embeds_nothing_and_makes_no_version(tmp_path):
    first, _ = put(tmp_path / "db")
    again, enc = put(tmp_path / "db")
    assert not again.new_version and again.version == first.version and enc.seen == []
    assert len(lance_table.dataset(str(tmp_path / "db"), "t").versions()) == first.version


def test_only_new_and_changed_texts_are_embedded_in_one_commit(tmp_path):
    first, _ = put(tmp_path / "db")
    ids, texts, labels = ["a", "b", "d", "it's"], ["one", "two changed", "four", "quoted id"], ["z", "y", "x", "y"]
    result, enc = put(tmp_path / "db", ids, texts, labels)
    assert enc.seen == ["two changed", "four", "quoted id"]
    assert (result.embedded, result.relabelled, result.deleted) == (3, 1, 1)
    assert result.version == first.version + 1  # upserts, relabel and delete: one atomic commit
    rows = vectors.read_rows(pin(tmp_path / "db", result.version))
    got = dict(zip(rows.ids, zip(rows.labels, rows.vectors)))
    assert sorted(got) == sorted(ids) and got["a"][0] == "z"
    np.testing.assert_array_equal(got["a"][1], Encoder()(["one"])[0])  # relabelled, not re-embedded
    # batch-invariant encoder: the incremental table equals a clean full build, bit for bit
    clean, _ = put(tmp_path / "clean", ids, texts, labels)
    assert pin(tmp_path / "db", result.version).vectors_sha256 == pin(tmp_path / "clean", clean.version).vectors_sha256


def test_old_version_stays_readable_after_later_writes(tmp_path):
    first, _ = put(tmp_path / "db")
    pinned = pin(tmp_path / "db", first.version)
    put(tmp_path / "db", texts=["uno", "dos", "tres"])
    np.testing.assert_array_equal(vectors.read_rows(pinned).vectors, Encoder()(TEXTS))


def test_pointer_mismatch_unknown_version_and_tag(tmp_path):
    first, _ = put(tmp_path / "db")
    good = pin(tmp_path / "db", first.version)
    with pytest.raises(VectorStoreError, match="does not match its pointer"):
        vectors.read_rows(good.model_copy(update={"vectors_sha256": "0" * 64}))
    with pytest.raises(VectorStoreError, match="no version or tag 99"):
        vectors.read_rows(good.model_copy(update={"version": 99}))
    with pytest.raises(VectorStoreError, match="no version or tag 'nope'"):
        lance_table.dataset(str(tmp_path / "db"), "t", "nope")
    with pytest.raises(VectorStoreError, match="table 'other' not found"):
        vectors.read_rows(good.model_copy(update={"table": "other"}))


def test_bad_vectors_and_ids_are_rejected_leaving_the_table_as_it_was(tmp_path):
    uri = tmp_path / "db"
    with pytest.raises(VectorStoreError, match="NaN or inf"):
        put(uri, encoder=Encoder(poison=np.nan))
    assert not lance_table.exists(str(uri), "t")
    with pytest.raises(VectorStoreError, match="duplicate id 'a'"):
        put(uri, ids=["a", "a", "c"])
    first, _ = put(uri)
    with pytest.raises(VectorStoreError, match=r"shape \(1, 4\), the column holds dimension 8"):
        put(uri, texts=["one", "two", "new"], encoder=Encoder(dim=4))
    assert lance_table.dataset(str(uri), "t").version == first.version


def test_pointer_file_round_trip_and_corruption(tmp_path):
    first, _ = put(tmp_path / "db")
    p = pin(tmp_path / "db", first.version, tag="x")
    vectors.write_vectors_pointer(tmp_path / "p.json", p)
    assert vectors.read_vectors_pointer(tmp_path / "p.json") == p
    (tmp_path / "p.json").write_text("{broken")
    with pytest.raises(VectorStoreError, match="not valid JSON"):
        vectors.read_vectors_pointer(tmp_path / "p.json")


def test_a_schema_1_pointer_is_read_as_untagged_and_still_reads_its_rows(tmp_path):
    first, _ = put(tmp_path / "db")
    old = {k: v for k, v in pin(tmp_path / "db", first.version).fields().items() if k != "tag"}
    (tmp_path / "p.json").write_text(json.dumps({**old, "schema_version": 1}))
    p = vectors.read_vectors_pointer(tmp_path / "p.json")
    assert (p.schema_version, p.tag, p.version) == (vectors.VECTORS_POINTER_SCHEMA_VERSION, "", first.version)
    assert vectors.read_rows(p).ids == sorted(IDS)
    (tmp_path / "p.json").write_text(json.dumps({**old, "tag": "", "schema_version": 2, "extra": 1}))
    with pytest.raises(VectorStoreError, match=r"vector pointer .*p\.json is invalid: extra: Extra inputs"):
        vectors.read_vectors_pointer(tmp_path / "p.json")


def test_a_pointer_names_content_by_tag_and_reads_in_a_grown_and_a_fresh_table(tmp_path):
    """Issue 21: the pointer (a DVC output) holds no local version number, which differs between a
    table grown over several versions and a fresh one with the same content."""
    put(tmp_path / "grown", ids=IDS[:1], texts=TEXTS[:1], labels=LABELS[:1])
    grown, _ = put(tmp_path / "grown")  # version 2 holds the content
    fresh, _ = put(tmp_path / "fresh")  # version 1 holds the same content
    assert (grown.version, fresh.version) == (2, 1)
    written = []
    for db, version in ((tmp_path / "grown", grown.version), (tmp_path / "fresh", fresh.version)):
        made = pin(db, version)
        tag = f"snap-s-{made.vectors_sha256[:12]}"
        lance_table.dataset(str(db), "t").tags.create(tag, version)
        pointer = made.model_copy(update={"version": None, "tag": tag, "uri": "db"})
        vectors.write_vectors_pointer(tmp_path / "p.json", pointer)
        written.append((tmp_path / "p.json").read_bytes())
        read = vectors.read_vectors_pointer(tmp_path / "p.json")
        assert read.version is None and read.ref == tag
        located = read.model_copy(update={"uri": str(db)})
        assert vectors.resolve_version(located) == version and vectors.read_rows(located).ids == sorted(IDS)
    assert written[0] == written[1] and b'"version"' not in written[0]  # byte for byte the same file


def test_a_schema_2_pointer_reads_through_its_tag_or_its_number_where_the_tag_is_gone(tmp_path):
    first, _ = put(tmp_path / "db")
    data = lance_table.dataset(str(tmp_path / "db"), "t")
    data.tags.create("mine", first.version)
    old = {**pin(tmp_path / "db", first.version).fields(), "tag": "mine", "schema_version": 2}
    (tmp_path / "p.json").write_text(json.dumps(old))
    pointer = vectors.read_vectors_pointer(tmp_path / "p.json")
    assert (pointer.version, pointer.ref) == (first.version, "mine")
    assert vectors.read_rows(pointer).ids == sorted(IDS)
    data.tags.delete("mine")
    assert vectors.resolve_version(pointer) == first.version and vectors.read_rows(pointer).ids == sorted(IDS)
    with pytest.raises(VectorStoreError, match="has no version or tag 999"):  # neither is here: one line
        vectors.read_rows(pointer.model_copy(update={"version": 999}))
    untagged = pointer.model_copy(update={"version": None, "tag": "gone"})
    with pytest.raises(VectorStoreError, match="has no version or tag 'gone'"):
        vectors.read_rows(untagged)


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("version", 0, "a positive integer"),
        ("version", "3", "a positive integer"),
        ("rows", -1, "a non-negative integer"),
        ("dimension", 0, "a positive integer"),
        ("metric", "nope", "'cosine'"),
        ("vectors_sha256", "x", "64 lowercase hex digits"),
        ("vectors_sha256", "A" * 64, "64 lowercase hex digits"),
        ("table", "", "a non-empty string"),
    ],
)
def test_a_pointer_with_a_bad_value_is_refused_in_one_line_naming_file_and_key(tmp_path, key, value, expected):
    first, _ = put(tmp_path / "db")
    good = pin(tmp_path / "db", first.version).to_json()
    (tmp_path / "p.json").write_text(json.dumps({**good, key: value}))
    with pytest.raises(VectorStoreError) as caught:
        vectors.read_vectors_pointer(tmp_path / "p.json")
    assert str(caught.value).startswith(f"vector pointer {tmp_path / 'p.json'} is invalid: {key}: must be {expected}")
    assert "\n" not in str(caught.value)
    with pytest.raises(ValueError):  # nor can code write one
        vectors.VectorsPointer(**{**good, key: value})


def test_another_model_gets_its_own_column_and_stale_vectors_are_nulled(tmp_path):
    uri = tmp_path / "db"
    put(uri)
    result, enc = put(uri, encoder=Encoder(dim=16), model="big", fingerprint="g")
    assert result.column == "vector_big" and result.dimension == 16 and enc.seen == TEXTS
    data = lance_table.dataset(str(uri), "t")
    meta = lance_table.read_meta(data)
    assert meta["active_column"] == "vector" and set(meta["columns"]) == {"vector", "vector_big"}
    # a changed text under the first model: the other model's vector for it is stale, so null
    put(uri, texts=["one", "two!", "trois é"])
    table = lance_table.dataset(str(uri), "t").to_table(columns=["id", "vector_big"]).to_pylist()
    assert [r["id"] for r in table if r["vector_big"] is None] == ["b"]


def test_versions_tags_diff_restore(tmp_path):
    uri = str(tmp_path / "db")
    first, _ = put(uri)
    second, _ = put(uri, texts=["one", "two changed", "trois é"], ids=IDS, labels=["x", "y", "y"])
    table = lance_table.dataset(uri, "t")
    versions.tag(table, "good", first.version)
    with pytest.raises(VectorStoreError, match="already names version"):
        versions.tag(table, "good", second.version)
    listed = versions.versions(table)
    assert [v["version"] for v in listed][-2:] == [first.version, second.version]
    assert listed[-2]["tags"] == ["good"] and listed[-1]["rows"] == 3 and listed[-1]["operation"] != "?"
    changes = versions.diff(uri, "t", "good", second.version)
    assert changes["changed"] == ["b", "c"] and changes["added"] == changes["removed"] == []
    restored = versions.restore(uri, "t", "good", "IVF_HNSW_SQ", 10_000)
    assert restored["version"] == second.version + 1 and restored["restored"] == first.version
    assert versions.diff(uri, "t", first.version, restored["version"])["changed"] == []
    with pytest.raises(VectorStoreError, match="no version or tag 'missing'"):
        versions.restore(uri, "t", "missing", "IVF_HNSW_SQ", 10_000)


def test_optimize_keeps_tagged_versions_and_removes_the_rest(tmp_path):
    uri = str(tmp_path / "db")
    first, _ = put(uri)
    for i in range(3):
        put(uri, texts=["one", f"two {i}", "trois é"])
    table = lance_table.dataset(uri, "t")
    versions.tag(table, "keep", first.version)
    report = versions.optimize(table, older_than_days=0)
    kept = [v["version"] for v in versions.versions(lance_table.dataset(uri, "t"))]
    assert first.version in kept and report["versions_removed"] >= 2
    assert not {first.version + 1, first.version + 2} & set(kept)  # untagged history is gone
    assert lance_table.dataset(uri, "t", "keep").count_rows() == 3


def _table_of(n, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(8, dim))
    vecs = (centers[np.arange(n) % 8] + 0.1 * rng.normal(size=(n, dim))).astype(np.float32)
    return [f"r{i:04d}" for i in range(n)], [f"text {i}" for i in range(n)], [f"c{i % 8}" for i in range(n)], vecs


def test_search_with_where_and_index_above_threshold(tmp_path):
    uri = str(tmp_path / "db")
    ids, texts, labels, vecs = _table_of(600)
    lookup = dict(zip(texts, vecs))
    update.update(uri, "t", ids, texts, labels, "m", "f", True, lambda t: np.stack([lookup[x] for x in t]), "s")
    table = lance_table.open_table(lance_table.connect(uri), "t")
    hits = search.search(table, "vector", vecs[3], k=5)
    assert hits.rows[0]["id"] == "r0003" and not hits.index_used and len(hits.rows) == 5
    hits = search.search(table, "vector", vecs[3], k=5, where="label = 'c1'")
    assert {r["label"] for r in hits.rows} == {"c1"}
    with pytest.raises(VectorStoreError, match="does not parse"):
        search.search(table, "vector", vecs[3], where="label ==== 'x'")
    with pytest.raises(VectorStoreError, match="holds 16 dimensions"):
        search.search(table, "vector", vecs[3][:4])
    before_index = table.version
    assert not search.ensure_index(table, "vector", "IVF_PQ", min_rows=1000)
    assert search.ensure_index(table, "vector", "IVF_HNSW_SQ", min_rows=500)
    hits = search.search(table, "vector", vecs[3], k=5)
    assert hits.index_used and hits.rows[0]["id"] == "r0003"
    # a restore to before the index drops it (LanceDB); restore builds it again
    restored = versions.restore(uri, "t", before_index, "IVF_HNSW_SQ", 500)
    table = lance_table.open_table(lance_table.connect(uri), "t")
    assert restored["index_rebuilt"] and search.search(table, "vector", vecs[3], k=5).index_used


def test_kill_9_during_an_update_leaves_the_last_version_and_a_rerun_completes(tmp_path):
    uri = str(tmp_path / "db")
    first, _ = put(uri)
    # the child dies inside the write path, after planning and embedding, before its commit
    script = textwrap.dedent(f"""
        import os, signal, numpy as np
        from reprostack.vectors import update
        def encode(texts):
            os.kill(os.getpid(), signal.SIGKILL)
        update.update({uri!r}, "t", ["a", "b", "c", "d"], ["one", "two", "trois é", "four"], ["x"] * 4,
                      "m", "f", True, encode, "s")
    """)
    child = subprocess.run([sys.executable, "-c", script], env={**os.environ})
    assert child.returncode == -9
    assert lance_table.dataset(uri, "t").version == first.version
    result, enc = put(uri, ids=["a", "b", "c", "d"], texts=["one", "two", "trois é", "four"], labels=["x"] * 4)
    assert enc.seen == ["four"] and result.new_version
