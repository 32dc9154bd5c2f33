"""Render a new project from this repository's own files (the cookiecutter hooks call this).

One source of truth: the project is the repository's tracked files, copied and renamed, not a
second copy kept by hand. What is left out is the EXCLUDE list below; what changes is
`rename()` (the package name, in every text file) and `file_edits()` (the other answers). Only
the standard library and PyYAML (a dependency of cookiecutter) are used, because the hooks run
in cookiecutter's own interpreter, which need not have this project's dependencies.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import keyword
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = "reprostack"  # the name this repository's package has; renamed in every copied file

# Files of this repository that a new project does not get (fnmatch patterns on the path
# relative to the repository root; `*` also matches `/`). Everything else tracked is copied, so
# files added later reach new projects without editing this module.
EXCLUDE = (
    "template/*",               # the template itself
    "tests/test_template.py",   # tests and benchmarks of the template, which a project lacks
    "bench/bench_template.py",
    "LICENSE",                  # rendered from the license chosen (template/{{...}}/LICENSE)
    "dvc.lock",                 # this repo's pipeline state; the first `dvc repro` writes a new one
    "runs/*.json",              # this repo's run records and stage stamps (runs/stages/*.json)
    "eval/*",                   # generated metrics and plots
    "models/registry.json",     # this repo's model registry and released models: a new
    "models/*/*",               # project starts with none (models/.gitignore stays)
)
# Left out as well when the sample data is not wanted.
SAMPLE_DATA = ("data/raw/*",)

# Lines between `<name>:start` and `<name>:end` markers (inclusive) are dropped: `template-only`
# always (the README's "Start your own project", the Makefile's new-project target), and
# `sample-data-only` when the sample data is left out (the README's description of it).
TEMPLATE_ONLY, SAMPLE_DATA_ONLY = "template-only", "sample-data-only"

ERROR_PREFIX = "error: "


class ScaffoldError(Exception):
    """Bad input to the template; shown as one line."""


# ---- answers ----------------------------------------------------------------------------------

COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# the same rule as reprostack's names.MODEL_NAME_RE (the registry's); this hook runs where the
# package may not be importable
MODEL_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$")
PACKAGE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
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
    if not ctx["project_name"].strip() or not ctx["project_slug"].strip():
        raise ScaffoldError("project_name is empty; give the project a name")
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
    return any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns)


def target_path(rel: str, package: str) -> str:
    prefix = f"src/{PACKAGE}/"
    return f"src/{package}/{rel[len(prefix):]}" if rel.startswith(prefix) else rel


def plan(files: list[str], package: str, sample_data: bool) -> dict[str, str]:
    """Source path -> path in the new project."""
    return {rel: target_path(rel, package) for rel in files if not excluded(rel, sample_data)}


# ---- renaming ---------------------------------------------------------------------------------

def pascal(package: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in package.split("_") if part) or package


def rename(text: str, package: str) -> str:
    """reprostack -> package, Reprostack -> Package (class names), REPROSTACK -> PACKAGE (env vars)."""
    text = text.replace(PACKAGE, package)
    text = text.replace(PACKAGE.capitalize(), pascal(package))
    return text.replace(PACKAGE.upper(), package.upper())


def strip_regions(text: str, names: tuple[str, ...]) -> str:
    if not any(f"{name}:start" in text for name in names):
        return text
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if any(f"{name}:start" in line for name in names):
            skipping = True
        elif any(f"{name}:end" in line for name in names):
            skipping = False
        elif not skipping:
            out.append(line)
    return "".join(out)


def yaml_scalar(value: str) -> str:
    """value as a YAML scalar that reads back as the same string (quoted only when needed)."""
    import yaml

    return value if yaml.safe_load(value) == value and ":" not in value else json.dumps(value)


def set_yaml_key(text: str, key: str, value: str) -> str:
    """Replace a top-level `key: ...` line's value, keeping comments and layout."""
    new, count = re.subn(rf"^{re.escape(key)}:.*$", lambda _: f"{key}: {value}", text, count=1, flags=re.M)
    if not count:
        raise ScaffoldError(f"{key} not found; the template and the repository disagree (a bug)")
    return new


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def edit_pyproject(text: str, ctx: dict) -> str:
    text = re.sub(r"^description = .*$", lambda _: f"description = {_toml(ctx['description'])}", text, count=1, flags=re.M)
    text = re.sub(r'^requires-python = ".*"$', f'requires-python = ">={ctx["python_version"]}"', text, count=1, flags=re.M)
    license_line = "" if ctx["license"] == "Proprietary" else f"license = {_toml(ctx['license'])}\n"
    authors = f"authors = [{{ name = {_toml(ctx['author'])} }}]\n"
    return re.sub(r"^license = .*\n", lambda _: license_line + authors, text, count=1, flags=re.M)


def edit_readme(text: str, ctx: dict) -> str:
    text = re.sub(r"\A# .*\n", lambda _: f"# {ctx['project_name']}\n\n{ctx['description']}\n", text, count=1)
    text = text.replace("Python 3.11", f"Python {ctx['python_version']}")
    columns = ",".join(ctx[k] for k in ("id_column", "text_column", "label_column"))
    text = text.replace("columns `id,text,label`", f"columns `{columns}`")
    return re.sub(r"^Code: MIT ", lambda _: f"Code: {ctx['license']} ", text, flags=re.M)


def edit_config(text: str, ctx: dict) -> str:
    text = re.sub(r"^(\s*- model: ).*$", lambda m: m.group(1) + ctx["classifier"], text, count=1, flags=re.M)
    return set_yaml_key(text, "model_name", yaml_scalar(ctx["model_name"]))


def edit_data_group(text: str, ctx: dict) -> str:
    for key in ("id_column", "text_column", "label_column"):
        text = set_yaml_key(text, key, yaml_scalar(ctx[key]))
    return text


def edit_sample_header(text: str, ctx: dict, old: dict) -> str:
    """Rename the id, text and label columns in the CSV header so the pipeline still runs."""
    first, sep, rest = text.partition("\n")
    header = next(csv.reader([first]))
    mapping = {old[k]: ctx[k] for k in ("id_column", "text_column", "label_column")}
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([mapping.get(h, h) for h in header])
    return buffer.getvalue() + sep + rest


def defaults(root: Path) -> dict[str, str]:
    """The Hydra defaults list of conf/config.yaml as {group: choice}."""
    import yaml

    config = yaml.safe_load((root / "conf" / "config.yaml").read_text(encoding="utf-8"))
    return {k: v for item in config["defaults"] if isinstance(item, dict) for k, v in item.items()}


def file_edits(root: Path, ctx: dict) -> dict:
    """Edits beyond the package rename: source path -> functions text -> text."""
    chosen = defaults(root)
    data_group = f"conf/data/{chosen['data']}.yaml"
    data = _yaml_file(root / data_group)
    return {
        "pyproject.toml": [lambda t: edit_pyproject(t, ctx)],
        "README.md": [lambda t: edit_readme(t, ctx)],
        "Makefile": [lambda t: t.replace("python3.11", f"python{ctx['python_version']}")],
        "conf/config.yaml": [lambda t: edit_config(t, ctx)],
        data_group: [lambda t: edit_data_group(t, ctx)],
        f"conf/embedding/{chosen['embedding']}.yaml":
            [lambda t: set_yaml_key(t, "model", yaml_scalar(ctx["embedding_model"]))],
        f"{data['raw_dir']}/{data['file']}": [lambda t: edit_sample_header(t, ctx, data)],
    }


def edit_workflow(text: str, ctx: dict) -> str:
    return re.sub(r'python-version: "3\.11"', f'python-version: "{ctx["python_version"]}"', text)


def _yaml_file(path: Path) -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def recompose_params(project: Path) -> None:
    """Rewrite params.yaml from the edited conf/: each defaults group from its chosen file, then
    the root keys (Hydra's order with `_self_` last). The project's own tests and `params check`
    compare this with a real Hydra composition."""
    import yaml

    params_file = project / "params.yaml"
    original = params_file.read_text(encoding="utf-8")
    header = "".join(line for line in original.splitlines(keepends=True) if line.startswith("#"))
    config = _yaml_file(project / "conf" / "config.yaml")
    params = {}
    for group, choice in defaults(project).items():
        params[group] = _yaml_file(project / "conf" / group / f"{choice}.yaml")
    params.update({k: v for k, v in config.items() if k != "defaults"})
    params_file.write_text(header + yaml.safe_dump(resolve(params), sort_keys=False, allow_unicode=True),
                           encoding="utf-8")


def resolve(params: dict) -> dict:
    """Resolve whole-value interpolations such as `random_state: ${seed}` (conf/model/) as Hydra
    does; other values pass unchanged."""
    def value(v, depth=0):
        found = re.fullmatch(r"\$\{([A-Za-z_][\w.]*)\}", v) if isinstance(v, str) else None
        if found is None or depth > 10:
            return {k: value(x, depth) for k, x in v.items()} if isinstance(v, dict) else v
        target = params
        for part in found.group(1).split("."):
            target = target[part]
        return value(target, depth + 1)
    return value(params)


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
    mapping = plan(source_files(root), package, with_sample)
    edits = file_edits(root, ctx)
    regions = (TEMPLATE_ONLY,) if with_sample else (TEMPLATE_ONLY, SAMPLE_DATA_ONLY)
    for rel, dest_rel in mapping.items():
        src, dest = root / rel, project / dest_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        text = read_text(src)
        if text is None:  # binary: copied as is
            shutil.copyfile(src, dest)
        else:
            text = rename(strip_regions(text, regions), package)
            if rel.startswith(".github/workflows/"):
                text = edit_workflow(text, ctx)
            for edit in edits.get(rel, []):
                text = edit(text)
            dest.write_bytes(text.encode("utf-8"))
        # git keeps only the executable bit (.ci/run); the rest of the source's mode is local noise
        dest.chmod(0o755 if os.access(src, os.X_OK) else 0o644)
    return sorted(mapping.values())


def write_data_placeholder(project: Path, ctx: dict) -> None:
    """Without the sample, data/raw/ still exists (it is a DVC dependency) and says what goes in it."""
    data = _yaml_file(project / "conf" / "data" / f"{defaults(project)['data']}.yaml")
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
    if git(project, "config", "user.email").returncode or git(project, "config", "user.name").returncode:
        # No git identity configured: commit once as the author, without writing it to any config.
        identity = ["-c", f"user.name={ctx['author']}", "-c", f"user.email={ctx['project_slug']}@example.invalid"]
        print(f"note: no git identity configured; the initial commit is authored as {ctx['author']!r}")
    result = git(project, *identity, "commit", "-q", "--no-verify", "-m",
                 f"New project {ctx['project_name']} from the {PACKAGE} template")
    if result.returncode:
        raise ScaffoldError(f"git commit failed: {result.stderr.strip()}")


# ---- entry points (the hooks) -----------------------------------------------------------------

def build(ctx: dict, project: Path) -> None:
    """The post-generation hook; the pre-generation hook has validated ctx."""
    root = source_root(Path(__file__).resolve().parent)
    copy_files(root, project, ctx)
    if ctx["sample_data"] != "yes":
        write_data_placeholder(project, ctx)
    recompose_params(project)
    init_repository(project, ctx)


def _main(func) -> int:
    try:
        func()
    except ScaffoldError as exc:
        print(ERROR_PREFIX + str(exc), file=sys.stderr)
        return 1
    return 0


def main_validate(ctx: dict) -> int:
    return _main(lambda: validate(ctx, source_root(Path(__file__).resolve().parent)))


def main_build(ctx: dict) -> int:
    return _main(lambda: build(ctx, Path.cwd()))
