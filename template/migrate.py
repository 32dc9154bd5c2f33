"""Move a project of the old shape (the whole platform renamed into src/<package>/, with tests/,
bench/ and .ci/) to the thin shape: the library as a pinned dependency, the project's own code only.

    python <template checkout>/template/migrate.py PROJECT [--template URL-OR-PATH] [--checkout REF]

It renders a thin project with the answers in PROJECT/.cruft.json (from --template, default the
template .cruft.json names, at its default branch or --checkout) into a temporary directory,
then, in PROJECT's working tree and without committing: removes the old platform code, tests and
benchmarks; writes the thin files (the old README is kept as README.before-thin.md, to carry its
words over); names the data hook in conf/data/ and recomposes params.yaml. conf/, data/, runs/,
models/, eval/, dvc.lock and LICENSE stay as they are: the library reads the same files, so the
registry, releases and run records stay valid. The tree must be clean first, so `git diff` shows
exactly the move (including any change once made to the platform code, which is removed).
Needs cookiecutter (the template repository's environment has it); prints what it did.

Crash-safe: the intent (the commit the move starts from) is written to .git/reprostack-migrate
before the first change and removed after the last. A run that finds it was interrupted (kill -9,
a full disk): since the tree was clean when it began, everything changed since is the move's, so
it restores that commit (`git reset --hard`, `git clean -fd`) and moves again.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

INTENT = "reprostack-migrate"  # in .git/, so it never shows in the working tree
KILL_ENV = "REPROSTACK_KILL_AT"  # reprostack.core.faults' variable: the tests kill at a named point


def point(name: str) -> None:
    if os.environ.get(KILL_ENV) == f"migrate-project.{name}":
        os.kill(os.getpid(), signal.SIGKILL)


# Paths of the old shape that the thin one does not have (src/<package>/ is replaced as a whole).
OLD_PLATFORM = ("tests", "bench", ".ci", ".github/workflows/release.yml")
# What the project keeps of its own: its configuration, data, history and license.
KEPT = ("conf/", "data/", "runs/", "models/", "eval/", ".dvc/", "params.yaml", "dvc.lock", "LICENSE")
# under KEPT, but new in the thin shape: an old project has none of its own
NEW_SHARED = (".dvc/plots/offline.html",)
PLOTS_CONFIG = "[plots]\n    html_template = plots/offline.html\n"


class MigrateError(Exception):
    """Shown as one line."""


def git(project: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=project, capture_output=True, text=True)
    if done.returncode:
        raise MigrateError(f"git {args[0]} failed in {project}: {done.stderr.strip()}")
    return done.stdout


def render_thin(state: dict, template: str, checkout: str | None, out: Path) -> Path:
    from cookiecutter.main import cookiecutter

    # Run as a script, this directory is sys.path[0]: cookiecutter would import this checkout's
    # Jinja extension (reprostack_template.py), which renders from this checkout, not `template`.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]

    answers = {k: v for k, v in state["context"]["cookiecutter"].items() if not k.startswith("_")}
    return Path(
        cookiecutter(
            template,
            directory=state.get("directory") or "template",
            checkout=checkout,
            no_input=True,
            output_dir=str(out),
            extra_context=answers,
        )
    )


def files_of(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )


def migrate(project: Path, template: str | None, checkout: str | None) -> list[str]:
    done = []
    intent = Path(git(project, "rev-parse", "--absolute-git-dir").strip()) / INTENT
    if intent.is_file():  # an interrupted move: everything changed since its commit is the move's
        start = intent.read_text(encoding="utf-8").strip()
        git(project, "reset", "-q", "--hard", start)
        git(project, "clean", "-q", "-fd")
        done.append(f"undid an interrupted migrate (back to {start[:12]})")
        intent.unlink()
    cruft_file = project / ".cruft.json"
    if not cruft_file.is_file():
        raise MigrateError(
            f"{project}: no .cruft.json, so the answers it was made with are unknown; render a thin "
            "project with cookiecutter and move your conf/ and data/ into it"
        )
    state = json.loads(cruft_file.read_text(encoding="utf-8"))
    package = state["context"]["cookiecutter"]["package_name"]
    if not (project / "src" / package / "cli").is_dir():
        raise MigrateError(f"{project}: src/{package}/cli/ is missing: this project is not of the old shape")
    if git(project, "status", "--porcelain").strip():
        raise MigrateError(f"{project}: uncommitted changes; commit or stash them first, so `git diff` shows the move")
    with tempfile.TemporaryDirectory(prefix="reprostack-migrate-") as tmp:
        thin = render_thin(state, template or state["template"], checkout, Path(tmp))
        intent.write_text(git(project, "rev-parse", "HEAD").strip() + "\n", encoding="utf-8")
        removed = [p for p in (project / "src" / package, *(project / old for old in OLD_PLATFORM)) if p.exists()]
        for path in removed:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        done.append("removed the old platform: " + ", ".join(p.relative_to(project).as_posix() for p in removed))
        point("after-remove")
        if (project / "README.md").is_file():
            shutil.copyfile(project / "README.md", project / "README.before-thin.md")
        # runs/ is kept, but the thin dvc.yaml depends on the pipeline's markers in runs/stages/
        written = [
            rel
            for rel in files_of(thin)
            if not rel.startswith(KEPT)
            or rel in NEW_SHARED
            or (rel.startswith("runs/stages/") and not (project / rel).exists())
        ]
        config = project / ".dvc" / "config"  # the offline `dvc plots` template: the project's config names it
        if config.is_file() and "[plots]" not in config.read_text(encoding="utf-8"):
            config.write_text(config.read_text(encoding="utf-8") + PLOTS_CONFIG, encoding="utf-8")
        for rel in written:
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(thin / rel, project / rel)
        done.append(f"wrote the thin files: {', '.join(written)}; your old README is README.before-thin.md")
        done.append(name_the_hook(project, package))
    intent.unlink()  # last: the move is complete
    return done


def name_the_hook(project: Path, package: str) -> str:
    """conf/data/<chosen>.yaml gets `preprocess: <package>.data:preprocess`; params.yaml follows."""
    spec = importlib.util.spec_from_file_location(
        "reprostack_template_scaffold", Path(__file__).with_name("scaffold.py")
    )
    scaffold = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(scaffold)
    edits = scaffold.edits
    group = project / "conf" / "data" / f"{edits.defaults(project)['data']}.yaml"
    text = group.read_text(encoding="utf-8")
    hook = edits.yaml_scalar(f"{package}.data:preprocess")
    if any(line.startswith("preprocess:") for line in text.splitlines()):
        text = edits.set_yaml_key(text, "preprocess", hook)
    else:
        text = text.rstrip("\n") + f"\n# the project's data hook (src/{package}/data.py)\npreprocess: {hook}\n"
    group.write_text(text, encoding="utf-8")
    edits.recompose_params(project)
    return f"named the data hook in {group.relative_to(project)} and recomposed params.yaml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--template", help="the template's URL or path (default: the one .cruft.json names)")
    parser.add_argument("--checkout", help="a branch, tag or commit of the template (default: its default branch)")
    args = parser.parse_args(argv)
    try:
        for line in migrate(args.project.resolve(), args.template, args.checkout):
            print(line)
    except MigrateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("next: review `git status` and `git diff`, then `make env && make repro && make test`, and commit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
