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


class ScaffoldError(Exception):
    """Bad input to the template; shown as one line."""


# ---- answers ----------------------------------------------------------------------------------

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
    chosen = defaults(root)["embedding"]
    if ctx["embedding_model"] == _yaml_file(root / "conf" / "embedding" / f"{chosen}.yaml")["model"]:
        return chosen
    last = ctx["embedding_model"].rstrip("/").rsplit("/", 1)[-1].lower()
    return re.sub(r"[^a-z0-9_-]+", "-", last).strip("-") or "model"


def renamed_configs(root: Path, ctx: dict) -> dict[str, str]:
    """Config groups named after the answers: the dataset's and the embedding model's."""
    chosen = defaults(root)
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
    license_line = "" if ctx["license"] in ("Proprietary", "none") else f"license = {_toml(ctx['license'])}\n"
    authors = f"authors = [{{ name = {_toml(ctx['author'])} }}]\n"
    return re.sub(r"^license = .*\n", lambda _: license_line + authors, text, count=1, flags=re.M)


# README wording about the sample data, and what it says instead in a project without it
# (the paragraph describing the sample is a `sample-data-only` region).
WITHOUT_SAMPLE = {
    "Everything runs offline on the sample data it ships.": "Everything runs offline on the data in `data/raw/`.",
    "## Sample data\n": "## Data\n",
    " itself with git (the sample) or": " itself with git (small data) or",
    "input (the sample dataset)": "input (see data/raw/README.md)",
    " Sample data: CC0 1.0.": "",
}
NO_LICENSE = ("No license chosen yet: nobody else may use, copy or change this code until a "
              "`LICENSE` file grants it (see https://choosealicense.com).")


def edit_readme(text: str, ctx: dict) -> str:
    text = re.sub(r"\A# .*\n", lambda _: f"# {ctx['project_name']}\n\n{ctx['description']}\n", text, count=1)
    text = text.replace("Python 3.11", f"Python {ctx['python_version']}")
    columns = ",".join(ctx[k] for k in ("id_column", "text_column", "label_column"))
    text = text.replace("columns `id,text,label`", f"columns `{columns}`")
    if ctx["sample_data"] != "yes":
        for old, new in WITHOUT_SAMPLE.items():
            text = text.replace(old, new)
    if ctx["license"] == "none":
        return re.sub(r"^Code: MIT \(see `LICENSE`\)\.", lambda _: NO_LICENSE, text, flags=re.M)
    return re.sub(r"^Code: MIT ", lambda _: f"Code: {ctx['license']} ", text, flags=re.M)


def set_default(text: str, group: str, choice: str) -> str:
    """Set a group's choice in the Hydra defaults list of conf/config.yaml."""
    return re.sub(rf"^(\s*- {group}: ).*$", lambda m: m.group(1) + choice, text, count=1, flags=re.M)


def edit_config(text: str, ctx: dict, renamed: dict[str, str]) -> str:
    text = set_default(text, "model", ctx["classifier"])
    for target in renamed.values():  # conf/<group>/<choice>.yaml
        _, group, name = target.split("/")
        text = set_default(text, group, name.removesuffix(".yaml"))
    return set_yaml_key(text, "model_name", yaml_scalar(ctx["model_name"]))


def set_header(text: str, header: str) -> str:
    """Replace the comment lines a YAML file starts with (they describe what it shipped with)."""
    body = text.lstrip("\n")
    while body.startswith("#"):
        body = body.partition("\n")[2]
    return header + body


def edit_data_group(text: str, ctx: dict) -> str:
    text = set_yaml_key(text, "name", yaml_scalar(ctx["dataset_name"]))
    for key in ("id_column", "text_column", "label_column"):
        text = set_yaml_key(text, key, yaml_scalar(ctx[key]))
    if ctx["sample_data"] != "yes":
        text = set_header(text, "# Your dataset: the CSV `file` in `raw_dir` (its README there says what it needs).\n")
    return text


def edit_embedding_group(text: str, ctx: dict, default_model: str) -> str:
    if ctx["embedding_model"] != default_model:
        text = set_header(text, "# `model`: the hub name of a packaged model, or the path of a directory saved with\n"
                                "# SentenceTransformer.save() (README: \"The embedding model, offline\").\n")
    return set_yaml_key(text, "model", yaml_scalar(ctx["embedding_model"]))


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
    data_group, embedding_group = f"conf/data/{chosen['data']}.yaml", f"conf/embedding/{chosen['embedding']}.yaml"
    data, default_model = _yaml_file(root / data_group), _yaml_file(root / embedding_group)["model"]
    renamed = renamed_configs(root, ctx)
    shipped_model = _yaml_file(root / "conf" / "config.yaml")["model_name"]
    return {
        "pyproject.toml": [lambda t: edit_pyproject(t, ctx)],
        # the released models' DVC artifact is named after the model
        "dvc.yaml": [lambda t: t.replace(shipped_model, ctx["model_name"])],
        "README.md": [lambda t: edit_readme(t, ctx)],
        "Makefile": [lambda t: t.replace("python3.11", f"python{ctx['python_version']}")],
        "conf/config.yaml": [lambda t: edit_config(t, ctx, renamed)],
        data_group: [lambda t: edit_data_group(t, ctx)],
        embedding_group: [lambda t: edit_embedding_group(t, ctx, default_model)],
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
    mapping = plan(source_files(root), root, ctx)
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
    (reprostack_template.check_answers, with `validate` below)."""
    template_dir = Path(__file__).resolve().parent
    root = source_root(template_dir)
    copy_files(root, project, ctx)
    if ctx["sample_data"] != "yes":
        write_data_placeholder(project, ctx)
    if ctx["license"] == "none":
        (project / "LICENSE").unlink()  # rendered empty: there is no license to state
    recompose_params(project)
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
        return 1
    return 0
