"""Jinja extension for the hooks: where this template directory is, the answer check, and the
template's URL, all computed in cookiecutter's own process.

Hooks run from a temporary copy of themselves with the new project as working directory, and
cookiecutter's `_repo_dir` is relative when the template was given as a relative path. This
module is imported by cookiecutter before anything changes directory, so resolving its own
location here is reliable for a relative path, an absolute one and a git clone alike. (Its name
is unusual on purpose: cookiecutter appends the template directory to sys.path, so an installed
module of the same name would win.)
"""

import importlib.util
import os
from pathlib import Path

from cookiecutter.config import BUILTIN_ABBREVIATIONS
from cookiecutter.exceptions import ContextDecodingException
from cookiecutter.repository import expand_abbreviations, is_repo_url
from jinja2.ext import Extension

TEMPLATE_DIR = str(Path(__file__).resolve().parent)


class AnswerError(ContextDecodingException):
    """A bad answer. Cookiecutter logs a traceback for any hook that exits non-zero
    (hooks.run_hook_from_repo_dir); this exception, raised while it renders pre_gen_project.py,
    is one its command line prints as one line and exits 1 on (cli.main)."""


def _scaffold():
    # by path, under its own name: a module called `scaffold` elsewhere on sys.path must not win
    spec = importlib.util.spec_from_file_location("reprostack_template_scaffold", Path(TEMPLATE_DIR) / "scaffold.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_answers(answers) -> str:
    """Validate the answers; on a bad one remove the still empty project directory cookiecutter
    made and raise AnswerError. Returns "" so that the hook's template can call it."""
    scaffold = _scaffold()
    try:
        scaffold.validate(dict(answers), scaffold.source_root(Path(TEMPLATE_DIR)))
    except scaffold.ScaffoldError as exc:
        if answers.get("_output_dir"):
            try:
                os.rmdir(Path(answers["_output_dir"]) / answers["project_slug"])  # only ever an empty one
            except OSError:
                pass
        raise AnswerError(scaffold.ERROR_PREFIX + str(exc)) from None
    return ""


def template_url(answers) -> str:
    """The repository URL cookiecutter cloned the template from (abbreviations such as gh:
    expanded, as cookiecutter does), or "" for a local directory; for .cruft.json."""
    given = expand_abbreviations(answers.get("_template", ""), BUILTIN_ABBREVIATIONS)
    return given if is_repo_url(given) else ""


class TemplateDir(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals.update(template_dir=TEMPLATE_DIR, check_answers=check_answers, template_url=template_url)
