"""reprostack's public API: what projects and the CLI call (gto's api.py).

`__all__` is the library's semver surface (tests/test_api.py pins it): removing or renaming a
name is a major version, adding one a minor. Every function takes the project's `root` (default:
here) and the params file relative to it, returns a typed result (results.py, or the library's
own validated document where one exists), never prints, and raises ReprostackError subclasses
with one line naming the fix. It is one module to its callers (the functions live in api/_*.py by subject).
Importing it is cheap: everything heavy is imported
inside the function that needs it.
"""

from reprostack.api._governance import check_policy, collect_garbage, provenance, rollback_drill, verify_provenance
from reprostack.api._project import (
    check_params,
    create_snapshot,
    list_snapshots,
    load_params,
    params_drift,
    read_dataset,
    search_vectors,
    vectors_info,
)
from reprostack.api._registry import demote, load_model, predict, promote, release, rollback, show_registry
from reprostack.api._report import diff_runs, report_release, report_run
from reprostack.api._runs import list_runs, reproduce_run, show_run, verify
from reprostack.results import (
    Check,
    DrillResult,
    GcResult,
    PolicyCheck,
    Prediction,
    Predictions,
    ProvenanceResult,
    ReleaseResult,
    ReportResult,
    ReproduceResult,
    RunDiff,
    SearchHit,
    SearchResult,
    SnapshotInfo,
    StorePush,
    VectorsInfo,
    VerifyReport,
)

__all__ = [
    "TextTable",
    "check_params",
    "check_policy",
    "load_params",
    "params_drift",
    "read_dataset",
    "Check",
    "DrillResult",
    "GcResult",
    "PolicyCheck",
    "Prediction",
    "Predictions",
    "ProvenanceResult",
    "ReleaseResult",
    "ReportResult",
    "ReproduceResult",
    "RunDiff",
    "SearchHit",
    "SearchResult",
    "SnapshotInfo",
    "StorePush",
    "VectorsInfo",
    "VerifyReport",
    "collect_garbage",
    "create_snapshot",
    "demote",
    "diff_runs",
    "list_runs",
    "list_snapshots",
    "load_model",
    "predict",
    "promote",
    "provenance",
    "release",
    "report_release",
    "report_run",
    "reproduce_run",
    "rollback",
    "rollback_drill",
    "search_vectors",
    "show_registry",
    "show_run",
    "vectors_info",
    "verify",
    "verify_provenance",
]


def __getattr__(name: str):
    """TextTable (the data hook's argument and result) on first use: reprostack.data loads pydantic."""
    if name == "TextTable":
        from reprostack.data.dataset import TextTable

        return TextTable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
