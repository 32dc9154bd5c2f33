"""An exported model's tokenizer, from its tokenizer.json with the `tokenizers` library alone.

transformers' AutoTokenizer imports torch on the way (its configuration utilities do): 1.3 s a
process here, paid by every embed stage, search and serve on an exported backend, which never
run torch otherwise. transformers' fast tokenizers wrap this same `tokenizers.Tokenizer`, so the
ids are the same (tests/test_tokenizer.py compares them on every kind of text); a model
directory without a tokenizer.json, or whose tokenizer_config.json asks for normalising that
its tokenizer.json does not do, gets transformers' tokenizer as before.

Only what model/encoding.py calls is here: `tokenizer(texts, truncation=, max_length=,
return_overflowing_tokens=, stride=0)` -> input_ids and overflow_to_sample_mapping, and
`pad_token_id`. Truncation is set once per limit and the padding tokenizer.json may carry is
switched off, so calls never change the tokenizer (safe from two threads: a transformers
tokenizer changes its own settings on each call and fails there, "Already borrowed").
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any


def _token(value: Any) -> str | None:
    return value.get("content") if isinstance(value, dict) else value


def _agrees(model_dir: Path, spec: dict) -> bool:
    """tokenizer_config.json's BERT options match tokenizer.json's normalizer (transformers would
    otherwise rebuild the normalizer to match the config)."""
    try:
        config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    normalizer = spec.get("normalizer") or {}
    if normalizer.get("type") != "BertNormalizer":
        return not any(k in config for k in ("do_lower_case", "strip_accents", "tokenize_chinese_chars"))
    return (
        config.get("do_lower_case", normalizer.get("lowercase")) == normalizer.get("lowercase")
        and config.get("strip_accents", normalizer.get("strip_accents")) == normalizer.get("strip_accents")
        and config.get("tokenize_chinese_chars", True) == normalizer.get("handle_chinese_chars", True)
    )


class FastTokenizer:
    def __init__(self, tokenizer, pad_token_id: int) -> None:
        self._tokenizer, self.pad_token_id = tokenizer, pad_token_id
        self._limit: object = ()  # the truncation now set (None: off); () before the first call
        self._lock = threading.Lock()

    def __call__(
        self,
        texts: list[str],
        truncation: bool = False,
        max_length: int | None = None,
        return_overflowing_tokens: bool = False,
        stride: int = 0,
    ) -> dict[str, list]:
        limit = max_length if truncation else None
        if limit != self._limit:
            with self._lock:  # once per limit: later calls only read the tokenizer
                if limit is None:
                    self._tokenizer.no_truncation()
                else:
                    self._tokenizer.enable_truncation(limit, stride=stride, strategy="longest_first")
                self._limit = limit
        rows, mapping = [], []
        for index, encoded in enumerate(self._tokenizer.encode_batch(list(texts), add_special_tokens=True)):
            for row in [encoded, *(encoded.overflowing if return_overflowing_tokens else [])]:
                rows.append(row.ids)
                mapping.append(index)
        out: dict[str, list] = {"input_ids": rows}
        if return_overflowing_tokens:
            out["overflow_to_sample_mapping"] = mapping
        return out

    def __deepcopy__(self, memo) -> FastTokenizer:
        from tokenizers import Tokenizer

        return FastTokenizer(Tokenizer.from_str(self._tokenizer.to_str()), self.pad_token_id)


def load(model_dir: Path):
    """The model directory's tokenizer: FastTokenizer where it can give transformers' ids, else
    transformers' own (which imports torch)."""
    path = model_dir / "tokenizer.json"
    spec = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    if spec is not None and _agrees(model_dir, spec):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(path))
        tokenizer.no_padding()
        config_path = model_dir / "tokenizer_config.json"
        config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
        pad = _token(config.get("pad_token")) or (spec.get("padding") or {}).get("pad_token") or "[PAD]"
        return FastTokenizer(tokenizer, tokenizer.token_to_id(pad) or 0)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
