"""The API for governing what serves: promotion policy, provenance, garbage collection and the
rollback drill (see reprostack.api)."""

from __future__ import annotations

from pathlib import Path

from reprostack.api._common import PARAMS, _params
from reprostack.results import PolicyCheck


def check_policy(
    name: str, version: str, *, to: str | None = None, root: str | Path = ".", params_file: str | Path = PARAMS
) -> PolicyCheck:
    """Evaluate conf/policy.yaml for moving name@version to `to` (default: production); changes nothing."""
    from reprostack.core import names
    from reprostack.core.errors import RegistryError
    from reprostack.registry import catalog, policy

    params = _params(root, params_file)
    rules = params.registry
    names.check_model_name(name)
    names.check_version(version)
    to = to or rules.production
    if to not in rules.stages:
        raise RegistryError(f"unknown stage {to!r}; stages are {', '.join(rules.stages)} (conf/registry/)")
    data = catalog.read(root, rules)
    results = policy.evaluate(root, params.paths.runs, rules, data, name, version, to)
    return PolicyCheck(
        name=name,
        version=version,
        to=to,
        allowed=all(passed for _, passed, _ in results),
        rules=[{"rule": r, "passed": p, "detail": d} for r, p, d in results],
    )
