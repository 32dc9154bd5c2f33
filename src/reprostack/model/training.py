"""Pure training logic: split, build, fit. No files here except save/load of the model."""

from __future__ import annotations

import hashlib
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from reprostack.core import jsonio
from reprostack.core.config import ModelParams
from reprostack.core.errors import ConfigError, DataError, IntegrityError
from reprostack.data.hashing import sha256_bytes, sha256_file

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

MODEL_FILE = "model.pkl"
MODEL_CARD = "model.json"


class ModelCard(jsonio.Document):
    """model.json beside a model file: its sha256 (checked before unpickling) and what built it.
    A released copy adds its name and version."""

    schema_version: int = 1
    file: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    classifier: str
    target: str | None = None  # conf/model's _target_; cards written before it lack it
    options: dict[str, Any] = {}
    classes: list[str]
    n_train: int
    snapshot: str | None = None
    vectors: dict[str, Any] | None = None
    embedding_model: str | None = None
    name: str | None = None
    version: str | None = None


def is_test(row_id: str, test_size: float, seed: int) -> bool:
    """Split by a hash of the id: a row keeps its side when other rows are added or removed."""
    bucket = int.from_bytes(hashlib.sha256(f"{seed}:{row_id}".encode()).digest()[:8], "big")
    return bucket / 2**64 < test_size


def split_mask(ids: Sequence[str], test_size: float, seed: int) -> list[bool]:
    return [is_test(row_id, test_size, seed) for row_id in ids]


def check_classifier(params) -> None:
    """Build (not fit) the classifier of `params`, so a bad argument stops the pipeline before any
    work (config.write_composed's check)."""
    build_classifier(params.model)


def build_classifier(params: ModelParams):
    """The classifier conf/model/ describes, built by Hydra's instantiate from `_target_` and its
    arguments; any problem is one ConfigError naming the key (config.validate has already
    restricted `_target_` to the allowed modules). A new classifier is one YAML file."""
    import inspect

    from hydra.errors import HydraException
    from hydra.utils import get_class, instantiate
    from sklearn.base import is_classifier
    from sklearn.utils._param_validation import InvalidParameterError

    fix = f"fix it in conf/model/{params.name}.yaml"
    try:
        cls = get_class(params.target)
    except (HydraException, ImportError, ValueError):
        raise ConfigError(f"model._target_ {params.target!r} cannot be imported; {fix}") from None
    accepted = inspect.signature(cls).parameters
    for key in params.options:
        if key not in accepted:
            raise ConfigError(f"unknown key model.{key}: {cls.__name__} takes {', '.join(accepted)}; {fix}")
    if "random_state" in accepted and "random_state" not in params.options:
        raise ConfigError(
            f"model.random_state is missing: add `random_state: ${{seed}}` to conf/model/{params.name}.yaml "
            "so that training is reproducible"
        )
    model = instantiate(params.to_config(), _convert_="all")  # plain dicts and lists, no OmegaConf in the pickle
    if not is_classifier(model):
        raise ConfigError(f"model._target_ {params.target} is not a classifier; {fix}")
    try:
        model._validate_params()  # scikit-learn's own constraints, the same check fit() makes
    except InvalidParameterError as exc:
        found = re.match(r"The '(\w+)' parameter", str(exc))
        key = f"model.{found.group(1)}" if found else "model"
        raise ConfigError(
            f"{key}: {str(exc).splitlines()[0]} ({fix}, or pass -S {key}=<value> to dvc exp run)"
        ) from None
    return model


def train(params: ModelParams, X: np.ndarray, y: Sequence[str]):
    """Fit the configured classifier on X, y and return it."""
    if len(y) == 0:
        raise DataError("no training rows left after the split; lower data.test_size or add data")
    if len(set(y)) < 2:
        raise DataError(f"the training split holds only one label ({y[0]!r}); add data for other labels")
    model = build_classifier(params)
    model.fit(X, list(y))
    return model


def save_model(model: Any, path: str | Path) -> str:
    """Write the model atomically and return its sha256.

    pickle rather than skops: skops names its archive members by Python object ids, so the same
    model gives a different file each run, and a reproducible sha256 is the point. Loading is
    only ever done after the sha256 check in load_classifier.
    """
    data = pickle.dumps(model, protocol=5)
    jsonio.atomic_write_bytes(path, data)
    return sha256_bytes(data)


def file_sha256(path: str | Path) -> str:
    try:
        return sha256_file(path)
    except FileNotFoundError:
        raise IntegrityError(f"model file {path} does not exist; run `dvc repro` or `dvc checkout`") from None


def load_classifier(path: str | Path, expected_sha256: str) -> Any:
    """Unpickle only a file whose sha256 matches the one recorded when it was written."""
    path = Path(path)
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise IntegrityError(
            f"model file {path} has sha256 {actual[:12]}, expected {expected_sha256[:12]}; "
            "it was changed after training: restore it with `dvc checkout` or re-run `dvc repro`"
        )
    return pickle.loads(path.read_bytes())


def write_card(directory: str | Path, card: dict) -> None:
    jsonio.save(Path(directory) / MODEL_CARD, ModelCard(**{**card, "schema_version": ModelCard.SCHEMA_VERSION}))


def read_card(directory: str | Path) -> ModelCard:
    return jsonio.load(Path(directory) / MODEL_CARD, ModelCard, error=IntegrityError, what="model card")
