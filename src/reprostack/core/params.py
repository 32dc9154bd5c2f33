"""The schema of params.yaml: one pydantic model per section, constrained types (fields.py), no
extra keys. A bad value is one line naming the key, what it must be and the fix (config.validate).
The classifier's own arguments are checked by the classifier itself (model/training.py):
scikit-learn knows its constraints better than a copy of them here would.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, PrivateAttr, Strict, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reprostack.core import names
from reprostack.core.fields import (
    Flag,
    Fraction,
    ModelName,
    NonNegative,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    StringMap,
    Text,
    expect,
    problem,
)

# ANN index kinds LanceDB builds for `embedding.index_type` (see vectors/search.py).
INDEX_TYPES = ("IVF_HNSW_SQ", "IVF_PQ")
# Classes a conf/model/*.yaml `_target_` may name: Hydra would import and call anything.
ALLOWED_TARGETS = ("sklearn.",)
TARGET_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


HookRef = Annotated[
    str | None,
    Strict(),
    Field(pattern=r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$"),
    expect("null or '<module>:<function>' of the project's own code, e.g. 'my_project.data:preprocess'"),
]


class DataParams(Section):
    name: Text
    raw_dir: Text
    file: Text
    id_column: Text
    text_column: Text
    label_column: Text
    test_size: Fraction
    link: Annotated[Literal["hardlink", "copy"], expect("hardlink or copy")]
    # The project's data hook (data/hook.py), imported only when a stage reads the dataset.
    preprocess: HookRef = None

    @model_validator(mode="after")
    def _distinct_columns(self):
        columns = [self.id_column, self.text_column, self.label_column]
        if len(set(columns)) != 3:
            raise problem(f"data.id_column, text_column and label_column must differ, got {columns}")
        return self


Address = Annotated[
    str | None,
    Strict(),
    Field(pattern=r"^(auto|\[?[A-Za-z0-9_.:-]*\]?:[0-9]{1,5})$"),
    expect("null (start a local Ray instance), 'auto' or host:port of a running cluster's head (ray start --head)"),
]


class RayParams(Section):
    """conf/embedding/ `ray:`: where and how `embedding.engine: ray` runs (cluster/)."""

    address: Address = None
    actors_per_node: PositiveInt = 1  # encoder actors (one model copy each) per node
    num_cpus: PositiveFloat = 1.0  # per actor
    num_gpus: NonNegative = 0.0  # per actor; > 0 needs embedding.device cuda
    batch_size: PositiveInt = 1024  # rows per block handed to an actor (it encodes embedding.batch_size at a time)
    connect_timeout_s: PositiveFloat = 20.0  # an unreachable address fails within this


class EmbeddingParams(Section):
    model: Text
    batch_size: PositiveInt
    device: Annotated[str, Strict(), Field(pattern=r"^(cpu|cuda(:\d+)?|mps)$"), expect("cpu, cuda[:N] or mps")]
    normalize: Flag
    uri: Text
    table: Text
    storage_options: StringMap
    index_type: Annotated[Literal[INDEX_TYPES], expect(" or ".join(INDEX_TYPES))]
    index_min_rows: PositiveInt
    # How texts share a forward pass (model/encoding.py). Part of a vector column's identity.
    # params.yaml files from before these keys existed used the per-length encoding.
    # model/encoding.py's schemes (core imports no domain package, so the rule is repeated here)
    encoding: Annotated[
        str,
        Strict(),
        Field(pattern=r"^(per-length|bucket[1-9][0-9]{0,3}(x[1-9][0-9]{0,3})?)$"),
        expect("'per-length', 'bucketN' or 'bucketNxR' (e.g. 'bucket8x16'); fix it in conf/embedding/"),
    ] = "per-length"
    # A hub model read from the Hugging Face cache at this commit; null for packaged weights and paths.
    revision: Annotated[
        str | None, Strict(), Field(pattern=r"\S"), expect("null or a commit hash of the model's hub repository")
    ] = None
    # Which runtime runs the forward pass (model/backends.py): torch, or the model exported once to
    # ONNX and run by ONNX Runtime or OpenVINO. Part of a vector column's identity (other last
    # bits); files from before this key existed used torch. (model/backends.py's BACKENDS)
    backend: Annotated[
        Literal["torch", "onnx", "openvino", "openvino-bf16"], expect("torch, onnx, openvino or openvino-bf16")
    ] = "torch"
    # Where texts are encoded: this process, or a Ray cluster (bit-identical on the same hardware,
    # so neither key is part of a vector column's identity).
    engine: Annotated[Literal["local", "ray"], expect("local or ray")] = "local"
    ray: RayParams = RayParams()
    # A local table outside the project (an absolute path, or one climbing out with ..) only when
    # asked for: a typo would otherwise create directories anywhere and re-embed everything.
    allow_outside_project: Flag = False

    @model_validator(mode="after")
    def _inside_project(self) -> EmbeddingParams:
        uri = self.uri
        if "://" in uri or self.allow_outside_project:
            return self
        if uri.startswith(("/", "~")) or ".." in re.split(r"[/\\]", uri):
            raise problem(
                f"embedding.uri {uri!r} is outside the project; use a path relative to it (e.g. data/vectors), "
                "or set embedding.allow_outside_project: true in conf/embedding/ to keep the table there"
            )
        return self

    @model_validator(mode="after")
    def _backend_on_cpu(self):
        if self.backend != "torch" and self.device != "cpu":
            raise problem(
                f"embedding.backend {self.backend} runs on the CPU here, embedding.device is {self.device}; "
                "set backend: torch for a GPU, or device: cpu"
            )
        return self


class ModelParams(Section):
    """conf/model/<name>.yaml: `name`, `_target_` (a classifier class) and its keyword arguments,
    which pass to the class as they are (seeds too: `random_state: ${seed}`)."""

    model_config = ConfigDict(populate_by_name=True)
    name: ModelName
    target: Annotated[str, Strict(), Field(alias="_target_")]
    options: dict[str, JsonValue] = {}

    @model_validator(mode="before")
    @classmethod
    def _gather_options(cls, data: Any) -> Any:
        """In YAML the arguments sit beside name and _target_; here they are `options`."""
        if isinstance(data, dict) and "options" not in data:
            fixed = {"name", "_target_", "target"}
            data = {
                **{k: v for k, v in data.items() if k in fixed},
                "options": {k: v for k, v in data.items() if k not in fixed},
            }
        return data

    @field_validator("target", mode="before")
    @classmethod
    def _allowed_target(cls, target: Any) -> str:
        check_target(target, "model._target_")
        return target

    @field_validator("options")
    @classmethod
    def _allowed_nested_targets(cls, options: dict) -> dict:
        def walk(value: Any, key: str) -> None:  # Hydra instantiates nested _target_ too
            if isinstance(value, dict):
                for k, v in value.items():
                    check_target(v, f"{key}.{k}") if k == "_target_" else walk(v, f"{key}.{k}")
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    walk(v, f"{key}.{i}")

        walk(options, "model")
        return options

    def to_config(self) -> dict[str, Any]:
        """The dict hydra.utils.instantiate builds the classifier from."""
        return {"_target_": self.target, **self.options}


def check_target(target: Any, key: str) -> None:
    if not isinstance(target, str) or not TARGET_RE.match(target) or not target.startswith(ALLOWED_TARGETS):
        raise problem(
            f"{key} must be a class under {' or '.join(ALLOWED_TARGETS)} (e.g. "
            f"sklearn.linear_model.LogisticRegression), got {target!r}; pick a file from conf/model/"
        )


class PathParams(Section):
    snapshots: Text
    snapshot_pointer: Text
    vectors_pointer: Text
    candidate: Text
    eval: Text
    runs: Text


class RegistryParams(Section):
    """conf/registry/: stage rules; every named stage must be one of `stages`."""

    stages: tuple[str, ...]
    initial: str
    production: str
    replaced_to: str
    released_only: tuple[str, ...]
    commit: Flag
    lock_timeout: PositiveFloat

    @field_validator("stages", "released_only", mode="before")
    @classmethod
    def _stage_list(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise PydanticCustomError("expected", "must be {expected}", {"expected": "a list of stage names"})
        return value

    @field_validator("stages", "released_only", "initial", "production", "replaced_to")
    @classmethod
    def _stage_names(cls, value: Any) -> Any:
        from reprostack.core.errors import RegistryError

        try:
            for stage in value if isinstance(value, tuple) else [value]:
                names.check_stage_name(stage)
        except RegistryError as exc:
            raise problem(f"registry: {exc}") from None
        return value

    @model_validator(mode="after")
    def _rules(self):
        def fail(key: str, expected: str, value: Any):
            return PydanticCustomError(
                "expected", "must be {expected}", {"expected": expected, "key": key, "input": value}
            )

        if len(set(self.stages)) != len(self.stages) or len(self.stages) < 2:
            raise fail("registry.stages", "at least two distinct stage names", list(self.stages))
        for key in ("initial", "production", "replaced_to"):
            if getattr(self, key) not in self.stages:
                raise fail(f"registry.{key}", f"one of registry.stages {list(self.stages)}", getattr(self, key))
        for stage in self.released_only:
            if stage not in self.stages:
                raise fail("registry.released_only", f"stages from registry.stages {list(self.stages)}", stage)
        if self.replaced_to == self.production:
            raise fail("registry.replaced_to", "a stage other than registry.production", self.replaced_to)
        return self


class ServeParams(Section):
    """conf/serve/: `reprostack serve`'s batching queue and request limits."""

    max_batch: PositiveInt = 64  # texts per forward pass
    max_wait_ms: NonNegative = 2.0  # how long the first request of a batch waits for company
    max_hold_ms: NonNegative = 250.0  # how long a text may wait for a fuller forward pass under load
    queue_size: PositiveInt = 1024  # texts waiting; beyond it requests get 503 with Retry-After
    max_body_bytes: PositiveInt = 1_000_000  # a bigger body gets 413


class ReproduceParams(Section):
    """conf/config.yaml `reproduce:`: how close `runs reproduce` must come when the outputs are
    not bit-identical (re-embedded on another CPU, say) to count as "within tolerance"."""

    metric_abs: NonNegative = 0.01  # largest |metric difference|
    identical_predictions: Annotated[float, Strict(), Field(ge=0, le=1), expect("a number from 0 to 1")] = 0.99
    float_noise: NonNegative = 1e-5  # vector differences up to this are last-bit float noise


class Params(Section):
    """params.yaml. `raw` is the composed dict itself, as written (what run records keep)."""

    data: DataParams
    embedding: EmbeddingParams
    model: ModelParams
    paths: PathParams
    model_name: ModelName
    registry: RegistryParams
    seed: NonNegativeInt
    threads: PositiveInt
    reproduce: ReproduceParams = ReproduceParams()  # projects made before it get the defaults
    serve: ServeParams = ServeParams()
    _raw: dict = PrivateAttr(default_factory=dict)

    @property
    def raw(self) -> dict:
        return self._raw


SECTIONS: dict[str, type[Section]] = {
    name: field.annotation
    for name, field in Params.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
}
