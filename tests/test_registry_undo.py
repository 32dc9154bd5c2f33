"""The undo paths of release, promote and rollback, driven by real injected failures.

Each failure strikes after the command has started writing (store directory, `dvc add`,
registry.json, the history line, tags, the commit), and each test shows that registry.json, the
history log, the tags, HEAD, the working tree and models/ are exactly as before. Only the
public API is used (registry.release.release, registry.promotion.promote/rollback), so the
tests hold whatever the internals become.

The tests run as root here, and root ignores file modes, so "a directory we cannot write" is
made the way that stops root too: a plain file where the command needs a directory, or a
directory where it needs a file.
"""

from __future__ import annotations

import pytest
from factories import params_of
from tools import git, registry_state

from reprostack.core import names
from reprostack.core.errors import ReprostackError
from reprostack.registry import catalog, journal, promotion, release


def failing_ref_hook(root, refs: str) -> None:
    """A reference-transaction hook that refuses any ref update under `refs` (git asks it in the
    'prepared' state; a non-zero exit aborts the transaction). release/promote commit with
    --no-verify, so a pre-commit hook would never run: this one cannot be skipped."""
    hook = root / ".git" / "hooks" / "reference-transaction"
    hook.write_text(f"""#!/bin/sh
lines=$(cat)
if [ "$1" = prepared ] && printf '%s\\n' "$lines" | grep -q ' {refs}'; then
  echo "injected failure: {refs} is refused" >&2
  exit 1
fi
exit 0
""")
    hook.chmod(0o755)


def next_version(root) -> str:
    name = params_of(root).model_name
    return names.bump(catalog.latest_version(catalog.read(root), name), "minor")


@pytest.mark.parametrize("refs", ["refs/heads/", "refs/tags/"], ids=["commit-refused", "tag-refused"])
def test_release_undone_when_git_refuses_the_commit_or_the_tag(candidate, refs):
    before = registry_state(candidate)
    failing_ref_hook(candidate, refs)
    with pytest.raises(ReprostackError, match="hook"):
        release.release(candidate, params_of(candidate).model_name)
    assert registry_state(candidate) == before


def test_release_undone_when_its_tag_appears_meanwhile(candidate):
    """Another clone pushes the same version's tag between the checks and the tagging: the
    commit succeeds, `git tag` finds the tag taken, and the release is undone; the other's tag
    stays."""
    name = params_of(candidate).model_name
    taken = names.release_tag(name, next_version(candidate))
    hook = candidate / ".git" / "hooks" / "reference-transaction"
    hook.write_text(f"""#!/bin/sh
lines=$(cat)
if [ "$1" = committed ] && printf '%s\\n' "$lines" | grep -q ' refs/heads/' && [ ! -e .git/taken ]; then
  touch .git/taken
  git tag '{taken}' HEAD~1
fi
exit 0
""")
    hook.chmod(0o755)
    before = registry_state(candidate)
    with pytest.raises(ReprostackError, match=f"tag {taken}|{taken}.*already exists"):
        release.release(candidate, name)
    after = registry_state(candidate)
    assert taken in after["tags"] and taken not in before["tags"]
    after["tags"].remove(taken)
    assert after == before


def test_an_unwritable_last_good_copy_never_fails_a_release(candidate):
    # the copy is written after the commit and the tags: the release has taken effect by then,
    # so failing there would be a "failed" command that took effect
    last_good_is_a_directory(candidate)
    name = params_of(candidate).model_name
    made = release.release(candidate, name)
    assert catalog.latest_version(catalog.read(candidate), name) == made["version"]
    assert git(candidate, "tag", "--list", f"{name}@{made['version']}").strip() == f"{name}@{made['version']}"
    assert not (candidate / journal.JOURNAL_FILE).exists()


def last_good_is_a_directory(root) -> None:
    # the last-good copy (ignored by git) becomes a directory: registry.json is written, its copy
    # is not
    (root / catalog.LAST_GOOD_FILE).unlink()
    (root / catalog.LAST_GOOD_FILE).mkdir()


@pytest.mark.parametrize(
    "inject",
    [
        pytest.param(lambda root: failing_ref_hook(root, "refs/heads/"), id="commit-refused"),
        pytest.param(lambda root: failing_ref_hook(root, "refs/tags/"), id="tags-refused"),
    ],
)
def test_promote_undone_on_failure(released, inject):
    root, first, _ = released
    params = params_of(root)
    before = registry_state(root)
    inject(root)
    with pytest.raises(ReprostackError):
        promotion.promote(root, params, params.model_name, first["version"])
    assert registry_state(root) == before


def test_rollback_undone_when_git_refuses_the_commit(released):
    root, first, second = released
    params = params_of(root)
    promotion.promote(root, params, params.model_name, first["version"])
    promotion.promote(root, params, params.model_name, second["version"])
    before = registry_state(root)
    failing_ref_hook(root, "refs/heads/")
    with pytest.raises(ReprostackError, match="hook"):
        promotion.rollback(root, params, params.model_name, reason="canary")
    assert registry_state(root) == before
    # and with the hook gone the same rollback goes through
    (root / ".git" / "hooks" / "reference-transaction").unlink()
    event = promotion.rollback(root, params, params.model_name, reason="canary")
    assert event["changes"][0]["version"] == first["version"]
    assert git(root, "rev-parse", "HEAD").strip() != before["HEAD"]
