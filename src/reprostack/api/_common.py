"""What every part of the API shares: the params file, loaded relative to the project root."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from reprostack.core.config import Params

PARAMS = "params.yaml"


def _params(root: str | Path, params_file: str | Path) -> Params:
    from reprostack.core import config

    return config.load_params(Path(root) / params_file)


def _under(root: str | Path, path: str | Path) -> str:
    """A params path as seen from here: relative ones are the project's, URIs stay as they are."""
    return str(path) if "://" in str(path) or Path(path).is_absolute() else str(Path(root) / path)
