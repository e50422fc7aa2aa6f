"""scripts/check_mirror.py: an organisation's mirror must serve this repository's `.github/` at the pinned SHA.

Local repositories stand in for this repository and its mirrors: a true mirror passes; a mirror
whose pinned commit shows an altered workflow fails naming the file; a mirror made before the
pinned commit fails because it lacks it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from check_mirror import main

from support.commands import git
from support.template import TEMPLATE_DIR

WORKFLOW = ".github/workflows/train.yml"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """This repository's stand-in: reusable workflows and the setup-project action, two commits."""
    repository = tmp_path / "source"
    for path, text in {
        WORKFLOW: "on: workflow_call\njobs: {}\n",
        ".github/actions/setup-project/action.yml": "runs:\n  using: composite\n  steps: []\n",
        "README.md": "workflows\n",
    }.items():
        (repository / path).parent.mkdir(parents=True, exist_ok=True)
        (repository / path).write_text(text)
    git(repository, "init", "--quiet", "--initial-branch", "main")
    git(repository, "add", "--all")
    git(repository, "commit", "--quiet", "--message", "workflows")
    return repository


def _head(repository: Path) -> str:
    return git(repository, "rev-parse", "HEAD")


def _check(mirror: Path, sha: str, source: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    status = main([str(mirror), sha, "--source", str(source)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_a_true_mirror_passes(source, tmp_path, capsys):
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "--quiet", "--mirror", str(source), str(mirror))
    sha = _head(source)
    status, output = _check(mirror, sha, source, capsys)
    assert (status, output) == (
        0,
        f"OK: {mirror} holds commit {sha} and its .github/ is identical to this repository's.\n",
    )


def test_a_mirror_whose_commit_shows_an_altered_workflow_fails_naming_the_file(source, tmp_path, capsys):
    """Same commit id, other content: the mirror's refs/replace swaps the pinned commit for an edited one."""
    mirror = tmp_path / "mirror"
    git(tmp_path, "clone", "--quiet", str(source), str(mirror))
    sha = _head(source)
    (mirror / WORKFLOW).write_text("on: workflow_call\njobs:\n  steal:\n    runs-on: gpu\n")
    git(mirror, "commit", "--quiet", "--all", "--amend", "--no-edit")
    git(mirror, "replace", sha, _head(mirror))
    assert git(mirror, "show", f"{sha}:{WORKFLOW}").endswith("runs-on: gpu")  # what a clone of it checks out
    status, output = _check(mirror, sha, source, capsys)
    assert status == 1
    assert output.splitlines()[1:3] == [
        f"  - the mirror's commit {sha} is not that commit: its object was replaced or rewritten",
        f"  - {WORKFLOW}: differs from this repository's",
    ]
    assert ".github/actions/setup-project/action.yml" not in output  # unchanged files are not named


def test_a_mirror_without_the_commit_fails(source, tmp_path, capsys):
    mirror = tmp_path / "mirror.git"
    git(tmp_path, "clone", "--quiet", "--mirror", str(source), str(mirror))  # made before the pinned commit
    (source / WORKFLOW).write_text("on: workflow_call\njobs: {}\n# hardened\n")
    git(source, "commit", "--quiet", "--all", "--message", "harden")
    sha = _head(source)
    status, output = _check(mirror, sha, source, capsys)
    assert status == 1
    assert f"  - the mirror does not hold commit {sha} (not reachable from any of its branches or tags)" in output


@pytest.mark.parametrize(
    ("sha", "reason"),
    [("v1", "is not a full commit SHA"), ("0" * 40, "is not a commit of this repository")],
)
def test_a_pin_that_is_not_a_commit_of_this_repository_cannot_be_checked(source, capsys, sha, reason):
    status, output = _check(source, sha, source, capsys)
    assert status == 2
    assert reason in output


def test_make_check_mirror_runs_the_check():
    """The Makefile target passes MIRROR and SHA through; here against this repository itself."""
    sha = git(TEMPLATE_DIR, "rev-parse", "HEAD")
    result = subprocess.run(
        ["make", "--no-print-directory", "check-mirror", f"MIRROR={TEMPLATE_DIR}", f"SHA={sha}"],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1].startswith(f"OK: {TEMPLATE_DIR} holds commit {sha}")
