"""Render a new project from this repository's own files (the cookiecutter hooks call this).

One source of truth: the project is the repository's tracked files, copied and renamed, not a
second copy kept by hand. What is left out is the EXCLUDE list below; what changes is
scaffold_edits.rename() (the package name, in every text file) and `file_edits()` (the other
answers, applied by the functions of scaffold_edits.py). Only the standard library and PyYAML (a dependency of cookiecutter) are used, because the hooks run
in cookiecutter's own interpreter, which need not have this project's dependencies.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path


def _load_edits():
    # By path, under a name of its own: the hooks run in cookiecutter's interpreter, where this
    # directory is on sys.path behind installed modules, and the Jinja extension loads this module
    # by path too.
    spec = importlib.util.spec_from_file_location("reprostack_template_edits",
                                                  Path(__file__).resolve().with_name("scaffold_edits.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


edits = _load_edits()
PACKAGE, ScaffoldError = edits.PACKAGE, edits.ScaffoldError


# Files of this repository that a new project does not get (fnmatch patterns on the path
# relative to the repository root; `*` also matches `/`). Everything else tracked is copied, so
# files added later reach new projects without editing this module.
EXCLUDE = (
    "template/*",               # the template itself
    "tests/test_template.py",   # tests and benchmarks of the template, which a project lacks
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

ERROR_PREFIX = "error: "
# The exit status of a hook that printed its one-line error: cookiecutter's own report of the
# failure is then cut short (reprostack_template._ReportedHookFailure).
REPORTED = 3


# ---- answers ----------------------------------------------------------------------------------

# The project's directory, made by cookiecutter in --output-dir: one plain path component that
# tools take as a name, not an option or a hidden file (so never `.`, `..` or `-x`), and no spaces,
# which make and shell scripts split.
PROJECT_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# the same rule as reprostack's names.MODEL_NAME_RE (the registry's); this hook runs where the
# package may not be importable
MODEL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
PACKAGE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# the snapshot rule for dataset names (data.manifest.NAME_RE) without '.', since the name is
# also a Hydra config name (conf/data/<name>.yaml)
DATASET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MIN_PYTHON = (3, 11)


def locked_modules(root: Path) -> set[str]:
    """Import names the pinned dependencies would shadow (normalised distribution names)."""
    lock = root / "requirements.lock"
    if not lock.is_file():
        return set()
    names = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[-.]+", "_", n).lower() for n in names} | {"sklearn", "yaml", "hydra", "lance"}


def validate(ctx: dict, root: Path) -> None:
    """Raise ScaffoldError naming the first bad answer and how to fix it."""
    if not ctx["project_name"].strip():
        raise ScaffoldError("project_name is empty; give the project a name")
    if not PROJECT_SLUG.match(ctx["project_slug"]):
        raise ScaffoldError(f"project_slug {ctx['project_slug']!r} is not a plain directory name; use 1-100 letters, "
                            "digits, '.', '_' or '-', starting with a letter or digit, e.g. project_slug=my-project")
    pkg = ctx["package_name"]
    if not PACKAGE_NAME.match(pkg):
        raise ScaffoldError(f"package_name {pkg!r} is not a valid lowercase Python identifier; "
                            "use letters, digits and underscores, e.g. my_project")
    if keyword.iskeyword(pkg) or keyword.issoftkeyword(pkg):
        raise ScaffoldError(f"package_name {pkg!r} is a Python keyword; pick another, e.g. {pkg}_project")
    if pkg in sys.stdlib_module_names or pkg in locked_modules(root):
        raise ScaffoldError(f"package_name {pkg!r} would shadow the module of the same name "
                            "(standard library or a dependency); pick another")
    if not MODEL_NAME.match(ctx["model_name"]):
        raise ScaffoldError(f"model_name {ctx['model_name']!r} must be 1-64 lowercase letters, digits, '-' or '_', "
                            "starting and ending with a letter or digit")
    if not DATASET_NAME.match(ctx["dataset_name"]):
        raise ScaffoldError(f"dataset_name {ctx['dataset_name']!r} must be 1-64 letters, digits, '_' or '-', starting "
                            "with a letter or digit (it names conf/data/<name>.yaml and data/snapshots/<name>/)")
    columns = [ctx["id_column"], ctx["text_column"], ctx["label_column"]]
    for column in columns:
        if not COLUMN.match(column):
            raise ScaffoldError(f"column name {column!r} must be letters, digits, '_' or '-', "
                                "starting with a letter or '_'")
    if len(set(columns)) != 3:
        raise ScaffoldError(f"id_column, text_column and label_column must differ, got {columns}")
    if not ctx["embedding_model"].strip() or any(c.isspace() for c in ctx["embedding_model"]):
        raise ScaffoldError(f"embedding_model {ctx['embedding_model']!r} must be a hub name or a path without spaces")
    match = re.fullmatch(r"3\.(\d+)", ctx["python_version"])
    if not match or (3, int(match.group(1))) < MIN_PYTHON:
        raise ScaffoldError(f"python_version {ctx['python_version']!r} must look like 3.11 "
                            f"(3.{MIN_PYTHON[1]} or newer)")
    for key in ("description", "author"):
        if "\n" in ctx[key] or not ctx[key].strip():
            raise ScaffoldError(f"{key} must be one non-empty line")
    for source, target in renamed_configs(root, ctx).items():
        if target != source and (root / target).exists():
            raise ScaffoldError(f"{target} already exists in the template; pick another name "
                                f"(dataset_name, or embedding_model for conf/embedding/)")
    if not (root / "conf" / "model" / f"{ctx['classifier']}.yaml").is_file():
        raise ScaffoldError(f"classifier {ctx['classifier']!r} has no conf/model/{ctx['classifier']}.yaml")


# ---- which files ------------------------------------------------------------------------------

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


def embedding_choice(root: Path, ctx: dict) -> str:
    """The embedding config's name: the shipped one for its own model, else after the model
    (its last path part, e.g. conf/embedding/all-mpnet-base-v2.yaml)."""
    chosen = edits.defaults(root)["embedding"]
    if ctx["embedding_model"] == edits.yaml_file(root / "conf" / "embedding" / f"{chosen}.yaml")["model"]:
        return chosen
    last = ctx["embedding_model"].rstrip("/").rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9_-]+", "-", last).strip("-") or "model"


def renamed_configs(root: Path, ctx: dict) -> dict[str, str]:
    """Config groups named after the answers: the dataset's and the embedding model's."""
    chosen = edits.defaults(root)
    return {f"conf/data/{chosen['data']}.yaml": f"conf/data/{ctx['dataset_name']}.yaml",
            f"conf/embedding/{chosen['embedding']}.yaml": f"conf/embedding/{embedding_choice(root, ctx)}.yaml"}


def plan(files: list[str], root: Path, ctx: dict) -> dict[str, str]:
    """Source path -> path in the new project."""
    renamed = renamed_configs(root, ctx)
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
    renamed = renamed_configs(root, ctx)
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
    result = git(project, *identity, "commit", "-q", "--no-verify", "-m",
                 f"New project {ctx['project_name']} from the {PACKAGE} template")
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
    state = {"template": template, "commit": head.stdout.strip(), "checkout": ctx.get("_checkout"),
             "context": {"cookiecutter": answers}, "directory": template_dir.relative_to(root).as_posix()}
    # cruft's own format (cruft/_commands/utils/cruft.py json_dumps), so its rewrite diffs little
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"
    (project / ".cruft.json").write_text(text, encoding="utf-8")
    return True


# ---- entry points (the hooks) -----------------------------------------------------------------

def build(ctx: dict, project: Path, url: str) -> None:
    """The post-generation hook; the answers were checked in cookiecutter's process
    (reprostack_template.project_dir, with `validate` above)."""
    template_dir = Path(__file__).resolve().parent
    root = source_root(template_dir)
    copy_files(root, project, ctx)
    if ctx["sample_data"] != "yes":
        write_data_placeholder(project, ctx)
    if ctx["license"] == "none":
        (project / "LICENSE").unlink()  # rendered empty: there is no license to state
    edits.recompose_params(project)
    if rendered_by_cruft(ctx):
        return
    if not write_cruft_state(root, project, ctx, template_dir, url):
        print("note: the template source is not a git checkout, so no .cruft.json: "
              "`cruft update` cannot follow it")
    init_repository(project, ctx)


def main_build(ctx: dict, url: str) -> int:
    try:
        build(ctx, Path.cwd(), url)
    except ScaffoldError as exc:
        print(ERROR_PREFIX + str(exc), file=sys.stderr)
        return REPORTED
    return 0
