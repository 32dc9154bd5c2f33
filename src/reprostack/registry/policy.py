"""Promotion policy as code: conf/policy.yaml says, per target stage, what a version must satisfy
before it may enter it.

Rules per stage (all optional): `after` (stages the version must have been in before, by the
history log), `branch` (the branch its release commit must be on), `metrics` (a minimum, or a
largest drop against the version that holds the stage now) and `reproduce` (a stored `runs
reproduce` verdict for its run: `bit-identical`, or `within-tolerance`, which bit-identical
satisfies too). `promote` evaluates the policy and refuses with one line per failed rule unless
`--override "<reason>"` is given, which the history keeps; `reprostack policy check` does the
same for CI. No policy file means no rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from reprostack.core import git, jsonio, names
from reprostack.core.config import RegistryParams
from reprostack.core.errors import ConfigError, RegistryError
from reprostack.registry import catalog, history

POLICY_FILE = Path("conf") / "policy.yaml"
RANK = {"within-tolerance": 1, "bit-identical": 2}
VERDICT_RANK = {"within tolerance": 1, "bit-identical": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricRule(_Strict):
    name: str
    min: float | None = None  # the version's value must be at least this
    max_drop: float | None = Field(None, ge=0)  # at most this much below the stage's current holder

    @model_validator(mode="after")
    def _some_bound(self) -> MetricRule:
        if self.min is None and self.max_drop is None:
            raise ValueError(f"metric rule {self.name!r} needs min or max_drop")
        return self


class StagePolicy(_Strict):
    after: list[str] = []
    branch: str | None = None
    metrics: list[MetricRule] = []
    reproduce: Literal["bit-identical", "within-tolerance"] | None = None


class Policy(_Strict):
    stages: dict[str, StagePolicy] = {}


def load(root: str | Path, rules: RegistryParams) -> Policy:
    """conf/policy.yaml, validated (stages known to conf/registry/); no file: no rules."""
    path = Path(root) / POLICY_FILE
    if not path.exists():
        return Policy()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        policy = Policy.model_validate(raw if raw is not None else {})
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" at line {line + 1}" if line is not None else ""
        raise ConfigError(f"{POLICY_FILE} is not valid YAML{where}; fix the file") from None
    except ValidationError as exc:
        raise ConfigError(f"{POLICY_FILE}: {jsonio.explain(exc)}; fix the file (see its comments)") from None
    for stage, rule in policy.stages.items():
        for name in [stage, *rule.after]:
            if name not in rules.stages:
                raise ConfigError(
                    f"{POLICY_FILE}: unknown stage {name!r}; stages are {', '.join(rules.stages)} (conf/registry/)"
                )
    return policy


def _holder(data: dict, name: str, stage: str, version: str) -> dict | None:
    others = [e for e in catalog.in_stage(data, name, stage) if e["version"] != version]
    return max(others, key=lambda e: names.version_key(e["version"])) if others else None


def _on_branch(root: Path, commit: str, branch: str) -> bool:
    return any(
        git.rev_parse(root, ref) and git.ok(root, "merge-base", "--is-ancestor", commit, ref)
        for ref in (f"refs/heads/{branch}", f"refs/remotes/origin/{branch}")
    )


def evaluate(root: str | Path, runs_dir: str, rules: RegistryParams, data: dict, name: str, version: str, to: str):
    """[(rule, passed, detail)] for moving name@version to `to` under conf/policy.yaml."""
    root = Path(root)
    entry = catalog.require_version(data, name, version)
    stage = load(root, rules).stages.get(to)
    if stage is None:
        return []
    results = []
    if stage.after:
        been = {c["to"] for e in history.read(root, name) for c in e["changes"] if c["version"] == version}
        been.add(entry["stage"])
        for needed in stage.after:
            results.append(
                (
                    f"after {needed}",
                    needed in been,
                    f"{version} has {'' if needed in been else 'never '}been in {needed}",
                )
            )
    if stage.branch:
        tag = names.release_tag(name, version)
        commit = git.rev_parse(root, f"refs/tags/{tag}^{{commit}}")
        found = commit is not None and _on_branch(root, commit, stage.branch)
        detail = (
            f"release commit {commit[:10]} is {'' if found else 'not '}on {stage.branch}" if commit else f"no tag {tag}"
        )
        results.append((f"branch {stage.branch}", found, detail))
    holder = _holder(data, name, to, version)
    for rule in stage.metrics:
        value = entry["metrics"].get(rule.name)
        if not isinstance(value, (int, float)):
            results.append((f"metric {rule.name}", False, f"{version} has no metric {rule.name!r}"))
            continue
        if rule.min is not None:
            results.append((f"{rule.name} >= {rule.min}", value >= rule.min, f"{rule.name} {value}"))
        if rule.max_drop is not None and holder is not None:
            before = holder["metrics"].get(rule.name)
            if isinstance(before, (int, float)):
                ok = value >= before - rule.max_drop - 1e-12
                detail = f"{rule.name} {value} vs {before} of {holder['version']} (drop {round(before - value, 6)})"
                results.append((f"{rule.name} drop <= {rule.max_drop}", ok, detail))
    if stage.reproduce:
        found = read_verdict(root, runs_dir, entry["run_id"])
        got = found.get("verdict") if found else None
        same_model = found is not None and found.get("model_sha256") == entry["model"]["sha256"]
        ok = same_model and VERDICT_RANK.get(got, 0) >= RANK[stage.reproduce]
        detail = (
            f"run {entry['run_id']}: {got or 'never reproduced'}"
            if found is None or same_model
            else f"run {entry['run_id']}: the stored verdict is for another model"
        )
        if not ok:
            detail += f"; run `reprostack runs reproduce {entry['run_id']}`"
        results.append((f"reproduce {stage.reproduce}", ok, detail))
    return results


def failures(results) -> list[str]:
    return [f"{rule}: {detail}" for rule, passed, detail in results if not passed]


def enforce(results, to: str, override: str | None) -> str | None:
    """Raise one line per failed rule, unless overridden; returns what the history keeps."""
    if override is not None and not override.strip():
        raise RegistryError('--override needs a reason: --override "<why the policy does not apply>"')
    failed = failures(results)
    if not failed:
        return None
    if override is not None:
        return f"{override.strip()} (failed: {'; '.join(failed)})"
    lines = "\n".join(f"  {line}" for line in failed)
    raise RegistryError(
        f"the policy for {to} ({POLICY_FILE}) refuses this:\n{lines}\n"
        'fix the version, or override with --override "<reason>" (kept in the history)'
    )


def read_verdict(root: str | Path, runs_dir: str, run_id: str) -> dict | None:
    """The run's newest saved `runs reproduce` verdict (runs/reproductions/), with the model it
    reproduced; None when never reproduced or unreadable (the rule then names the fix)."""
    from reprostack.runs import reproductions

    found = reproductions.latest(Path(root) / runs_dir, run_id)
    if found is None:
        return None
    return {**found, "model_sha256": (found.get("model_sha256") or {}).get("original")}
