"""Bad answers to the template stop with one line and leave nothing written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from factories import REPO, copy_project
from templating import only_project, render, render_env
from tools import VENV_BIN

# ---- bad answers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra,message",
    [
        ({"package_name": "class"}, "error: package_name 'class' is a Python keyword"),
        ({"package_name": "2fast"}, "error: package_name '2fast' is not a valid lowercase Python identifier"),
        ({"package_name": "json"}, "error: package_name 'json' would shadow the module of the same name"),
        ({"label_column": "text"}, "error: id_column, text_column and label_column must differ"),
        ({"python_version": "3.9"}, "error: python_version '3.9' must look like 3.11"),
        ({"dataset_name": "my.data"}, "error: dataset_name 'my.data' must be 1-64 letters"),
        ({"package_name": "reprostack"}, "error: package_name 'reprostack' would shadow the module of the same name"),
        ({"library_extras": "s3;rm -rf"}, "error: library_extras 's3;rm -rf': 's3;rm -rf' is not an extra's name"),
    ],
    ids=[
        "keyword",
        "not-identifier",
        "shadows-stdlib",
        "same-columns",
        "old-python",
        "dataset-name",
        "the-library",
        "extras",
    ],
)
def test_bad_answers_stop_with_one_line_and_leave_nothing(tmp_path, extra, message):
    """Exactly one line in all of cookiecutter's output, no traceback, nothing on disk."""
    result = render(tmp_path / "out", extra)
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) == 1 and output[0].startswith(message), result.stdout + result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def tree(root: Path) -> dict[str, bytes | None]:
    """Every entry under root with a file's bytes (None for a directory)."""
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


@pytest.mark.parametrize(
    "slug,out_exists",
    [
        ("..", True),
        ("..", False),
        ("a/b", True),
        (".", True),
        ("", True),
        ("a\\b", True),
        ("-rf", True),
        ("my project", True),
    ],
    ids=["parent", "parent-of-a-new-output-dir", "subdir", "dot", "empty", "backslash", "option", "space"],
)
def test_a_project_slug_that_is_not_a_plain_name_is_refused_before_anything_is_written(tmp_path, slug, out_exists):
    """project_slug is a directory in --output-dir: `..` made cookiecutter render into the output
    dir's parent and, on a hook failure, delete it. Now one line naming project_slug, exit 1, and
    the output dir and its parent exactly as before."""
    parent = tmp_path / "parent"
    (parent / "out").mkdir(parents=True)
    (parent / "sentinel.txt").write_text("the user's file next to the output dir")
    if out_exists:
        (parent / "out" / "sentinel.txt").write_text("the user's file in the output dir")
    else:
        (parent / "out").rmdir()
    before = tree(parent)
    env = render_env(tmp_path / "home")
    cmd = [
        str(VENV_BIN / "cookiecutter"),
        str(REPO),
        "--directory",
        "template",
        "--no-input",
        "--output-dir",
        str(parent / "out"),
        f"project_slug={slug}",
        "model_name=m",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) == 1 and output[0].startswith(f"error: project_slug {slug!r} is not a plain directory name"), (
        result.stdout + result.stderr
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert tree(parent) == before


def test_cruft_create_refuses_a_bad_project_slug_with_one_line(tmp_path):
    """cruft's command line too: its own would be a long traceback."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "sentinel.txt").write_text("keep")
    before = tree(tmp_path)
    result = subprocess.run(
        [
            str(VENV_BIN / "cruft"),
            "create",
            str(REPO),
            "--directory",
            "template",
            "--no-input",
            "--output-dir",
            str(out),
            "--extra-context",
            '{"project_slug": ".."}',
        ],
        capture_output=True,
        text=True,
        env=render_env(tmp_path / "home"),
    )
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert len(output) == 1 and output[0].startswith("error: project_slug '..' is not a plain directory name"), (
        result.stdout + result.stderr
    )
    assert {k: v for k, v in tree(tmp_path).items() if not k.startswith("home")} == before


def test_the_fix_the_slug_error_names_renders(tmp_path):
    """The message's example answer works."""
    result = render(tmp_path / "out", {"project_slug": "my-project"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert only_project(tmp_path / "out").name == "my-project"


def test_a_failing_post_hook_prints_one_line_and_leaves_nothing(tmp_path):
    """A failure inside the post-generation hook (here: a source without .dvc/config): our one
    line, not cookiecutter's traceback, exit 1, and the half-made project removed."""
    source = copy_project(tmp_path / "source")
    (source / ".dvc" / "config").unlink()
    result = render(tmp_path / "out", {}, template=str(source))
    assert result.returncode == 1
    output = (result.stdout + result.stderr).strip().splitlines()
    assert output == ["error: .dvc/config is missing from the source repository; DVC would not be initialised"], (
        result.stdout + result.stderr
    )
    assert list((tmp_path / "out").iterdir()) == []


def test_an_answer_outside_a_choice_list_is_refused_by_cookiecutter(tmp_path):
    """Cookiecutter checks choice answers itself, before our hooks run (README: "Bad answers")."""
    result = render(tmp_path / "out", {"license": "GPL"})
    assert result.returncode != 0
    assert "GPL provided for choice variable license, but the choices are" in result.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_existing_directory_is_refused(tmp_path):
    (tmp_path / "out" / "text-classifier").mkdir(parents=True)
    (tmp_path / "out" / "text-classifier" / "mine.txt").write_text("keep me")
    result = render(tmp_path / "out", {})
    assert result.returncode != 0 and 'text-classifier" directory already exists' in result.stdout + result.stderr
    assert [p.name for p in (tmp_path / "out" / "text-classifier").iterdir()] == ["mine.txt"]
