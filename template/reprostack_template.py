"""Jinja extension for the template: where this template directory is, the answer check, the
template's URL and one-line hook failures, all in cookiecutter's own process.

Hooks run from a temporary copy of themselves with the new project as working directory, and
cookiecutter's `_repo_dir` is relative when the template was given as a relative path. This
module is imported by cookiecutter before anything changes directory, so resolving its own
location here is reliable for a relative path, an absolute one and a git clone alike. (Its name
is unusual on purpose: cookiecutter appends the template directory to sys.path, so an installed
module of the same name would win.)
"""

import importlib.util
import logging
import sys
from pathlib import Path

from cookiecutter.config import BUILTIN_ABBREVIATIONS
from cookiecutter.exceptions import ContextDecodingException, FailedHookException
from cookiecutter.repository import expand_abbreviations, is_repo_url
from jinja2.ext import Extension

TEMPLATE_DIR = str(Path(__file__).resolve().parent)


class AnswerError(ContextDecodingException):
    """A bad answer, for a program calling cookiecutter as a library (a command line gets one
    line and exit status 1); raised while cookiecutter renders the project directory's name, so
    before it creates it."""


def current_template_dir() -> str:
    """The template directory of the render under way. Cookiecutter appends it to sys.path while
    it renders; a process that renders from two copies of the template (a program calling
    cookiecutter's API twice) keeps the first copy's module imported, whose own location would
    name the wrong copy. A relative entry cannot be told apart safely: then this module's own."""
    for entry in reversed(sys.path):
        path = Path(entry)
        if path.is_absolute() and (path / "cookiecutter.json").is_file() and (path / Path(__file__).name).is_file():
            return str(path.resolve())
    return TEMPLATE_DIR


def _scaffold():
    # by path, under its own name: a module called `scaffold` elsewhere on sys.path must not win
    spec = importlib.util.spec_from_file_location(
        "reprostack_template_scaffold", Path(current_template_dir()) / "scaffold.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def project_dir(slug: str, answers) -> str:
    """The project directory's name, `slug`, after checking every answer. The template directory
    is named `{{project_dir(cookiecutter.project_slug, cookiecutter)}}` (cruft looks for
    `cookiecutter.` in it). Cookiecutter renders that name first and creates the directory right
    after, before any hook runs: a bad answer stops it here with nothing written, and a
    project_slug such as `..` never becomes a path (cookiecutter would render into, and on a hook
    failure delete, the output directory's parent)."""
    scaffold = _scaffold()
    try:
        scaffold.answers.validate(dict(answers), scaffold.files.source_root(Path(current_template_dir())))
    except scaffold.ScaffoldError as exc:
        message = scaffold.ERROR_PREFIX + str(exc)
        if _command_line():  # cookiecutter's would print it as one line, but cruft's a traceback
            print(message, file=sys.stderr)
            sys.exit(1)
        raise AnswerError(message) from None
    return slug


def _command_line() -> bool:
    """Whether a command line is running, rather than a program calling cookiecutter as a library
    (which should get an exception): cookiecutter's is a click command, cruft's a typer one, and
    typer carries its own copy of click. Only modules already imported are asked."""
    for name in ("click.globals", "typer._click.globals"):
        module = sys.modules.get(name)
        if module is not None and module.get_current_context(silent=True) is not None:
            return True
    return False


def template_url(answers) -> str:
    """The repository URL cookiecutter cloned the template from (abbreviations such as gh:
    expanded, as cookiecutter does), or "" for a local directory; for .cruft.json."""
    given = expand_abbreviations(answers.get("_template", ""), BUILTIN_ABBREVIATIONS)
    return given if is_repo_url(given) else ""


class _ReportedHookFailure(logging.Filter):
    """Cookiecutter answers any failed hook by deleting the project directory it created, then
    logging a traceback (hooks.run_hook_from_repo_dir) and a last line (cli.main). When our hook
    already printed its one line and exited scaffold.REPORTED, and a command line (cookiecutter's
    or cruft's) is running, stop right there, after the cleanup and before that
    traceback, with the exit status 1 the command line would give. A program calling cookiecutter
    as a library still gets its FailedHookException; any other failure keeps cookiecutter's report."""

    def filter(self, record: logging.LogRecord) -> bool:
        failure = record.exc_info[1] if record.exc_info else None
        if (
            isinstance(failure, FailedHookException)
            and f"exit status: {_scaffold().REPORTED})" in str(failure)
            and _command_line()
        ):
            sys.exit(1)
        return True


def _quiet_reported_hook_failures() -> None:
    hooks_logger = logging.getLogger("cookiecutter.hooks")
    if not any(isinstance(f, _ReportedHookFailure) for f in hooks_logger.filters):
        hooks_logger.addFilter(_ReportedHookFailure())


class TemplateDir(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        _quiet_reported_hook_failures()
        environment.globals.update(
            template_dir=current_template_dir(), project_dir=project_dir, template_url=template_url
        )
