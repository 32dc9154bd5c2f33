"""Typed, validated params.

conf/ (Hydra) is where parameters live; params.yaml is its composition, which DVC reads. Every
stage loads params.yaml through `load_params`, so a bad value stops the pipeline with one line
naming the key and the file to fix, before any work is done.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reprostack.core import params as schema
from reprostack.core.errors import ConfigError

PARAMS_FILE = "params.yaml"
CONF_DIR = "conf"
HEADER = (
    "# Composed from conf/ by `reprostack params compose` (or by `dvc exp run`). Do not edit:\n"
    "# change conf/ instead. The compose stage of dvc.yaml keeps this file in step with conf/.\n"
)

# The schema lives in params.py; these names are what callers import from here.
Params, ModelParams, RegistryParams = schema.Params, schema.ModelParams, schema.RegistryParams
DataParams, EmbeddingParams, PathParams = schema.DataParams, schema.EmbeddingParams, schema.PathParams
ServeParams = schema.ServeParams
INDEX_TYPES = schema.INDEX_TYPES


def _fail(key: str, expected: str, value: Any, source: str) -> str:
    return (
        f"{source}: {key} must be {expected}, got {value!r}; fix it in conf/ (or pass -S {key}=<value> to dvc exp run)"
    )


def _explain(err: dict, source: str) -> str:
    """One pydantic error as today's one line: the file, the dotted key, what is wrong, the fix."""
    loc, kind, ctx = err["loc"], err["type"], err.get("ctx") or {}
    key = ctx.get("key") or ".".join(str(part) for part in loc)
    section = schema.SECTIONS.get(str(loc[0])) if loc else None
    if kind == "expected":
        return _fail(key, ctx["expected"], ctx.get("input", err["input"]), source)
    if kind == "params":
        return f"{source}: {err['msg']}"
    if kind == "missing" and len(loc) == 1 and section is not None:
        return f"{source}: section '{key}' is missing; run `reprostack params compose`"
    if kind == "missing":
        where = f"conf/{loc[0]}/" if section is not None and loc[0] != "paths" else "conf/config.yaml"
        return f"{source}: {key} is missing; add it to {where}"
    if kind == "extra_forbidden":
        fields = section.model_fields if section is not None and len(loc) == 2 else Params.model_fields
        allowed = sorted(field.alias or name for name, field in fields.items())
        return f"{source}: unknown key {key}; allowed: {', '.join(allowed)}"
    if kind in ("model_type", "dict_type", "model_attributes_type") and section is not None and len(loc) == 1:
        return f"{source}: section '{key}' must be a mapping; run `reprostack params compose`"
    return f"{source}: {key}: {err['msg']}; fix it in conf/"


def validate(raw: Any, source: str = PARAMS_FILE) -> Params:
    """Turn a composed config dict into Params, or raise one ConfigError naming the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(exc.errors(include_url=False)[0], source)) from None
    params._raw = raw
    return params


def read_params_file(path: str | Path = PARAMS_FILE) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run `reprostack params compose`") from None
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"{path} is not valid YAML ({exc.__class__.__name__}); run `reprostack params compose`"
        ) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping; run `reprostack params compose`")
    return raw


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    return validate(read_params_file(path), source=str(path))


def compose(conf_dir: str | Path = CONF_DIR, overrides: list[str] | None = None) -> dict:
    """Compose conf/config.yaml with Hydra, exactly as `dvc exp run` does."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    conf_dir = Path(conf_dir).resolve()
    if not (conf_dir / "config.yaml").is_file():
        raise ConfigError(f"{conf_dir}/config.yaml does not exist; the Hydra config lives there")
    try:
        with initialize_config_dir(config_dir=str(conf_dir), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=list(overrides or []))
        return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ConfigError(f"conf/: {first_line}") from None
    except yaml.YAMLError as exc:  # a syntax error in a conf/ file: Hydra lets PyYAML's through
        raise ConfigError(yaml_error(exc)) from None


def yaml_error(exc: yaml.YAMLError) -> str:
    """One line: the file, line and column, and what the parser expected there."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{mark.name}:{mark.line + 1}:{mark.column + 1}" if mark else "a YAML file"
    what = " ".join(filter(None, (getattr(exc, "context", None), getattr(exc, "problem", None)))) or str(exc)
    return f"{where}: YAML syntax error ({what}); fix the file"


def dump_params(raw: dict) -> str:
    return HEADER + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)


def flatten(raw: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def diff(old: dict, new: dict) -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose values differ, as (old, new); a missing key shows as '<absent>'."""
    a, b = flatten(old), flatten(new)
    absent = "<absent>"
    return {
        key: (a.get(key, absent), b.get(key, absent))
        for key in sorted(set(a) | set(b))
        if a.get(key, absent) != b.get(key, absent)
    }


def write_composed(
    conf_dir: str | Path = CONF_DIR,
    params_path: str | Path = PARAMS_FILE,
    overrides: list[str] | None = None,
    check: Callable[[Params], None] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Compose conf/, validate it, write params.yaml atomically; return what changed in it.
    `check` (model.training.check_classifier for the compose stage and command) runs on changed
    params before they are written: core imports no domain package."""
    from reprostack.core import jsonio

    composed = compose(conf_dir, overrides)
    params = validate(composed, source="conf/ (composed)")
    try:
        changes = diff(read_params_file(params_path), composed)
    except ConfigError:
        changes = {"<params.yaml>": ("<unreadable or missing>", "<composed>")}
    if changes and check is not None:  # unchanged params were checked when first written
        check(params)
    jsonio.atomic_write_text(params_path, dump_params(composed))
    return changes


def drift(conf_dir: str | Path = CONF_DIR, params_path: str | Path = PARAMS_FILE) -> dict[str, tuple[Any, Any]]:
    """Keys where params.yaml differs from conf/ composed, as (conf value, params.yaml value)."""
    return diff(compose(conf_dir), read_params_file(params_path))


KEEP_PARAMS_ENV = "REPROSTACK_KEEP_PARAMS"


def params_given_by_caller() -> bool:
    """True when params.yaml was written for this run and must not be recomposed from conf/:
    `dvc exp run` sets DVC_EXP_NAME after composing it with the -S overrides, and
    `reprostack runs reproduce` sets REPROSTACK_KEEP_PARAMS after restoring a run's params."""
    return bool(os.environ.get("DVC_EXP_NAME") or os.environ.get(KEEP_PARAMS_ENV))


def require_in_sync(root: str | Path = ".", error: type = ConfigError) -> None:
    """Refuse params.yaml that differs from conf/ (e.g. left by `dvc exp run -S`), naming the fix."""
    root = Path(root)
    changed = drift(root / CONF_DIR, root / PARAMS_FILE)
    if changed:
        shown = ", ".join(f"{key}={new!r} (conf/: {old!r})" for key, (old, new) in list(changed.items())[:3])
        raise error(
            f"params.yaml differs from conf/ at {shown}; put the change into conf/ and run `dvc repro`, "
            "or discard it with `reprostack params compose` and `dvc repro`"
        )
