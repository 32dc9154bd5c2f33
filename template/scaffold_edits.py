"""Text edits that turn this repository's shared files into a new project's (scaffold_files.py
applies them): the answers written into conf/ and the sample CSV's header, dvc.yaml's library
deps replaced by the project's own package and requirements.lock, then params.yaml recomposed
from the edited conf/. Standard library and PyYAML only, like scaffold.py (cookiecutter's
interpreter runs it).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

PACKAGE = "reprostack"  # the library a project depends on (requirements.lock pins it)


class ScaffoldError(Exception):
    """Bad input to the template; shown as one line."""


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
    # the project's own data hook (src/<package>/data.py), which the library calls on the table
    return set_yaml_key(text, "preprocess", yaml_scalar(f"{ctx['package_name']}.data:preprocess"))


def edit_embedding_group(text: str, ctx: dict, default_model: str) -> str:
    if ctx["embedding_model"] != default_model:
        text = set_header(
            text,
            "# `model`: the hub name of a packaged model, or the path of a directory saved with\n"
            '# SentenceTransformer.save() (README: "The embedding model, offline").\n',
        )
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
    params_file.write_text(
        header + yaml.safe_dump(resolve(params), sort_keys=False, allow_unicode=True), encoding="utf-8"
    )


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


# ---- dvc.yaml ---------------------------------------------------------------------------------

# This repository's dvc.yaml speaks of the library's files, which a project does not hold.
DVC_HEADER = """\
# The pipeline. Each stage runs an entry point of the reprostack library (`python -m
# reprostack.stages.<name>`); deps, params and outs match what it reads and writes. A stage
# depends on requirements.lock (the library's pinned commit: `make upgrade` moves it, which re-runs
# the stages) and on this project's own package, src/{package}/ (the data hook in data.py, any
# stage of your own). Paths come from params.yaml (composed from conf/ by the compose stage).
"""
DVC_COMMENTS = {
    "(see stages/_runner.py)": "(the library's stage runner writes them)",
    "that snapshot.py manages itself": "that the library manages itself",
}


def project_dvc_yaml(text: str, ctx: dict, shipped_model: str) -> str:
    """This repository's dvc.yaml for a project: the header comment replaced, and in each stage's
    deps the `src/reprostack/...` entries (with the comments just above them) replaced by the
    project's package and requirements.lock, each once."""
    out, comments, deps_indent, seen = [], [], None, set()
    for line in text[text.index("stages:") :].splitlines(keepends=True):
        stripped, indent = line.strip(), len(line) - len(line.lstrip())
        if deps_indent is not None and stripped and not stripped.startswith(("#", "- ")) and indent <= deps_indent:
            deps_indent = None  # the deps list ended (params:, outs:, the next stage)
        if deps_indent is None:
            out += comments + [line]
            comments = []
            if stripped == "deps:":
                deps_indent, seen = indent, set()
            continue
        if stripped.startswith("#") or not stripped:
            comments.append(line)  # held until the dep it annotates is known
            continue
        dep = stripped[2:]
        wanted = [f"src/{ctx['package_name']}", "requirements.lock"] if dep.startswith(f"src/{PACKAGE}/") else [dep]
        out += [] if dep.startswith(f"src/{PACKAGE}/") else comments
        comments = []
        out += [f"{' ' * (deps_indent + 2)}- {d}\n" for d in wanted if d not in seen]
        seen.update(wanted)
    text = DVC_HEADER.format(package=ctx["package_name"]) + "".join(out + comments)
    for old, new in DVC_COMMENTS.items():
        text = text.replace(old, new)
    return text.replace(shipped_model, ctx["model_name"])


def edit_dvcignore(text: str, ctx: dict) -> str:
    """Its comment names this repository's library path and issue: the project's package instead."""
    text = re.sub(r" \(issue \d+\)", "", text)
    return text.replace(f"src/{PACKAGE}/<package>", f"src/{ctx['package_name']}/")
