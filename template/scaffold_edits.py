"""Text edits that turn this repository's files into a new project's (scaffold.py applies them).

The package rename in every text file, and the answers written into pyproject.toml, the README,
the Makefile, conf/ and the sample CSV's header; then params.yaml recomposed from the edited
conf/. Standard library and PyYAML only, like scaffold.py (cookiecutter's interpreter runs it).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

PACKAGE = "reprostack"  # the name this repository's package has; renamed in every copied file


class ScaffoldError(Exception):
    """Bad input to the template; shown as one line."""


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


def edit_workflow(text: str, ctx: dict) -> str:
    return re.sub(r'python-version: "3\.11"', f'python-version: "{ctx["python_version"]}"', text)


def yaml_file(path: Path) -> dict:
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
    config = yaml_file(project / "conf" / "config.yaml")
    params = {}
    for group, choice in defaults(project).items():
        params[group] = yaml_file(project / "conf" / group / f"{choice}.yaml")
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
