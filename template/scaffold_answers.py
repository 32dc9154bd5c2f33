"""The template's answers: the checks on them (`validate`, run by the Jinja extension before
cookiecutter writes anything) and the config names derived from them (`renamed_configs`).

Loaded by path by scaffold.py (see there), after scaffold_edits.py; standard library and PyYAML only.
"""

from __future__ import annotations

import keyword
import re
import sys
from pathlib import Path

import reprostack_template_edits as edits  # loaded by scaffold.py before this module

ScaffoldError = edits.ScaffoldError

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
EXTRA = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


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
        raise ScaffoldError(
            f"project_slug {ctx['project_slug']!r} is not a plain directory name; use 1-100 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit, e.g. project_slug=my-project"
        )
    pkg = ctx["package_name"]
    if not PACKAGE_NAME.match(pkg):
        raise ScaffoldError(
            f"package_name {pkg!r} is not a valid lowercase Python identifier; "
            "use letters, digits and underscores, e.g. my_project"
        )
    if keyword.iskeyword(pkg) or keyword.issoftkeyword(pkg):
        raise ScaffoldError(f"package_name {pkg!r} is a Python keyword; pick another, e.g. {pkg}_project")
    if pkg in sys.stdlib_module_names or pkg in locked_modules(root) or pkg == edits.PACKAGE:
        raise ScaffoldError(
            f"package_name {pkg!r} would shadow the module of the same name "
            "(standard library or a dependency); pick another"
        )
    if not MODEL_NAME.match(ctx["model_name"]):
        raise ScaffoldError(
            f"model_name {ctx['model_name']!r} must be 1-64 lowercase letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    if not DATASET_NAME.match(ctx["dataset_name"]):
        raise ScaffoldError(
            f"dataset_name {ctx['dataset_name']!r} must be 1-64 letters, digits, '_' or '-', starting "
            "with a letter or digit (it names conf/data/<name>.yaml and data/snapshots/<name>/)"
        )
    columns = [ctx["id_column"], ctx["text_column"], ctx["label_column"]]
    for column in columns:
        if not COLUMN.match(column):
            raise ScaffoldError(
                f"column name {column!r} must be letters, digits, '_' or '-', starting with a letter or '_'"
            )
    if len(set(columns)) != 3:
        raise ScaffoldError(f"id_column, text_column and label_column must differ, got {columns}")
    if not ctx["embedding_model"].strip() or any(c.isspace() for c in ctx["embedding_model"]):
        raise ScaffoldError(f"embedding_model {ctx['embedding_model']!r} must be a hub name or a path without spaces")
    match = re.fullmatch(r"3\.(\d+)", ctx["python_version"])
    if not match or (3, int(match.group(1))) < MIN_PYTHON:
        raise ScaffoldError(
            f"python_version {ctx['python_version']!r} must look like 3.11 (3.{MIN_PYTHON[1]} or newer)"
        )
    for extra in ctx["library_extras"].split(","):
        if extra.strip() and not EXTRA.match(extra.strip()):
            raise ScaffoldError(
                f"library_extras {ctx['library_extras']!r}: {extra.strip()!r} is not an extra's name; "
                "give names separated by commas, e.g. s3,serve (or nothing)"
            )
    for key in ("description", "author"):
        if "\n" in ctx[key] or not ctx[key].strip():
            raise ScaffoldError(f"{key} must be one non-empty line")
    for source, target in renamed_configs(root, ctx).items():
        if target != source and (root / target).exists():
            raise ScaffoldError(
                f"{target} already exists in the template; pick another name "
                f"(dataset_name, or embedding_model for conf/embedding/)"
            )
    if not (root / "conf" / "model" / f"{ctx['classifier']}.yaml").is_file():
        raise ScaffoldError(f"classifier {ctx['classifier']!r} has no conf/model/{ctx['classifier']}.yaml")


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
    return {
        f"conf/data/{chosen['data']}.yaml": f"conf/data/{ctx['dataset_name']}.yaml",
        f"conf/embedding/{chosen['embedding']}.yaml": f"conf/embedding/{embedding_choice(root, ctx)}.yaml",
    }
