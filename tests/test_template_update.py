"""A project generated from template commit A takes commit B with `make update-template`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from support.commands import GIT_IDENTITY, git, make, run, tool_env
from support.template import DEFAULT_PROJECT, TEMPLATE_DIR

pytestmark = pytest.mark.slow


def _template_repository(destination: Path) -> Path:
    """This working tree (committed or not, minus ignored files) as a fresh repository: commit A."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE_DIR, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for relative in filter(None, listed):
        source = TEMPLATE_DIR / relative
        if source.is_file():
            (destination / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / relative)
    git(destination, "init", "-q", "-b", "main")
    git(destination, "add", "-A")
    git(destination, "commit", "-qm", "A")
    return destination


def test_update_brings_template_changes_and_keeps_the_teams_own(tmp_path: Path):
    template = _template_repository(tmp_path / "template")
    commit_a = git(template, "rev-parse", "HEAD")
    project = Path(cookiecutter(str(template), no_input=True, output_dir=str(tmp_path / "out")))
    assert project.name == DEFAULT_PROJECT
    assert json.loads((project / ".cruft.json").read_text())["commit"] == commit_a
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "generated")
    params = project / "params.yaml"
    params.write_text(params.read_text().replace("epochs: 40", "epochs: 55"))  # the team's own change
    git(project, "commit", "-qam", "tune epochs")

    generated = template / "<<cookiecutter.project>>"
    readme = generated / "README.md"
    readme.write_text(readme.read_text() + "\nTemplate B was here.\n")
    (generated / "docs" / "added-in-b.md").write_text("# New in B for << cookiecutter.project >>\n")
    git(template, "add", "-A")
    git(template, "commit", "-qm", "B")
    commit_b = git(template, "rev-parse", "HEAD")

    result = make(project, "update-template", env=tool_env(**GIT_IDENTITY))
    assert "updated to HEAD" in result.stdout
    assert (project / "README.md").read_text().endswith("Template B was here.\n")
    assert (project / "docs" / "added-in-b.md").read_text() == f"# New in B for {DEFAULT_PROJECT}\n"
    assert "epochs: 55" in params.read_text()
    assert json.loads((project / ".cruft.json").read_text())["commit"] == commit_b
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=project).stdout.splitlines()
    assert sorted(line[3:] for line in status) == [".cruft.json", "README.md", "docs/added-in-b.md"]
    assert not any(line.startswith(("UU", "AA")) for line in status)  # no conflicts
    git(project, "add", "-A")
    git(project, "commit", "-qm", "take template B")
    assert "already at" in make(project, "update-template", env=tool_env(**GIT_IDENTITY)).stdout
