"""Git tags in GTO's format, and commits of registry changes.

Release: `name@vX.Y.Z` (annotated) on the release commit, and `name#dev#N` for its initial
stage. Stage change: `name#stage#N` on the version's release commit, plus `name#old!#N` for
the stage it leaves, so that in GTO, as in registry.json, a version is in exactly one stage.
N counts up per model, as GTO counts.

GTO orders events by the tagger date, which git stores in whole seconds. Two stage changes in
the same second would be ambiguous to GTO (and a rollback could show the wrong production
model), so each change is dated one second after the model's newest tag when it would
otherwise tie. Under a burst of changes (the benchmark's 400 promotes) dates run ahead of the
clock by up to one second per change; at human pace they are the real time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

from reprostack.core import git as gitcmd
from reprostack.core.errors import RegistryError

COUNTER_RE = re.compile(r"#(\d+)$")


# The registry's git calls go through reprostack.core.git; `check` only binds its failures to RegistryError.
git = gitcmd.call


def check(result: subprocess.CompletedProcess, doing: str) -> str:
    return gitcmd.checked(result, doing, RegistryError)


def tag_exists(root: str | Path, tag: str) -> bool:
    return git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}").returncode == 0


def list_tags(root: str | Path) -> set[str]:
    return set(check(git(root, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags"), "listing tags").split())


def head(root: str | Path) -> str | None:
    result = git(root, "rev-parse", "-q", "--verify", "HEAD")
    return result.stdout.strip() if result.returncode == 0 else None


def cat_file(root: str | Path, specs: list[str]) -> list[tuple[str, str, bytes] | None]:
    """(object id, type, contents) of each revision in `specs` (None: it names nothing), from
    one `git cat-file --batch` process whatever their number."""
    result = git(root, "cat-file", "--batch", input=("\n".join(specs) + "\n").encode(), text=False)
    if result.returncode != 0:
        raise RegistryError(f"git failed while reading tags: {result.stderr.decode(errors='replace').strip()[-300:]}")
    out, pos, data = [], 0, result.stdout
    for _ in specs:
        end = data.index(b"\n", pos)
        header = data[pos:end].decode().split()
        if len(header) != 3 or header[-1] in ("missing", "ambiguous"):
            out.append(None)
            pos = end + 1
            continue
        size = int(header[2])
        out.append((header[0], header[1], data[end + 1 : end + 1 + size]))
        pos = end + 1 + size + 1  # the contents are followed by a newline
    return out


def _header(contents: bytes, key: bytes) -> bytes | None:
    """The first `key value` header line of a commit or tag object (headers end at a blank line)."""
    for line in contents.split(b"\n\n", 1)[0].split(b"\n"):
        if line.startswith(key + b" "):
            return line[len(key) + 1 :]
    return None


def lookup(
    root: str | Path, name: str, release_tags: list[str]
) -> tuple[dict[str, tuple[str, str | None] | None], str | None, tuple[int, int]]:
    """Everything a stage change reads from git, in one process: {tag: (commit it points at, that
    commit's first parent)} (None: no such tag), HEAD, and the model's GTO (counter, newest date)."""
    counter, newest_tag = newest_stage_tag(root, name)
    specs = [f"refs/tags/{tag}^{{commit}}" for tag in release_tags] + ["HEAD"]
    found = cat_file(root, specs + ([f"refs/tags/{newest_tag}"] if newest_tag else []))
    commits = {}
    for tag, obj in zip(release_tags, found):
        parent = _header(obj[2], b"parent") if obj else None
        commits[tag] = (obj[0], parent.decode()) if obj else None
    head = found[len(release_tags)]
    date = 0
    if newest_tag and found[-1] and found[-1][1] == "tag":  # a lightweight tag has no date: as before, 0
        tagger = _header(found[-1][2], b"tagger") or b""
        date = int(tagger.rsplit(b" ", 2)[-2]) if tagger.count(b" ") >= 2 else 0
    return commits, head[0] if head else None, (counter, date)


def tag_names(root: str | Path, prefix: str) -> set[str]:
    """Tag names starting with `prefix`, read from the refs directory and packed-refs as git
    stores them (no process: with thousands of tags this is most of a promote's git time)."""
    gd, found = gitcmd.git_dir(root), set()
    try:
        found = {
            e.name
            for e in os.scandir(gd / "refs" / "tags")
            if e.name.startswith(prefix) and not e.name.endswith(".lock") and e.is_file()
        }
    except FileNotFoundError:
        pass
    try:
        with open(gd / "packed-refs", encoding="utf-8") as handle:
            for line in handle:
                ref = line.rstrip("\n").partition(" ")[2]
                if ref.startswith(f"refs/tags/{prefix}"):
                    found.add(ref[len("refs/tags/") :])
    except FileNotFoundError:
        pass
    return found


def newest_stage_tag(root: str | Path, name: str) -> tuple[int, str | None]:
    """(highest GTO counter, that tag's name) over this model's tags: names only, since reading
    every tag object (thousands) would dominate a promote. Counters only grow, so the
    highest-numbered tag is the newest one."""
    counter, newest_tag = 0, None
    for tag in tag_names(root, f"{name}#"):
        match = COUNTER_RE.search(tag)
        if match and int(match.group(1)) > counter:
            counter, newest_tag = int(match.group(1)), tag
    return counter, newest_tag


def model_tag_state(root: str | Path, name: str) -> tuple[int, int]:
    """(highest GTO counter, date of that newest tag) over this model's tags."""
    return lookup(root, name, [])[2]


def plan_stage_tags(
    root: str | Path,
    name: str,
    moves: list[tuple[str, str, str | None, str]],
    message: str,
    state: tuple[int, int] | None = None,
) -> tuple[list[tuple[str, str, str]], int]:
    """(name, commit, message) of the tags for every (version, commit, from_stage, to_stage)
    move, and the date to give them; `state` is model_tag_state's answer if the caller has it.
    The caller holds the registry lock, so counters cannot collide between our own commands."""
    counter, newest = state or model_tag_state(root, name)
    planned = []
    for version, commit, from_stage, to_stage in moves:
        for base in ([f"{name}#{from_stage}!"] if from_stage is not None else []) + [f"{name}#{to_stage}"]:
            counter += 1
            planned.append((f"{base}#{counter}", commit, f"{message} ({version})"))
    return planned, max(int(time.time()), newest + 1)


def tagger(ident: str) -> str:
    return ident if "<" in ident else f"{ident} <{ident}@localhost>"  # a tagger needs an email part


def create_tags(root: str | Path, planned: list[tuple[str, str, str]], ident: str, epoch: int) -> None:
    """Annotated tags (name, commit, message), all dated `epoch`, created atomically: two git
    processes whatever their number (hash-object for the objects, one update-ref transaction
    for the refs), so promote latency is not one process per tag."""
    import tempfile

    if not planned:
        return
    ident = tagger(ident)
    with tempfile.TemporaryDirectory(prefix="reprostack-tags-") as tmp:
        paths = []
        for i, (tag, commit, message) in enumerate(planned):
            path = Path(tmp) / str(i)
            path.write_text(
                f"object {commit}\ntype commit\ntag {tag}\ntagger {ident} {epoch} +0000\n\n{message}\n",
                encoding="utf-8",
            )
            paths.append(str(path))
        result = git(root, "hash-object", "-t", "tag", "-w", "--stdin-paths", input="\n".join(paths) + "\n")
        shas = check(result, "writing tag objects").split()
    updates = "".join(f"create refs/tags/{tag} {sha}\n" for (tag, _, _), sha in zip(planned, shas))
    check(git(root, "update-ref", "--stdin", input=updates), f"creating tags {', '.join(tag for tag, _, _ in planned)}")


def commit_paths(root: str | Path, paths: list[str], message: str) -> None:
    """Commit exactly these paths (other staged or modified files are left alone)."""
    # no `git maintenance --auto` child per registry change (a few ms each): git's own commands run it
    commit = ["-c", "maintenance.auto=false", "commit", "-q", "--no-verify", "-m", message, "--only", "--", *paths]
    if git(root, *commit).returncode == 0:  # tracked already: one process
        return
    check(git(root, "add", "-A", "--", *paths), "staging the registry")
    check(git(root, *commit), "committing the registry")


# ---- what a killed git leaves behind -----------------------------------------------------------


def gto_show(root: str | Path) -> dict:
    """What `gto show --json` prints, computed in this process: {name: {"version", "stage":
    {stage: version}, "registered", "active"}}. The same call with the CLI's defaults, through
    JSON as the CLI writes it (None stays None, enums become values); a GTO process costs 3-4 s
    here, this 0.1 s after gto's one-time import (~1.9 s), which happens only here."""
    from gto import api as gto_api
    from gto.constants import ASSIGNMENTS_PER_VERSION, VERSIONS_PER_STAGE, VersionSort
    from gto.exceptions import GTOException
    from gto.utils import make_ready_to_serialize
    from scmrepo.exceptions import SCMError

    try:
        state = gto_api.show(
            str(root),
            registered_only=False,
            deprecated=False,
            assignments_per_version=ASSIGNMENTS_PER_VERSION,
            versions_per_stage=VERSIONS_PER_STAGE,
            sort=VersionSort.Timestamp,
            table=False,
        )
    except (GTOException, SCMError) as exc:  # what the CLI would print and exit 1 on
        raise RegistryError(f"`gto show` failed: {getattr(exc, 'msg', None) or exc}") from None
    return json.loads(json.dumps(make_ready_to_serialize(state)))
