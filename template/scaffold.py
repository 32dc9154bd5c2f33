"""Render a new, thin project on top of the reprostack library (the cookiecutter hooks call this).

Cookiecutter renders what the project owns from template/{{project_dir(...)}}/ (README, Makefile,
pyproject.toml, its package with the data hook, its tests, CI, LICENSE). This hook adds what it
shares with this repository, one source of truth: the SHARED files of scaffold_files.py with the
answers applied (scaffold_edits.py: conf/, dvc.yaml on the library's entry points, the sample
CSV's header), and requirements.lock pinning the library at the commit rendered
(scaffold_lock.py). The answers are checked by scaffold_answers.py. This module loads those four,
then makes the new project a git repository following the template (.cruft.json). Only the standard library and
PyYAML (a dependency of cookiecutter) are used, because the hooks run in cookiecutter's own
interpreter, which need not have this project's dependencies.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path


def _load(stem: str):
    """scaffold_<stem>.py, by path, under a name of its own (reprostack_template_<stem>): the hooks
    run in cookiecutter's interpreter, where this directory is on sys.path behind installed
    modules, and the Jinja extension loads this module by path too. Registered in sys.modules, so
    the modules loaded after it import it by that name and all share one ScaffoldError class."""
    name = f"reprostack_template_{stem}"
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().with_name(f"scaffold_{stem}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


edits = _load("edits")
answers = _load("answers")  # imports edits
files = _load("files")  # imports edits and answers
lock = _load("lock")  # imports edits
PACKAGE, ScaffoldError = edits.PACKAGE, edits.ScaffoldError

ERROR_PREFIX = "error: "
# The exit status of a hook that printed its one-line error: cookiecutter's own report of the
# failure is then cut short (reprostack_template._ReportedHookFailure).
REPORTED = 3


# ---- git and DVC ------------------------------------------------------------------------------


def git(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)


def init_repository(project: Path, ctx: dict) -> None:
    """git init, and an initial commit (dvclive needs one). DVC is initialised by the copied
    .dvc/config (Hydra enabled), .dvc/.gitignore and .dvcignore: exactly what `dvc init` writes
    plus this project's settings, and a clone of this repository has no more."""
    if not (project / ".dvc" / "config").is_file():
        raise ScaffoldError(".dvc/config is missing from the source repository; DVC would not be initialised")
    for args in (("init", "-q", "-b", "main"), ("add", "-A")):
        result = git(project, *args)
        if result.returncode:
            raise ScaffoldError(f"git {args[0]} failed: {result.stderr.strip()}")
    identity = []
    # `git var` resolves the identity as `git commit` does (GIT_AUTHOR_*/GIT_COMMITTER_* variables,
    # then the config) and fails exactly when the commit would, for want of a name or e-mail
    if any(git(project, "var", who).returncode for who in ("GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT")):
        # No git identity configured: commit once as the author, without writing it to any config.
        identity = ["-c", f"user.name={ctx['author']}", "-c", f"user.email={ctx['project_slug']}@example.invalid"]
        print(f"note: no git identity configured; the initial commit is authored as {ctx['author']!r}")
    result = git(
        project,
        *identity,
        "commit",
        "-q",
        "--no-verify",
        "-m",
        f"New project {ctx['project_name']} from the {PACKAGE} template",
    )
    if result.returncode:
        raise ScaffoldError(f"git commit failed: {result.stderr.strip()}")


# ---- template updates (cruft) -----------------------------------------------------------------


def rendered_by_cruft(ctx: dict) -> bool:
    """cruft renders with `_commit` in the context (cookiecutter never sets it): for `cruft
    create`, then cruft writes .cruft.json itself; for `cruft update`, twice into temporary
    directories that it diffs, where a .git directory would be diffed too."""
    return "_commit" in ctx


def write_cruft_state(root: Path, project: Path, ctx: dict, template_dir: Path, url: str) -> bool:
    """.cruft.json as `cruft create` writes it, so `cruft check` and `cruft update` follow the
    template from the commit rendered: from `url` (the repository URL cookiecutter cloned, if it
    did), else from this checkout's absolute path (a relative one would break from the project).
    False when the source is not a git checkout."""
    head = git(root, "rev-parse", "HEAD")
    if head.returncode != 0:
        return False
    template = url or str(root.resolve())
    # _output_dir and _repo_dir are paths on the machine that rendered: nothing cruft needs
    answers = {k: v for k, v in ctx.items() if k not in ("_output_dir", "_repo_dir")}
    answers.update(_template=template, _commit=head.stdout.strip())
    state = {
        "template": template,
        "commit": head.stdout.strip(),
        "checkout": ctx.get("_checkout"),
        "context": {"cookiecutter": answers},
        "directory": template_dir.relative_to(root).as_posix(),
    }
    # cruft's own format (cruft/_commands/utils/cruft.py json_dumps), so its rewrite diffs little
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    (project / ".cruft.json").write_text(text, encoding="utf-8")
    return True


# ---- entry points (the hooks) -----------------------------------------------------------------


def build(ctx: dict, project: Path, url: str) -> None:
    """The post-generation hook; the answers were checked in cookiecutter's process
    (reprostack_template.project_dir, with scaffold_answers.validate)."""
    template_dir = Path(__file__).resolve().parent
    root = files.source_root(template_dir)
    files.copy_files(root, project, ctx)
    note = write_lock(root, project, ctx, url)
    if ctx["sample_data"] != "yes":
        files.write_data_placeholder(project, ctx)
    if ctx["license"] == "none":
        (project / "LICENSE").unlink()  # rendered empty: there is no license to state
    edits.recompose_params(project)
    if rendered_by_cruft(ctx):
        if note:
            print(note)
        return
    if not write_cruft_state(root, project, ctx, template_dir, url):
        print("note: the template source is not a git checkout, so no .cruft.json: `cruft update` cannot follow it")
    init_repository(project, ctx)
    if note:
        print(note)


def write_lock(root: Path, project: Path, ctx: dict, url: str) -> str | None:
    """requirements.lock; and a note to print once the project is made, if the pin needs one."""
    source, commit = lock.source_and_commit(root, ctx, url)
    extras = [extra.strip() for extra in ctx["library_extras"].split(",") if extra.strip()]
    (project / "requirements.lock").write_text(lock.render(root, source, commit, extras), encoding="utf-8")
    if commit is None:
        return (
            f"note: the template source is not a git checkout: requirements.lock installs {PACKAGE} from "
            f"{source} as it is then, not from a commit"
        )
    if not rendered_by_cruft(ctx) and lock.uncommitted(root):
        return (
            f"note: {root.resolve()} has uncommitted changes; the project's environment installs {PACKAGE} "
            f"at commit {commit[:12]}, without them (commit them and render again to include them)"
        )
    return None


def main_build(ctx: dict, url: str) -> int:
    try:
        build(ctx, Path.cwd(), url)
    except ScaffoldError as exc:
        print(ERROR_PREFIX + str(exc), file=sys.stderr)
        return REPORTED
    return 0
