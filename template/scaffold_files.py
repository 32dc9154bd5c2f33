"""Which of this repository's files a new project shares with it, under which paths, and copying
them with the edits of scaffold_edits.py applied.

A project is thin: the library is a dependency (requirements.lock), and what the project owns
(README, Makefile, pyproject.toml, its package and tests) are the cookiecutter templates in
template/{{project_dir(...)}}/. What it shares with this repository, the sample project, comes
from here, one source of truth: the pipeline, its configuration, the sample data and the DVC and
git settings. SHARED lists them, so nothing else of this repository (its library, tests,
history and state) can reach a project by accident. Loaded by path by scaffold.py (see there),
after scaffold_edits.py and scaffold_answers.py; standard library and PyYAML only.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from pathlib import Path

import reprostack_template_answers as answers  # loaded by scaffold.py before this module
import reprostack_template_edits as edits

PACKAGE = edits.PACKAGE

# What a project takes from this repository (fnmatch patterns on the path relative to the root;
# `*` also matches `/`): every Hydra config group (all classifiers, registry, serving), the
# pipeline, the settings of DVC and git, and the placeholders that keep output directories.
# dvc.lock, runs/, eval/, models/ and data/ state stay here: this repository's history.
SHARED = (
    "conf/*.yaml",
    "dvc.yaml",
    "params.yaml",
    ".dvc/config",
    ".dvc/plots/offline.html",
    ".dvc/.gitignore",
    ".dvcignore",
    ".gitignore",
    "data/.gitignore",
    "models/.gitignore",
    "runs/.gitkeep",
    # the pipeline's markers (dvc.yaml deps, idle content; see stages/_runner.py)
    "runs/stages/pending-record.txt",
    "runs/stages/params-drift.txt",
)
# Taken as well when the sample data is wanted.
SAMPLE_DATA = ("data/raw/*",)


def source_root(template_dir: Path) -> Path:
    """The repository the template sits in (a local checkout or cookiecutter's git clone)."""
    return template_dir.parent


def source_files(root: Path) -> list[str]:
    """The repository's files as a clone has them: tracked, plus new files not yet ignored (so a
    local render sees uncommitted work). Without git (e.g. a zip), walk honouring .gitignore."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True)
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == root.resolve():
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        names = [n for n in result.stdout.split("\0") if n]
    else:  # not a git checkout, or one nested in an unrelated repository
        names = _walk(root)
    return sorted(n for n in set(names) if (root / n).is_file() and not (root / n).is_symlink())


def _walk(root: Path) -> list[str]:
    """Fallback for a source without git: every file not matched by a .gitignore on its way."""
    found, rules = [], []  # rules: (directory relative to root, pattern)
    for current, dirs, files in os.walk(root):
        rel_dir = Path(current).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir
        ignore = Path(current) / ".gitignore"
        if ignore.is_file():
            for line in ignore.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith(("#", "!")):
                    rules.append((rel_dir, line.strip()))

        def ignored(name: str, is_dir: bool, rel_dir: str = rel_dir) -> bool:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            for base, pattern in rules:
                if base and not rel.startswith(base + "/"):
                    continue
                local = rel[len(base) + 1 :] if base else rel
                if pattern.endswith("/") and not is_dir:
                    continue
                pat = pattern.rstrip("/")
                if pat.startswith("/") or "/" in pat:
                    if fnmatch.fnmatch(local, pat.lstrip("/")):
                        return True
                elif fnmatch.fnmatch(name, pat):
                    return True
            return False

        dirs[:] = [d for d in dirs if d != ".git" and not ignored(d, True)]
        found += [f"{rel_dir}/{f}" if rel_dir else f for f in files if not ignored(f, False)]
    return found


def shared(rel: str, sample_data: bool) -> bool:
    patterns = SHARED + SAMPLE_DATA if sample_data else SHARED
    return any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns)


def plan(files: list[str], root: Path, ctx: dict) -> dict[str, str]:
    """Source path -> path in the new project."""
    renamed = answers.renamed_configs(root, ctx)
    return {rel: renamed.get(rel, rel) for rel in files if shared(rel, ctx["sample_data"] == "yes")}


def file_edits(root: Path, ctx: dict) -> dict:
    """The answers applied to the shared files: source path -> functions text -> text."""
    chosen = edits.defaults(root)
    data_group, embedding_group = f"conf/data/{chosen['data']}.yaml", f"conf/embedding/{chosen['embedding']}.yaml"
    data, default_model = edits.yaml_file(root / data_group), edits.yaml_file(root / embedding_group)["model"]
    renamed = answers.renamed_configs(root, ctx)
    shipped_model = edits.yaml_file(root / "conf" / "config.yaml")["model_name"]
    return {
        "dvc.yaml": [lambda t: edits.project_dvc_yaml(t, ctx, shipped_model)],
        ".dvcignore": [lambda t: edits.edit_dvcignore(t, ctx)],
        "conf/config.yaml": [lambda t: edits.edit_config(t, ctx, renamed)],
        data_group: [lambda t: edits.edit_data_group(t, ctx)],
        embedding_group: [lambda t: edits.edit_embedding_group(t, ctx, default_model)],
        f"{data['raw_dir']}/{data['file']}": [lambda t: edits.edit_sample_header(t, ctx, data)],
    }


def read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def copy_files(root: Path, project: Path, ctx: dict) -> list[str]:
    mapping = plan(source_files(root), root, ctx)
    per_file = file_edits(root, ctx)
    for rel, dest_rel in mapping.items():
        src, dest = root / rel, project / dest_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = read_text(src)
        if text is None:  # binary: copied as is
            shutil.copyfile(src, dest)
        else:
            for edit in per_file.get(rel, []):
                text = edit(text)
            dest.write_bytes(text.encode("utf-8"))
        dest.chmod(0o644)  # the source's mode is local noise; no shared file is executable
    return sorted(mapping.values())


def write_data_placeholder(project: Path, ctx: dict) -> None:
    """Without the sample, data/raw/ still exists (it is a DVC dependency) and says what goes in it."""
    data = edits.yaml_file(project / "conf" / "data" / f"{edits.defaults(project)['data']}.yaml")
    columns = ", ".join(ctx[k] for k in ("id_column", "text_column", "label_column"))
    raw = project / data["raw_dir"]
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "README.md").write_text(
        f"Put your data here: `{data['raw_dir']}/{data['file']}`, a UTF-8 CSV with a header row and the "
        f"columns {columns} (one row per text; at least two labels).\n"
        "Another file name or column names: set them in `conf/data/`. Then run `make repro`.\n",
        encoding="utf-8",
    )
