"""The setup-project pins of the reusable workflows: written by `make pin-actions`, refused when stale."""

from __future__ import annotations

from pathlib import Path

import pytest
from pin_setup_project import ACTION_DIR, WORKFLOWS_REPO, last_change, pins, rewrite, stale_pins

from support.commands import git

USES = f"{WORKFLOWS_REPO}/{ACTION_DIR}"
WORKFLOW = f"""jobs:
  test:
    steps:
      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0
      - name: Set up the project
        uses: {USES}@v1
"""


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository with the action and one workflow that loads it by tag."""
    (tmp_path / ACTION_DIR).mkdir(parents=True)
    (tmp_path / ACTION_DIR / "action.yml").write_text("runs:\n  using: composite\n  steps: []\n")
    (tmp_path / ".github" / "workflows").mkdir()
    (tmp_path / ".github" / "workflows" / "test.yml").write_text(WORKFLOW)
    git(tmp_path, "init", "--quiet")
    git(tmp_path, "add", "--all")
    git(tmp_path, "commit", "--quiet", "--message", "action")
    return tmp_path


def _pin(repository: Path) -> str:
    sha = last_change(repository)
    workflow = repository / ".github" / "workflows" / "test.yml"
    workflow.write_text(rewrite(workflow.read_text(), sha))
    git(repository, "commit", "--quiet", "--all", "--message", "pin")
    return sha


def test_rewrite_pins_only_this_repositorys_action():
    pinned = rewrite(WORKFLOW, "a" * 40)
    assert pins(pinned) == {"a" * 40}
    assert "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0" in pinned


def test_a_tag_is_refused_and_a_pin_to_the_last_change_is_current(repository):
    assert stale_pins(repository) == [".github/workflows/test.yml: setup-project@v1 is not a full commit SHA"]
    sha = _pin(repository)
    assert sha == git(repository, "rev-parse", "HEAD~1")
    assert stale_pins(repository) == []


def test_a_changed_action_makes_the_pin_stale_until_it_is_pinned_again(repository):
    old = _pin(repository)
    action = repository / ACTION_DIR / "action.yml"
    action.write_text(action.read_text() + "# changed\n")
    expected = f".github/workflows/test.yml: setup-project@{old} loads an action unlike this checkout's"
    assert stale_pins(repository) == [expected]
    with pytest.raises(SystemExit, match="uncommitted changes"):
        last_change(repository)
    git(repository, "commit", "--quiet", "--all", "--message", "change the action")
    assert stale_pins(repository), "a committed change still differs from the pinned commit"
    new = _pin(repository)
    assert new != old
    assert stale_pins(repository) == []


def test_a_file_added_to_the_action_makes_the_pin_stale(repository):
    _pin(repository)
    (repository / ACTION_DIR / "helper.sh").write_text("echo\n")
    assert "unlike this checkout's" in stale_pins(repository)[0]


def test_a_commit_missing_from_the_clone_is_named(repository):
    workflow = repository / ".github" / "workflows" / "test.yml"
    workflow.write_text(rewrite(workflow.read_text(), "0" * 40))
    assert stale_pins(repository) == [
        f".github/workflows/test.yml: setup-project@{'0' * 40} is not a commit of this clone "
        "(a shallow clone? fetch the history)"
    ]
