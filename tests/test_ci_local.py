"""`make ci-local` in a render refuses, in one line that says what to do, what it cannot run as
GitHub would: uncommitted changes, a detached HEAD or no main branch, a workflows folder that is
none, an action it has no stand-in for, and workflows it cannot fetch. (Its two full runs, a
push that promotes and a pull request the gate fails, are `make demo`'s: tests/test_demo.py.)"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ci_local.harness import git_init
from support.act.scenarios import REPOSITORY
from support.commands import OFFLINE, PYTHON, git, make, run
from support.template import TEMPLATE_DIR


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, default_project: Path) -> Path:
    """A committed copy of the default render."""
    copy = shutil.copytree(default_project, tmp_path_factory.mktemp("ci-local") / default_project.name)
    git_init(copy, REPOSITORY)
    return copy


def _refusal(project: Path, *prefix: str, **variables: str) -> str:
    result = make(project, "ci-local", check=False, **variables)
    assert result.returncode == 2, result.stdout + result.stderr
    [message] = [line for line in result.stderr.splitlines() if line.startswith("ci-local: ")]
    return message


def test_uncommitted_changes_are_refused(project: Path):
    (project / "scratch.txt").write_text("not committed\n")
    try:
        message = _refusal(project, WORKFLOWS_DIR=str(TEMPLATE_DIR))
    finally:
        (project / "scratch.txt").unlink()
    assert "uncommitted or untracked files" in message and "git stash --include-untracked" in message


def test_a_detached_head_and_a_repository_without_main_are_refused(project: Path):
    git(project, "checkout", "--quiet", "--detach")
    try:
        assert "HEAD is detached" in _refusal(project, WORKFLOWS_DIR=str(TEMPLATE_DIR))
    finally:
        git(project, "checkout", "--quiet", "main")
    git(project, "branch", "--move", "main", "trunk")
    try:
        assert "no branch main" in _refusal(project, WORKFLOWS_DIR=str(TEMPLATE_DIR))
    finally:
        git(project, "branch", "--move", "trunk", "main")


def test_a_workflows_dir_without_workflows_is_refused(project: Path, tmp_path: Path):
    message = _refusal(project, WORKFLOWS_DIR=str(tmp_path))
    assert f"WORKFLOWS_DIR={tmp_path} has no .github/workflows" in message
    assert "ml-platform/ml-cicd-template" in message


def test_an_action_without_a_stand_in_is_named(project: Path, tmp_path: Path):
    workflows = tmp_path / "workflows"
    shutil.copytree(TEMPLATE_DIR / ".github", workflows / ".github")
    test_yml = workflows / ".github" / "workflows" / "test.yml"
    pinned = "acme/new-action@" + "a" * 40
    text = test_yml.read_text()
    test_yml.write_text(text.replace("    steps:\n", f"    steps:\n      - uses: {pinned}  # v1.0.0\n", 1))
    message = _refusal(project, WORKFLOWS_DIR=str(workflows))
    assert "no act stand-in for acme/new-action" in message


def test_workflows_that_cannot_be_fetched_name_workflows_dir(project: Path):
    """Without WORKFLOWS_DIR it fetches ci.yml's workflows repository; with no network that fails."""
    if shutil.which("unshare") is None or subprocess.run([*OFFLINE, "true"], check=False).returncode != 0:
        pytest.skip("unshare cannot create a network namespace on this machine")
    command = [*OFFLINE, "make", "--no-print-directory", "ci-local", f"PYTHON={PYTHON}"]
    result = run(command, cwd=project, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "fetching the reusable workflows: https://github.com/ml-platform/ml-cicd-template.git at v1" in result.stdout
    assert "set WORKFLOWS_DIR to a checkout of ml-platform/ml-cicd-template at v1" in result.stderr
