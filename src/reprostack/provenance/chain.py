"""The provenance chain of one model version, each link re-hashed from what is on disk and in git:

server -> registry entry -> release tag and commit -> model files -> run record -> dvc.lock ->
data snapshot (and the raw files) -> vector table version -> embedding model -> environment lock.

Each link (links.py) is a function of the context the earlier ones filled in; a link whose
prerequisite is broken is reported as not checked, so the first broken link is the one to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reprostack.core import names
from reprostack.core.config import Params
from reprostack.core.errors import ReprostackError
from reprostack.provenance import links
from reprostack.provenance.context import Broken, Context, Skip


@dataclass
class Link:
    name: str
    status: str  # ok | broken | skipped (not asked, or a link before it is broken)
    detail: str
    evidence: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status, "detail": self.detail, "evidence": self.evidence}


@dataclass
class Chain:
    name: str
    version: str | None  # as asked, or as the server or the registry named it
    entry: dict | None  # the registry entry, when the registry link found it
    links: list[Link]

    @property
    def first_broken(self) -> Link | None:
        return next((link for link in self.links if link.status == "broken"), None)


def walk(root: str | Path, params: Params, name: str, version: str | None = None, url: str | None = None) -> Chain:
    """Every link of the chain, in order; the first with status "broken" is what to fix."""
    ctx = Context(Path(root), params, names.check_model_name(name), version, url)
    out: list[Link] = []
    for title, check in links.CHECKS:
        missing = [need for need in links.NEEDS.get(title, ()) if need not in ctx.found]
        if missing:
            out.append(Link(title, "skipped", f"not checked: needs the {missing[0]} an earlier link did not establish"))
            continue
        try:
            detail, evidence = check(ctx)
        except (Broken, ReprostackError) as exc:
            out.append(Link(title, "broken", str(exc)))
        except Skip as exc:
            out.append(Link(title, "skipped", str(exc)))
        else:
            out.append(Link(title, "ok", detail, evidence))
    return Chain(ctx.name, ctx.version, ctx.found.get("entry"), out)
