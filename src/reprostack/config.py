"""Typed, validated params.

conf/ (Hydra) is where parameters live; params.yaml is its composition, which DVC reads. Every
stage loads params.yaml through `load_params`, so a bad value stops the pipeline with one line
naming the key and the file to fix, before any work is done.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reprostack.errors import ConfigError

PARAMS_FILE = "params.yaml"
CONF_DIR = "conf"
HEADER = (
    "# Composed from conf/ by `reprostack params compose` (or by `dvc exp run`). Do not edit:\n"
    "# change conf/ instead. The compose stage of dvc.yaml keeps this file in step with conf/.\n"
)

# model_name names a directory (models/<model_name>/) and a git tag part, so no '/' or spaces.

# Which keyword arguments each classifier accepts, with a validator per key. One place for the
# rules, so the error for `model.C=abc` and the training code cannot disagree.
CLASSIFIERS: dict[str, dict[str, str]] = {
    "logreg": {"C": "positive_float", "max_iter": "positive_int", "class_weight": "class_weight"},
    "random_forest": {
        "n_estimators": "positive_int",
        "max_depth": "optional_positive_int",
        "min_samples_leaf": "positive_int",
        "class_weight": "class_weight",
    },
}

# ANN index kinds LanceDB builds for `embedding.index_type` (see vectors/search.py).
INDEX_TYPES = ("IVF_HNSW_SQ", "IVF_PQ")


@dataclass(frozen=True)
class DataParams:
    name: str
    raw_dir: str
    file: str
    id_column: str
    text_column: str
    label_column: str
    test_size: float
    link: str


@dataclass(frozen=True)
class EmbeddingParams:
    model: str
    batch_size: int
    device: str
    normalize: bool
    uri: str
    table: str
    storage_options: dict[str, str]
    index_type: str
    index_min_rows: int
    # optional keys: params.yaml files from before they existed used the per-length encoding
    encoding: str = "per-length"
    revision: str | None = None


@dataclass(frozen=True)
class ServeParams:
    """`reprostack serve`: the batching queue and the request limits (conf/serve/)."""
    max_batch: int = 64  # texts per forward pass
    max_wait_ms: float = 2.0  # how long the first request of a batch waits for company
    queue_size: int = 1024  # texts waiting; beyond it requests get 503 with Retry-After
    max_body_bytes: int = 1_000_000  # a bigger body gets 413


@dataclass(frozen=True)
class ModelParams:
    name: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PathParams:
    snapshots: str
    snapshot_pointer: str
    vectors_pointer: str
    candidate: str
    eval: str
    runs: str


@dataclass(frozen=True)
class RegistryParams:
    stages: tuple[str, ...]
    initial: str
    production: str
    replaced_to: str
    released_only: tuple[str, ...]
    commit: bool
    lock_timeout: float


@dataclass(frozen=True)
class Params:
    data: DataParams
    embedding: EmbeddingParams
    model: ModelParams
    paths: PathParams
    model_name: str
    registry: RegistryParams
    seed: int
    threads: int
    raw: dict = field(default_factory=dict, compare=False, repr=False)
    serve: ServeParams = field(default_factory=ServeParams)


def _fail(key: str, expected: str, value: Any, source: str) -> ConfigError:
    return ConfigError(
        f"{source}: {key} must be {expected}, got {value!r}; fix it in conf/ "
        f"(or pass -S {key}=<value> to dvc exp run)"
    )


def _check(kind: str, key: str, value: Any, source: str) -> Any:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise _fail(key, "a non-empty string", value, source)
    elif kind == "name":  # the registry's rule for model names, kept in one place (names.py)
        from reprostack import names

        if not isinstance(value, str) or not names.MODEL_NAME_RE.match(value):
            raise _fail(key, "1-64 lowercase letters, digits, '-' or '_', starting and ending with a letter or digit",
                        value, source)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _fail(key, "true or false", value, source)
    elif kind == "positive_int":
        if not is_int or value <= 0:
            raise _fail(key, "a positive integer", value, source)
    elif kind == "optional_positive_int":
        if value is not None and (not is_int or value <= 0):
            raise _fail(key, "a positive integer or null", value, source)
    elif kind == "positive_float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise _fail(key, "a positive number", value, source)
        value = float(value)
    elif kind == "fraction":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise _fail(key, "a number between 0 and 1", value, source)
        value = float(value)
    elif kind == "class_weight":
        if value not in (None, "balanced"):
            raise _fail(key, "null or 'balanced'", value, source)
    elif kind == "link":
        if value not in ("hardlink", "copy"):
            raise _fail(key, "hardlink or copy", value, source)
    elif kind == "string_map":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise _fail(key, "a mapping of strings to strings (quote numbers)", value, source)
        value = dict(value)
    elif kind == "index_type":
        if value not in INDEX_TYPES:
            raise _fail(key, " or ".join(INDEX_TYPES), value, source)
    elif kind == "optional_revision":
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise _fail(key, "null or a commit hash of the model's hub repository", value, source)
    elif kind == "encoding":
        from reprostack.model.encoding import check_scheme

        check_scheme(value)
    elif kind == "non_negative_float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _fail(key, "a number >= 0", value, source)
        value = float(value)
    elif kind == "device":
        if not isinstance(value, str) or value.split(":")[0] not in ("cpu", "cuda", "mps"):
            raise _fail(key, "cpu, cuda[:N] or mps", value, source)
    else:  # pragma: no cover - a typo in this module
        raise AssertionError(kind)
    return value


def _section(raw: dict, name: str, spec: dict[str, str], source: str, optional: tuple = ()) -> dict[str, Any]:
    section = raw.get(name, {} if name in optional else None)
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: section '{name}' is missing; run `reprostack params compose`")
    unknown = sorted(set(section) - set(spec))
    if unknown:
        raise ConfigError(f"{source}: unknown key {name}.{unknown[0]}; allowed: {', '.join(sorted(spec))}")
    out = {}
    for key, kind in spec.items():
        if key not in section and key in optional:
            continue
        if key not in section:
            raise ConfigError(f"{source}: {name}.{key} is missing; add it to conf/")
        out[key] = _check(kind, f"{name}.{key}", section[key], source)
    return out


def _registry_section(raw: dict, source: str) -> RegistryParams:
    """Stage rules (conf/registry/): every named stage must be one of `stages`."""
    from reprostack import names
    from reprostack.errors import RegistryError

    section = raw.get("registry")
    if not isinstance(section, dict):
        raise ConfigError(f"{source}: section 'registry' is missing; run `reprostack params compose`")
    spec = {"stages": "list", "initial": "str", "production": "str", "replaced_to": "str",
            "released_only": "list", "commit": "bool", "lock_timeout": "positive_float"}
    unknown = sorted(set(section) - set(spec))
    if unknown:
        raise ConfigError(f"{source}: unknown key registry.{unknown[0]}; allowed: {', '.join(sorted(spec))}")
    for key, kind in spec.items():
        if key not in section and key in optional:
            continue
        if key not in section:
            raise ConfigError(f"{source}: registry.{key} is missing; add it to conf/registry/")
        if kind == "list":
            if not isinstance(section[key], list):
                raise _fail(f"registry.{key}", "a list of stage names", section[key], source)
        else:
            _check(kind, f"registry.{key}", section[key], source)
    stages = section["stages"]
    try:
        for stage in [*stages, *section["released_only"], section["initial"], section["production"],
                      section["replaced_to"]]:
            names.check_stage_name(stage)
    except RegistryError as exc:
        raise ConfigError(f"{source}: registry: {exc}") from None
    if len(set(stages)) != len(stages) or len(stages) < 2:
        raise _fail("registry.stages", "at least two distinct stage names", stages, source)
    for key in ("initial", "production", "replaced_to"):
        if section[key] not in stages:
            raise _fail(f"registry.{key}", f"one of registry.stages {stages}", section[key], source)
    for stage in section["released_only"]:
        if stage not in stages:
            raise _fail("registry.released_only", f"stages from registry.stages {stages}", stage, source)
    if section["replaced_to"] == section["production"]:
        raise _fail("registry.replaced_to", "a stage other than registry.production", section["replaced_to"], source)
    return RegistryParams(stages=tuple(stages), initial=section["initial"], production=section["production"],
                          replaced_to=section["replaced_to"], released_only=tuple(section["released_only"]),
                          commit=section["commit"], lock_timeout=float(section["lock_timeout"]))


def validate(raw: Any, source: str = PARAMS_FILE) -> Params:
    """Turn a composed config dict into Params, or raise one ConfigError naming the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    data = _section(raw, "data", {
        "name": "str", "raw_dir": "str", "file": "str", "id_column": "str",
        "text_column": "str", "label_column": "str", "test_size": "fraction", "link": "link",
    }, source)
    columns = [data["id_column"], data["text_column"], data["label_column"]]
    if len(set(columns)) != 3:
        raise ConfigError(f"{source}: data.id_column, text_column and label_column must differ, got {columns}")
    embedding = _section(raw, "embedding", {
        "model": "str", "batch_size": "positive_int", "device": "device", "normalize": "bool",
        "uri": "str", "table": "str", "storage_options": "string_map", "index_type": "index_type",
        "index_min_rows": "positive_int", "encoding": "encoding", "revision": "optional_revision",
    }, source, optional=("encoding", "revision"))
    serve = _section(raw, "serve", {"max_batch": "positive_int", "max_wait_ms": "non_negative_float",
                                    "queue_size": "positive_int", "max_body_bytes": "positive_int"},
                     source, optional=("serve", "max_batch", "max_wait_ms", "queue_size", "max_body_bytes"))
    paths = _section(raw, "paths", {key: "str" for key in PathParams.__dataclass_fields__}, source)
    model_raw = raw.get("model")
    if not isinstance(model_raw, dict) or model_raw.get("name") not in CLASSIFIERS:
        name = model_raw.get("name") if isinstance(model_raw, dict) else model_raw
        raise ConfigError(
            f"{source}: model.name must be one of {', '.join(sorted(CLASSIFIERS))}, got {name!r}; "
            "pick a file from conf/model/"
        )
    spec = {"name": "str", **CLASSIFIERS[model_raw["name"]]}
    model = _section(raw, "model", spec, source)
    for key in ("model_name", "seed", "threads"):
        if key not in raw:
            raise ConfigError(f"{source}: {key} is missing; add it to conf/config.yaml")
    seed = raw["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _fail("seed", "a non-negative integer", seed, source)
    threads = _check("positive_int", "threads", raw["threads"], source)
    model_name = _check("name", "model_name", raw["model_name"], source)
    registry = _registry_section(raw, source)
    name = model.pop("name")
    return Params(
        data=DataParams(**data),
        embedding=EmbeddingParams(**embedding),
        model=ModelParams(name=name, options=model),
        paths=PathParams(**paths),
        model_name=model_name,
        registry=registry,
        seed=seed,
        threads=threads,
        raw=raw,
        serve=ServeParams(**serve),
    )


def read_params_file(path: str | Path = PARAMS_FILE) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist; run `reprostack params compose`") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML ({exc.__class__.__name__}); run `reprostack params compose`") from None
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


def write_composed(conf_dir: str | Path = CONF_DIR, params_path: str | Path = PARAMS_FILE,
                   overrides: list[str] | None = None) -> dict[str, tuple[Any, Any]]:
    """Compose conf/, validate it, write params.yaml atomically; return what changed in it."""
    from reprostack import jsonio

    composed = compose(conf_dir, overrides)
    validate(composed, source="conf/ (composed)")
    try:
        changes = diff(read_params_file(params_path), composed)
    except ConfigError:
        changes = {"<params.yaml>": ("<unreadable or missing>", "<composed>")}
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
