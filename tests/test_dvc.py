"""A `data_versioning=dvc` render taken up as its docs/data-versioning.md says: the data moves
from Git to DVC, `dvc repro` runs validate -> train -> gate, and a second `dvc repro` skips
every stage while nothing changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.commands import PYTHON, git, run, tool_env
from support.template import render

pytestmark = pytest.mark.slow
pytest.importorskip("dvc", reason="dvc is not installed here (a dvc render's dev extra installs it)")

# The guide's commands, in its order (without a remote: `dvc remote add` and `dvc push` need storage).
DOCUMENTED = [
    ["git", "rm", "--cached", "data/penguins.csv"],
    ["dvc", "add", "data/penguins.csv"],
    ["dvc", "repro"],
]
STAGES = ("validate", "train", "gate")


def test_the_guides_commands_version_the_data_and_reproduce_the_pipeline(tmp_path: Path, mlflow_db: str):
    project = render(tmp_path, data_versioning="dvc")
    guide = (project / "docs" / "data-versioning.md").read_text()
    git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", "Start from the ML CI/CD template")
    # a user's own Python writes __pycache__ into src/, which the train stage depends on
    env = tool_env(MLFLOW_TRACKING_URI=mlflow_db, MODEL_NAME="dvc-render", PYTHON=PYTHON)
    env.pop("PYTHONDONTWRITEBYTECODE", None)

    outputs = []
    for command in DOCUMENTED:
        assert f"`{' '.join(command)}`" in guide
        tool = [PYTHON, "-m", "dvc", *command[1:]] if command[0] == "dvc" else command
        outputs.append(run(tool, cwd=project, env=env).stdout)
    assert (project / "data" / "penguins.csv.dvc").is_file()
    assert all(f"Running stage '{stage}'" in outputs[-1] for stage in STAGES), outputs[-1]
    assert (project / "reports" / "gate.json").is_file()

    again = run([PYTHON, "-m", "dvc", "repro"], cwd=project, env=env).stdout
    assert all(f"Stage '{stage}' didn't change, skipping" in again for stage in STAGES), again
