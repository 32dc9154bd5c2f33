"""Which of this repository's files a new project gets, under which paths, and copying them
with the edits of scaffold_edits.py applied.

Loaded by path by scaffold.py (see there), after scaffold_edits.py and scaffold_answers.py;
standard library and PyYAML only.
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

# Files of this repository that a new project does not get (fnmatch patterns on the path
# relative to the repository root; `*` also matches `/`). Everything else tracked is copied, so
# files added later reach new projects without editing this module.
EXCLUDE = (
    "template/*",               # the template itself
    "tests/test_template*.py",  # tests and benchmarks of the template, which a project lacks
    "tests/templating.py",
    "bench/bench_template.py",
    "LICENSE",                  # rendered from the license chosen (template/{{...}}/LICENSE)
    ".cruft.json",              # written for the new project by post_gen_project
    # This repository's history and state, personal by nature (names, e-mails, dates): pipeline
    # lock, run records and stage stamps, metrics, registry, its history log, released models,
    # snapshots and vectors. Whole directories, so a state file added later stays out too.
    "dvc.lock",
    "runs/*",
    "eval/*",
    "models/*",
    "data/*.json",
    "data/snapshots/*",
    "data/vectors/*",
    "dvclive/*",
)
# ...except the placeholders that keep those directories in a fresh clone.
KEEP = ("runs/.gitkeep", "models/.gitignore")
# Left out as well when the sample data is not wanted.
SAMPLE_DATA = ("data/raw/*",)

# Lines between `<name>:start` and `<name>:end` markers (inclusive) are dropped: `template-only`
# always (the README's "Start your own project", the Makefile's new-project target), and
# `sample-data-only` when the sample data is left out (the README's description of it).
TEMPLATE_ONLY, SAMPLE_DATA_ONLY = "template-only", "sample-data-only"



def source_root(template_dir: Path) -> Path:
    """The repository the template sits in (a local checkout or cookiecutter's git clone)."""
    return template_dir.parent


def source_files(root: Path) -> list[str]:
    """The repository's files as a clone has them: tracked, plus new files not yet ignored (so a
    local render sees uncommitted work). Without git (e.g. a zip), walk honouring .gitignore."""
    top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True)
    if top.returncode == 0 and Path(top.stdout.strip()).resolve() == root.resolve():
        result = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=root, capture_output=True, text=True, check=True)
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

        def ignored(name: str, is_dir: bool) -> bool:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            for base, pattern in rules:
                if base and not rel.startswith(base + "/"):
                    continue
                local = rel[len(base) + 1:] if base else rel
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


def excluded(rel: str, sample_data: bool) -> bool:
    patterns = EXCLUDE if sample_data else EXCLUDE + SAMPLE_DATA
    return rel not in KEEP and any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns)


def plan(files: list[str], root: Path, ctx: dict) -> dict[str, str]:
    """Source path -> path in the new project."""
    renamed = answers.renamed_configs(root, ctx)
    prefix = f"src/{PACKAGE}/"
    mapping = {}
    for rel in files:
        if not excluded(rel, ctx["sample_data"] == "yes"):
            target = f"src/{ctx['package_name']}/{rel[len(prefix):]}" if rel.startswith(prefix) else rel
            mapping[rel] = renamed.get(rel, target)
    return mapping


def file_edits(root: Path, ctx: dict) -> dict:
    """Edits beyond the package rename: source path -> functions text -> text."""
    chosen = edits.defaults(root)
    data_group, embedding_group = f"conf/data/{chosen['data']}.yaml", f"conf/embedding/{chosen['embedding']}.yaml"
    data, default_model = edits.yaml_file(root / data_group), edits.yaml_file(root / embedding_group)["model"]
    renamed = answers.renamed_configs(root, ctx)
    shipped_model = edits.yaml_file(root / "conf" / "config.yaml")["model_name"]
    return {
        "pyproject.toml": [lambda t: edits.edit_pyproject(t, ctx)],
        # the released models' DVC artifact is named after the model
        "dvc.yaml": [lambda t: t.replace(shipped_model, ctx["model_name"])],
        "README.md": [lambda t: edits.edit_readme(t, ctx)],
        "Makefile": [lambda t: t.replace("python3.11", f"python{ctx['python_version']}")],
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
    package = ctx["package_name"]
    with_sample = ctx["sample_data"] == "yes"
    mapping = plan(source_files(root), root, ctx)
    per_file = file_edits(root, ctx)
    regions = (TEMPLATE_ONLY,) if with_sample else (TEMPLATE_ONLY, SAMPLE_DATA_ONLY)
    for rel, dest_rel in mapping.items():
        src, dest = root / rel, project / dest_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = read_text(src)
        if text is None:  # binary: copied as is
            shutil.copyfile(src, dest)
        else:
            text = edits.rename(edits.strip_regions(text, regions), package)
            if rel.startswith(".github/workflows/"):
                text = edits.edit_workflow(text, ctx)
            for edit in per_file.get(rel, []):
                text = edit(text)
            dest.write_bytes(text.encode("utf-8"))
        # git keeps only the executable bit (.ci/run); the rest of the source's mode is local noise
        dest.chmod(0o755 if os.access(src, os.X_OK) else 0o644)
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
