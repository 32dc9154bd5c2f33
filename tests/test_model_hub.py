"""Models by hub name, pinned to a commit, read offline from a Hugging Face cache laid out as
huggingface_hub lays it out (blobs/ + snapshots/<commit>/ symlinks + refs/main), built here from
the packaged MiniLM."""

import hashlib
import os

import pytest

from reprostack.core.errors import ModelNotFoundError
from reprostack.model import embedding

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
REVISION = "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"


def hf_cache(home, repo_id: str, revision: str):
    """HF_HOME/hub/models--org--name with the packaged model's files as blobs."""
    src = embedding.resolve(MINILM).path
    repo = home / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / revision
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / path.relative_to(src)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    return snapshot


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return hf_cache(tmp_path / "hf", "acme/minilm-copy", REVISION)


def test_a_pinned_hub_name_resolves_offline_from_the_cache(cache):
    resolved = embedding.resolve("acme/minilm-copy", revision=REVISION)
    assert resolved.path == cache and (resolved.path / "model.safetensors").is_symlink()
    # the fingerprint hashes the weights through the symlinks: the same as the packaged copy
    assert embedding.fingerprint(resolved.path) == embedding.fingerprint(embedding.resolve(MINILM).path)
    assert embedding.resolve("acme/minilm-copy", revision="main").path == cache  # refs/main names the commit


def test_a_packaged_name_pinned_to_a_revision_comes_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    snapshot = hf_cache(tmp_path / "hf", MINILM, REVISION)
    assert embedding.resolve(MINILM, revision=REVISION).path == snapshot
    assert embedding.resolve(MINILM).path != snapshot  # unpinned: the packaged weights


def test_a_revision_missing_offline_is_one_line_with_the_fetch_command(cache):
    with pytest.raises(ModelNotFoundError) as err:
        embedding.resolve("acme/minilm-copy", revision="0" * 40)
    message = str(err.value)
    assert "\n" not in message and "not in the Hugging Face cache" in message
    assert f"HF_HUB_OFFLINE=0 hf download acme/minilm-copy --revision {'0' * 40}" in message


def test_an_unknown_name_lists_what_is_available_and_how_to_add_it(cache):
    with pytest.raises(ModelNotFoundError) as err:
        embedding.resolve("acme/unknown-model")
    message = str(err.value)
    assert "\n" not in message and "acme/unknown-model" in message
    assert MINILM in message and f"acme/minilm-copy@{REVISION[:12]}" in message  # packaged and cached
    assert "set embedding.revision to a commit" in message and "save the model to a directory" in message


@pytest.mark.slow
def test_the_cached_model_encodes_like_the_packaged_one(cache):
    import numpy as np

    embedding.configure_determinism(seed=1, threads=2)
    texts = ["rain all week", "the match ended 2-1"]
    cached = embedding.embed(texts, embedding.load_encoder(embedding.resolve("acme/minilm-copy", revision=REVISION)))
    packaged = embedding.embed(texts, embedding.load_encoder(embedding.resolve(MINILM)))
    np.testing.assert_array_equal(cached, packaged)
