"""The built-in stand-in encoder, `embedding.model: hashing:<dim>`: no weights, no torch.

Each word maps to a fixed pseudo-random vector (seeded by its sha256), a text to the normalised
sum of its words' vectors. Texts that share words get close vectors, so a classifier trained on
them learns; it is deterministic, and a text's vector never depends on its batch (each text is
summed on its own, in word order). It is what smoke tests and CI use to run the whole pipeline
in seconds; it is not a semantic model. Like any model it is part of a vector column's identity
(its fingerprint names the algorithm and dimension).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from reprostack.core.errors import ConfigError

PREFIX = "hashing:"
ALGORITHM = "reprostack-hashing-v1"  # change it whenever the vectors below change
_NAME = re.compile(r"hashing:([1-9][0-9]{0,4})")


def is_hashing(name: str) -> bool:
    return str(name).startswith(PREFIX)


def dimension(name: str) -> int:
    match = _NAME.fullmatch(str(name))
    if not match:
        raise ConfigError(
            f"embedding.model {name!r}: the stand-in encoder is 'hashing:<dimension>', "
            "e.g. 'hashing:64'; fix it in conf/embedding/"
        )
    return int(match.group(1))


def fingerprint(name: str) -> str:
    return hashlib.sha256(f"{ALGORITHM}:{dimension(name)}".encode()).hexdigest()


class HashingEncoder:
    """texts -> float32 (n, dim) vectors, counting what it did as model.embedding.LazyEncoder does."""

    def __init__(self, name: str) -> None:
        self.dim = dimension(name)
        self.texts = self.truncated = self.passes = 0

    def _word(self, word: str):
        import numpy as np

        seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode(self, texts: Sequence[str]):
        import numpy as np

        from reprostack.model.encoding import Encoded

        out = np.zeros((len(texts), self.dim))
        for i, text in enumerate(texts):
            for word in str(text).lower().split() or [""]:
                out[i] += self._word(word)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        self.texts += len(texts)
        self.passes += 1
        return Encoded((out / np.where(norms == 0, 1, norms)).astype(np.float32), [False] * len(texts), 1)

    def __call__(self, texts: Sequence[str]):
        return self.encode(texts).vectors
