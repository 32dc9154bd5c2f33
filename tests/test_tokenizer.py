"""The exported backends' tokenizer (model/tokenizer.py, no transformers, no torch) gives the
ids transformers' tokenizer gives, truncation and overflow included, for the packaged model."""

import copy
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from reprostack.model import embedding, encoding
from reprostack.model import tokenizer as tokenizers

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
TEXTS = [
    "Markets rally as rates fall",
    "  spaces   and\ttabs\nand newlines  ",
    "Zürich crème brûlée Ångström naïve façade",
    "東京 北京 서울 and emoji 🙂🚀 mixed in",
    "UPPER lower MiXeD 2-1 3.14159 $100 #tag @user e-mail@example.com",
    "don't won't y'all — “quotes” ‘single’ … ellipsis",
    "a",
    "word " * 300,  # over MiniLM's 256-token limit: truncated, with overflow rows
    "unprecedentedly antidisestablishmentarianism supercalifragilistic",
    "\u200bzero\u200bwidth\u00a0nbsp\u0301accent",
]


@pytest.fixture(scope="module")
def model_dir():
    return embedding.resolve(MINILM).path


def test_same_ids_as_transformers_tokenizer(model_dir):
    from transformers import AutoTokenizer

    ours, theirs = tokenizers.load(model_dir), AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    assert isinstance(ours, tokenizers.FastTokenizer)
    for limit in (256, 16):  # encoding.tokenize reads a model's tokenizer and limit
        mine = encoding.tokenize(TEXTS, SimpleNamespace(tokenizer=ours, max_seq_length=limit))
        want = encoding.tokenize(TEXTS, SimpleNamespace(tokenizer=theirs, max_seq_length=limit))
        assert mine == want, limit
        assert any(mine[1]) and not all(mine[1])  # the long text was truncated, others not
    assert ours.pad_token_id == theirs.pad_token_id
    assert copy.deepcopy(ours)(TEXTS[:3])["input_ids"] == ours(TEXTS[:3])["input_ids"]


def test_a_config_that_disagrees_with_tokenizer_json_falls_back_to_transformers(model_dir, tmp_path):
    for f in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json", "config.json"):
        (tmp_path / f).write_bytes((model_dir / f).read_bytes())
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({**config, "do_lower_case": False}))
    assert not isinstance(tokenizers.load(tmp_path), tokenizers.FastTokenizer)


def test_loading_it_imports_neither_transformers_nor_torch(model_dir):
    code = (
        "import sys; from pathlib import Path; from reprostack.model import tokenizer; "
        f"t = tokenizer.load(Path({str(model_dir)!r})); t(['a text']); "
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
