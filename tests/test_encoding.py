"""Batch-invariant bucketed encoding: a text's vector is byte-identical whatever shares its pass.

The fast test runs a tiny randomly initialised BERT (2 layers, 32 wide) with MiniLM's real
tokenizer through the same code; the slow one runs the real all-MiniLM-L6-v2.
"""

import random
import shutil

import numpy as np
import pytest

from reprostack.core.errors import ConfigError
from reprostack.model import embedding, encoding

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
WORDS = (
    "the a market rain storm goal team stocks fall rise sunny match cup bank rates Zürich 東京 crème "
    "brûlée 2-1 unprecedentedly"
).split()


def random_texts(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 45))) for _ in range(n)]


def check_batch_invariance(
    model, rng: random.Random, trials: int, n_texts: int, scheme: str = encoding.DEFAULT_SCHEME
) -> None:
    texts = random_texts(rng, n_texts) + ["word " * 600]  # the last one is over the token limit
    alone = [encoding.encode([t], model, scheme).vectors[0] for t in texts]
    for _ in range(trials):
        picked = [rng.randrange(len(texts)) for _ in range(rng.randint(1, 256))]
        batch_size = rng.choice([3, 16, 64, 256])
        result = encoding.encode([texts[i] for i in picked], model, scheme, batch_size=batch_size)
        for row, i in enumerate(picked):
            assert result.vectors[row].tobytes() == alone[i].tobytes(), (texts[i], len(picked), batch_size)
        assert result.truncated == [i == len(texts) - 1 for i in picked]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "bert")


def make_tiny_model(folder):
    """A tiny randomly initialised BERT with MiniLM's tokenizer, built in `folder`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertConfig, BertModel

    embedding.configure_determinism(seed=0, threads=2)
    src = embedding.resolve(MINILM).path
    folder.mkdir(parents=True)
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(src / name, folder / name)
    torch.manual_seed(0)
    BertModel(
        BertConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            max_position_embeddings=128,
        )
    ).save_pretrained(folder)
    word = models.Transformer(str(folder), max_seq_length=100)
    return SentenceTransformer(modules=[word, models.Pooling(32, "mean")], device="cpu")


def test_tiny_model_vectors_do_not_depend_on_the_batch(tiny_model):
    check_batch_invariance(tiny_model, random.Random(1), trials=4, n_texts=30)


def test_buckets_share_passes_and_per_length_does_not(tiny_model):
    texts = random_texts(random.Random(2), 130)
    lengths = {len(ids) for ids in encoding.tokenize(texts, tiny_model)[0]}
    per_length = encoding.encode(texts, tiny_model, "per-length", batch_size=64)
    bucketed = encoding.encode(texts, tiny_model, "bucket16", batch_size=64)
    buckets = {encoding.bucket_width(n, 16, 100) for n in lengths}
    assert per_length.passes >= len(lengths) > len(buckets)
    assert bucketed.passes <= len(buckets) + 130 // 64 and bucketed.passes < per_length.passes
    # the vectors are the same text's vectors, up to float rounding: padding is masked out
    np.testing.assert_allclose(bucketed.vectors, per_length.vectors, atol=1e-5)


def test_bucket_width_depends_on_the_text_alone():
    assert [encoding.bucket_width(n, 16, 256) for n in (1, 16, 17, 32, 250, 256)] == [16, 16, 32, 32, 256, 256]
    assert encoding.bucket_width(120, 16, 100) == 100  # never past the model's limit


def test_every_pass_of_a_width_has_one_shape_whatever_the_batch(tiny_model, monkeypatch):
    """The mechanism behind bucketNxR's invariance, checked on any CPU: kernels are chosen by
    shape, so a text's bits cannot depend on its batch when every pass of its width has the
    same (rows, width). bucket8 alone gave other bits on an AVX-512/AMX Xeon: its passes had as
    many rows as texts of that width in the batch."""
    # the default is a fixed-row scheme: a change back to bucketN alone fails here, on any CPU
    scheme = encoding.DEFAULT_SCHEME
    assert encoding.rows_per_pass(scheme) == 16 and scheme.startswith("bucket8x")
    limit = tiny_model.max_seq_length
    shapes, forward = [], encoding._forward

    def spy(model, rows, width, normalize):
        # each row's own bucketed width: the pass's width must be it, whatever else shares the pass
        shapes.append((len(rows), width, {encoding.bucket_width(len(r), 8, limit) for r in rows}))
        return forward(model, rows, width, normalize)

    monkeypatch.setattr(encoding, "_forward", spy)
    rng = random.Random(5)
    texts = random_texts(rng, 40) + ["word " * 600]  # over the limit: the width is capped
    for batch_size in (1, 3, 64, 256):
        picked = [rng.choice(texts) for _ in range(rng.randint(1, 120))] + texts[-1:]
        encoding.encode(picked, tiny_model, scheme, batch_size=batch_size)
    widths = {width for _, width, _ in shapes}
    assert len(widths) > 3 and {rows for rows, _, _ in shapes} == {16}  # many widths, one row count
    assert all(own == {width} for _, width, own in shapes)  # the width is a function of each text
    assert limit in widths and all(w % 8 == 0 or w == limit for w in widths)
    shapes.clear()
    encoding.encode(texts[:5], tiny_model, "bucket8", batch_size=64)
    assert {rows for rows, _, _ in shapes} != {16}  # the older scheme's passes vary: the check can fail


@pytest.mark.parametrize("scheme", ["bucket0", "bucket", "padded", 16, "bucket8x0", "bucket8x"])
def test_an_unknown_scheme_is_one_line(scheme):
    with pytest.raises(ConfigError, match="embedding.encoding must be 'per-length', 'bucketN' or 'bucketNxR'"):
        encoding.check_scheme(scheme)


@pytest.mark.slow
def test_real_model_vectors_do_not_depend_on_the_batch():
    embedding.configure_determinism(seed=1, threads=2)
    model = embedding.load_encoder(embedding.resolve(MINILM))
    check_batch_invariance(model, random.Random(3), trials=4, n_texts=40)


def test_a_text_over_the_token_limit_is_truncated_and_said_so(tiny_model):
    from sklearn.linear_model import LogisticRegression

    from reprostack.registry import loader

    texts = ["rain all week", "the match ended 2-1", "stocks fall", "goal " * 300]
    embedder = loader.TextEmbedder(tiny_model, "bucket16", normalize=True)
    encoded = embedder.encode(texts)
    assert encoded.truncated == [False, False, False, True]
    assert encoding.count_passes(texts, tiny_model, "bucket16", 64) == encoded.passes == 2  # widths 16 and 100
    classifier = LogisticRegression().fit(encoded.vectors[:3], ["weather", "sports", "finance"])
    model = loader.LoadedModel("m", "v0.1.0", "production", "0" * 64, classifier, {"dimension": 32})
    predictions = model.predict(texts, embedder)
    assert [p["truncated"] for p in predictions] == [False, False, False, True]
    # truncation is the tokenizer's, the same everywhere: the long text equals its first 100 tokens
    cut = tiny_model.tokenizer.decode(encoding.tokenize(texts[3:], tiny_model)[0][0][1:-1])
    assert embedder([cut]).tobytes() == encoded.vectors[3:].tobytes()


def test_the_pass_shapes_a_server_gathers_by_are_the_passes_encode_runs(tiny_model, monkeypatch):
    """serve's batcher gathers texts by TextEmbedder.pass_shapes: texts it puts in one full pass
    must be one pass of encode, with that width; a scheme without fixed rows has no shapes."""
    from reprostack.registry import loader

    embedder = loader.TextEmbedder(tiny_model, encoding.DEFAULT_SCHEME, normalize=True)
    texts = random_texts(random.Random(9), 120) + ["word " * 600]
    shapes = embedder.pass_shapes(texts)
    assert len(shapes) == len(texts) and len(set(shapes)) > 3
    assert all(rows == 16 for _, rows in shapes) and shapes[-1][0] == tiny_model.max_seq_length
    ran, forward = [], encoding._forward
    monkeypatch.setattr(encoding, "_forward", lambda m, rows, w, n: ran.append(w) or forward(m, rows, w, n))
    for shape in set(shapes):
        same = [t for t, s in zip(texts, shapes) if s == shape][:16]
        ran.clear()
        assert embedder.encode(same).passes == 1 and ran == [shape[0]], shape
    assert loader.TextEmbedder(tiny_model, "bucket8", normalize=True).pass_shapes(texts) is None
