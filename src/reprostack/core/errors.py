"""One exception root. The CLI and the stage runner turn any ReprostackError into one line
and a non-zero exit; everything else is a bug and keeps its traceback."""


class ReprostackError(Exception):
    """Base of every error a user can cause and fix."""

    exit_code = 1


class ConfigError(ReprostackError):
    """params.yaml or conf/ is invalid, or params.yaml drifted from conf/."""


class DataError(ReprostackError):
    """Raw input data is missing, empty, mis-encoded or lacks columns."""


class SnapshotError(ReprostackError):
    """A snapshot is missing, tampered with or inconsistent with its manifest."""


class ModelNotFoundError(ReprostackError):
    """An embedding model name or path cannot be resolved offline."""


class VectorStoreError(ReprostackError):
    """The LanceDB table or its pointer file is missing or inconsistent."""


class IntegrityError(ReprostackError):
    """A file's sha256 does not match the one recorded for it."""


class RunRecordError(ReprostackError):
    """A run record is missing or invalid."""


class HashingError(ReprostackError):
    """A file could not be read, or changed while it was being hashed."""


class RegistryError(ReprostackError):
    """models/registry.json, a model name, a stage rule or a registry lock is the problem."""


class ReleaseError(ReprostackError):
    """A release cannot be made: dirty tree, stale pipeline, existing tag, bad version."""


class ServeError(ReprostackError):
    """The model server cannot start or load its model."""


class StoreError(ReprostackError):
    """The shared store (the project's default DVC remote) is missing, down, or refuses us."""


class ClusterError(ReprostackError):
    """The Ray cluster for embedding.engine: ray is unreachable, misconfigured or failed."""


class MissingExtraError(ReprostackError):
    """A feature needs an optional extra that is not installed (`pip install 'reprostack[<extra>]'`)."""


def lance_io(exc: BaseException) -> VectorStoreError | None:
    """A Lance IO error (a torn or missing table file, raised by the Rust reader as pyarrow's
    ArrowInvalid or OSError) as one line naming the way to its fix; None for anything else."""
    import re

    text = str(exc)
    module = type(exc).__module__
    # Lance's Rust errors reach Python as pyarrow's ArrowInvalid/OSError; other pyarrow errors
    # (a CSV, a schema) are not this and stay as they are
    from_lance = module.startswith("lance") or (module.startswith("pyarrow") and "lance" in text.lower())
    if "LanceError" not in text and not from_lance:
        return None
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r",? ?/\S+\.rs:\d+(:\d+)?", "", first)  # the Rust source location
    first = first.replace("Please file a bug report at https://github.com/lance-format/lance/issues. ", "")
    return VectorStoreError(
        f"the vector table cannot be read ({first[:240]}); fix: `reprostack verify` names the damaged file "
        "and the command that repairs it"
    )
