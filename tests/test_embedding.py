import numpy as np
import pytest

from reprostack.core.errors import ModelNotFoundError
from reprostack.model import embedding, encoding


def test_hub_name_and_alias_resolve_to_packaged_weights():
    resolved = embedding.resolve("sentence-transformers/all-MiniLM-L6-v2")
    assert (resolved.path / "model.safetensors").is_file()
    assert embedding.resolve("all-MiniLM-L6-v2").path == resolved.path


def test_unknown_model_is_one_line_saying_what_to_do():
    with pytest.raises(ModelNotFoundError) as err:
        embedding.resolve("acme/unknown-model")
    message = str(err.value)
    assert "\n" not in message and "acme/unknown-model" in message and "save the model to a directory" in message


def test_local_directory_must_be_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not a sentence-transformers model directory"):
        embedding.resolve(str(tmp_path))
    (tmp_path / "modules.json").write_text("[]")
    assert embedding.resolve(str(tmp_path)).path == tmp_path.resolve()


def test_fingerprint_changes_with_weights(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights-1")
    first = embedding.fingerprint(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"weights-2")
    assert embedding.fingerprint(tmp_path) != first
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(ModelNotFoundError, match="no weight files"):
        embedding.fingerprint(tmp_path)


@pytest.mark.slow
def test_real_model_embeds_deterministically():
    embedding.configure_determinism(seed=1, threads=2)
    model = embedding.load_encoder(embedding.resolve("sentence-transformers/all-MiniLM-L6-v2"))
    texts = ["Zürich wins the derby", "crème brûlée with a torch", "東京 stocks fall"]
    first = embedding.embed(texts, model, batch_size=2, normalize=True)
    second = embedding.embed(texts, model, batch_size=2, normalize=True)
    assert first.shape == (3, 384) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-5)
    assert encoding.embedding_dimension(model) == 384


def test_the_hashing_stand_in_is_deterministic_batch_invariant_and_named_by_its_dimension():
    from reprostack.core.errors import ConfigError
    from reprostack.model import encoding, hashing

    resolved = embedding.resolve("hashing:16")
    encoder = embedding.lazy_encoder(resolved, "cpu", 64, True, 0, 1, scheme=encoding.DEFAULT_SCHEME)
    texts = ["the striker scored", "rain tomorrow", "the striker scored", ""]
    together = encoder(texts)
    assert together.shape == (4, 16) and together.dtype == "float32"
    assert (together[0] == together[2]).all()
    assert all((encoder([text])[0] == row).all() for text, row in zip(texts, together))  # alone == in a batch
    assert float(together[0] @ together[1]) < 0.5 < float(together[0] @ encoder(["the striker scored twice"])[0])
    assert (
        embedding.fingerprint(resolved.path) == hashing.fingerprint("hashing:16") != hashing.fingerprint("hashing:32")
    )
    assert encoder.texts == 9 and encoder.truncated == 0  # 4 + 4 alone + 1
    with pytest.raises(ConfigError, match="'hashing:<dimension>'"):
        embedding.resolve("hashing:big")
