"""The API for governing what serves: promotion policy, provenance, garbage collection and the
rollback drill (see reprostack.api)."""

from __future__ import annotations

from pathlib import Path

from reprostack.api._common import PARAMS, _params
from reprostack.results import DrillResult, GcResult, PolicyCheck, ProvenanceResult


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


def provenance(
    name: str | None = None,
    version: str | None = None,
    *,
    url: str | None = None,
    out: str | Path | None = None,
    sign_key: str | Path | None = None,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> ProvenanceResult:
    """Walk and re-hash a model's provenance chain (of the version a server at `url` holds, or
    of name@version, default production); write it as an in-toto Statement to `out`, signed
    with `sign_key` (an SSH private key) when given."""
    import time

    from reprostack.provenance import chain, statement

    started = time.perf_counter()
    params = _params(root, params_file)
    name = name or params.model_name
    walked = chain.walk(root, params, name, version, url)
    entry = walked.entry or {}
    sha = (entry.get("model") or {}).get("sha256")
    doc = statement.statement(
        name, walked.version, (entry.get("model") or {}).get("path"), sha, walked.links, server=url
    )
    written = signature = None
    if out is not None:
        written = str(statement.write(Path(root) / out, doc))
        if sign_key is not None:
            signature = str(statement.sign(written, sign_key))
    first = walked.first_broken
    return ProvenanceResult(
        name=name,
        version=walked.version,
        verified=first is None,
        first_broken=first.name if first else None,
        links=[link.to_json() for link in walked.links],
        statement=doc,
        written=written,
        signature=signature,
        seconds=round(time.perf_counter() - started, 3),
    )


def verify_provenance(
    statement_file: str | Path, *, allowed_signers: str | Path, identity: str, signature: str | Path | None = None
) -> str:
    """Check a signed provenance statement against an allowed-signers file (ssh-keygen -Y verify)."""
    from reprostack.provenance import statement

    return statement.verify(statement_file, allowed_signers, identity, signature)


def rollback_drill(name: str | None = None, *, root: str | Path = ".", params_file: str | Path = PARAMS) -> DrillResult:
    """Check that the version a rollback would put back can be served now (files, table version,
    embedding model, dimensions, a few known requests through the real prediction path); switches nothing."""
    from reprostack.core import names
    from reprostack.registry import drill

    params = _params(root, params_file)
    return DrillResult(**drill.drill(root, params, names.check_model_name(name or params.model_name)))


def collect_garbage(
    *,
    dry_run: bool = False,
    keep_runs: int = 1,
    keep_production: int = 3,
    root: str | Path = ".",
    params_file: str | Path = PARAMS,
) -> GcResult:
    """Remove what nothing kept reaches (DVC cache and remote, vector table versions and their
    pipeline tags, snapshots, failed releases' leftovers); dry_run lists it with sizes and reasons."""
    from reprostack.core.errors import ConfigError
    from reprostack.gc import collect, plan
    from reprostack.registry import catalog

    if keep_runs < 1 or keep_production < 1:
        raise ConfigError("--keep-runs and --keep-production must be at least 1 (the workspace's run, one rollback)")
    root, params = Path(root), _params(root, params_file)
    finished = None
    if dry_run:
        with catalog.locked(root, params.registry.lock_timeout):
            found = plan.plan(root, params, keep_runs, keep_production)
        sizes = {s: sum(i.size for i in found["items"] if i.store == s) for s in plan.STORES}
    else:
        with catalog.locked(root, params.registry.lock_timeout):
            finished = collect.finish(root, params)
        found = collect.collect(root, params, keep_runs, keep_production)
        sizes = found["freed"]
    return GcResult(
        dry_run=dry_run,
        items=[i.to_json() for i in found["items"]],
        bytes=sizes,
        notes=found["notes"],
        kept=found["kept"],
        finished=finished,
    )
