"""Jinja extension that tells the hooks where this template directory is, as an absolute path.

Hooks run from a temporary copy of themselves with the new project as working directory, and
cookiecutter's `_repo_dir` is relative when the template was given as a relative path. This
module is imported by cookiecutter before anything changes directory, so resolving its own
location here is reliable for a relative path, an absolute one and a git clone alike. (Its name
is unusual on purpose: cookiecutter appends the template directory to sys.path, so an installed
module of the same name would win.)
"""

from pathlib import Path

from jinja2.ext import Extension

TEMPLATE_DIR = str(Path(__file__).resolve().parent)


class TemplateDir(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["template_dir"] = TEMPLATE_DIR
