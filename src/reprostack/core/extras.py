"""The optional extras (pyproject.toml's [project.optional-dependencies]) and the one error line
a missing one gives: "reprostack serve needs the serve extra: pip install 'reprostack[serve]'".

A project that never serves, never uses Ray and keeps its store on a disk installs none of them.
Each entry point that needs an extra calls `require` before importing it, so the user sees the
install command instead of a ModuleNotFoundError traceback from deep inside the library.
tests/test_dependencies.py checks this table against pyproject.toml.
"""

from __future__ import annotations

import importlib.util

from reprostack.core.errors import MissingExtraError

# extra -> the modules the library imports from it
EXTRAS: dict[str, tuple[str, ...]] = {
    # embedding.backend onnx / openvino: the runtime, and onnx for the one-time export (torch.onnx)
    "onnx": ("onnxruntime", "onnx"),
    "openvino": ("openvino", "onnx"),
    "ray": ("ray", "lance_ray"),
    "s3": ("dvc_s3",),
    "serve": ("fastapi", "uvicorn", "prometheus_client"),
}


def missing(extra: str) -> list[str]:
    """The extra's modules that cannot be imported here (found without importing them: Ray takes
    seconds to import, and a run that turns out to need no cluster must not pay for it)."""
    gone = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package missing, or a module set to None
            found = False
        if not found:
            gone.append(module)
    return gone


def require(extra: str, what: str) -> None:
    """Raise one MissingExtraError line if `what` (e.g. "reprostack serve") cannot run here."""
    if missing(extra):
        raise MissingExtraError(f"{what} needs the {extra} extra: pip install 'reprostack[{extra}]'")
