"""The API for releases, stages and predictions (see reprostack.api)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reprostack.results import (
    Prediction,
    Predictions,
    ReleaseResult,
    StorePush,
)

if TYPE_CHECKING:  # pragma: no cover
    from reprostack.registry.catalog import Registry
    from reprostack.registry.history import Event
    from reprostack.registry.loader import LoadedModel

from reprostack.api._common import PARAMS, _params


def release(
    name: str | None = None,
    *,
    version: str | None = None,
    bump: str | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> ReleaseResult:
    """Register the candidate as a new version (default name: model_name), commit, tag, and push
    it to the store if one is configured (a failed push leaves the release standing)."""
    from reprostack.core import names
    from reprostack.registry import release as releasing

    found = releasing.release(
        root, names.check_model_name(name or _params(root, params_file).model_name), version=version, bump=bump
    )
    return ReleaseResult(**{**found, "store": StorePush(**found["store"])})


def _event(data: dict) -> Event:
    from reprostack.registry.history import Event

    return Event.model_validate(data)


def promote(
    name: str,
    version: str,
    *,
    to: str | None = None,
    reason: str = "",
    override: str | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> Event:
    """Move a released version up (default: to production, the one there is archived), if
    conf/policy.yaml allows it; `override` (a reason) moves it anyway and is kept in the history."""
    from reprostack.registry import promotion

    return _event(promotion.promote(root, _params(root, params_file), name, version, to, reason, override))


def demote(
    name: str,
    version: str,
    *,
    to: str | None = None,
    reason: str = "",
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> Event:
    """Move a version down (default: to archived)."""
    from reprostack.registry import promotion

    return _event(promotion.demote(root, _params(root, params_file), name, version, to, reason))


def rollback(name: str, *, reason: str = "", root: str | Path = ".", params_file: str | Path = PARAMS) -> Event:
    """Put the previous production version back in production."""
    from reprostack.registry import promotion

    return _event(promotion.rollback(root, _params(root, params_file), name, reason))


def show_registry(root: str | Path = ".", params_file: str | Path = PARAMS) -> Registry:
    """registry.json, validated against conf/registry/'s stage rules (empty before a release)."""
    from reprostack.registry import catalog

    return catalog.Registry.model_validate(catalog.read(root, _params(root, params_file).registry))


def load_model(ref: str | None = None, root: str | Path = ".", params_file: str | Path = PARAMS) -> LoadedModel:
    """A registered model, its file checked against the registry's sha256: name, name@stage or
    name@vX.Y.Z (default: model_name in production)."""
    from reprostack.registry import loader

    return loader.load_ref(ref or _params(root, params_file).model_name, root=root)


def predict(
    texts: Sequence[str],
    model: str | LoadedModel | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> Predictions:
    """Label texts with a registered model (a ref as for load_model, or one already loaded),
    encoded by the embedding model it was trained on."""
    from reprostack.registry import loader

    loaded = model if isinstance(model, loader.LoadedModel) else load_model(model, root, params_file)
    found = loaded.predict(list(texts), loader.text_embedder(loaded.embedding, root))
    return Predictions(model=loaded.info(), predictions=[Prediction(**p) for p in found])
