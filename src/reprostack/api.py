"""reprostack's public API (placeholder; filled in below)."""

from __future__ import annotations

from pathlib import Path


def verify(root: str | Path = ".", fix: bool = False) -> dict:
    """fix: first remove what killed processes left behind and re-create stage tags the history
    made that are gone (the findings fixed in place)."""
    from reprostack.core import config
    from reprostack.registry import audit
    from reprostack.runs import integrity
    from reprostack.runs import verify as checks
    from reprostack.store import sync

    root = Path(root)
    params = config.load_params(root / config.PARAMS_FILE)
    removed = integrity.fix_leftovers(root, params) + audit.restore_tags(root, params) if fix else []
    report = {
        "environment": checks.check_environment(root),
        "params": checks.check_params(root),
        "snapshots": checks.check_snapshots(root, params),
        "vectors": checks.check_vectors(root, params),
        "models": checks.check_models(root, params),
        "metrics": integrity.check_metrics(root, params),
        "runs": integrity.check_runs(root, params),
        "leftovers": integrity.check_leftovers(root, params),
        "registry": audit.check_registry(root, params),
        "store": sync.check_verify(root),
    }
    if fix:
        report["removed"] = removed
    report["ok"] = not any(section["problems"] for section in report.values() if isinstance(section, dict))
    return report
