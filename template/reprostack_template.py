"""Jinja extension for the hooks: where this template directory is, and the answer check.

Hooks run from a temporary copy of themselves with the new project as working directory, and
cookiecutter's `_repo_dir` is relative when the template was given as a relative path. This
module is imported by cookiecutter before anything changes directory, so resolving its own
location here is reliable for a relative path, an absolute one and a git clone alike. (Its name
is unusual on purpose: cookiecutter appends the template directory to sys.path, so an installed
module of the same name would win.)

`check_answers` runs inside cookiecutter's process while it renders pre_gen_project.py: a bad
answer there is one line from cookiecutter's command line, where a hook that exits non-zero
gets a logged traceback (see scaffold.AnswerError).
"""

import importlib.util
from pathlib import Path

from jinja2.ext import Extension

TEMPLATE_DIR = str(Path(__file__).resolve().parent)


def _scaffold():
    # by path, under its own name: a module called `scaffold` elsewhere on sys.path must not win
    spec = importlib.util.spec_from_file_location("reprostack_template_scaffold", Path(TEMPLATE_DIR) / "scaffold.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_answers(answers) -> str:
    return _scaffold().check_answers(dict(answers))


class TemplateDir(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["template_dir"] = TEMPLATE_DIR
        environment.globals["check_answers"] = check_answers
