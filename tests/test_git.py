"""The one git helper, against a real repository: -z porcelain with the paths that broke
`line[3:]` (spaces, non-ASCII, renames), one-line errors, and the callers that use it."""

import pytest
from tools import git as sh

from reprostack.core import git
from reprostack.core.errors import RegistryError, ReprostackError
from reprostack.runs import records


@pytest.fixture
def repo(tmp_path):
    sh(tmp_path, "init", "-q")
    for name in ("plain.txt", "with space.txt", "café.txt", "old name.txt", "keep.txt"):
        (tmp_path / name).write_text(name)
    sh(tmp_path, "add", "-A")
    sh(tmp_path, "commit", "-qm", "init")
    return tmp_path


def test_changed_paths_reads_spaces_unicode_and_both_sides_of_a_rename(repo):
    assert git.changed_paths(repo) == []
    (repo / "with space.txt").write_text("changed")
    (repo / "café.txt").write_text("changed")
    sh(repo, "mv", "old name.txt", "new -> name.txt")
    (repo / "untracked.txt").write_text("not counted")
    assert git.changed_paths(repo) == ["café.txt", "new -> name.txt", "old name.txt", "with space.txt"]
    assert git.changed_paths(repo, "café.txt") == ["café.txt"]


def test_outside_a_repository(tmp_path):
    assert git.changed_paths(tmp_path) is None
    assert git.rev_parse(tmp_path, "HEAD") is None
    assert records.git_state(tmp_path)["commit"] is None


def test_a_failure_is_one_line_of_the_callers_error_class(repo):
    with pytest.raises(RegistryError, match=r"^git failed while tagging: fatal: .*nope") as err:
        git.run(repo, "tag", "x", "nope", doing="tagging", error=RegistryError)
    assert "\n" not in str(err.value)
    with pytest.raises(ReprostackError, match="git failed while reading"):
        git.run(repo, "cat-file", "-p", "0" * 40, doing="reading")


def test_rev_parse_ok_and_committer(repo):
    head = git.rev_parse(repo, "HEAD")
    assert len(head) == 40 and git.ok(repo, "cat-file", "-e", f"{head}^{{commit}}")
    assert git.rev_parse(repo, "refs/tags/none") is None and not git.ok(repo, "cat-file", "-e", "0" * 40)
    assert git.committer(repo) == "Test <test@example.invalid>"


def test_run_record_git_state_names_renamed_and_quoted_paths(repo):
    sh(repo, "mv", "old name.txt", "renamed é.txt")
    (repo / "keep.txt").write_text("dirty")
    state = records.git_state(repo, exclude=["keep.txt"])
    assert state["dirty"] and state["changed"] == ["old name.txt", "renamed é.txt"]
    assert state["commit"] == git.rev_parse(repo, "HEAD") and len(state["diff_sha256"]) == 64
