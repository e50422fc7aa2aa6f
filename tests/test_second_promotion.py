"""The generated README's "See the gate promote a better model", for each task, as a user runs it:
on a registry of its own, params.yaml edited as the README says (one feature left out), then
put back; the gate promotes both, the second as champion version 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from support.commands import make, tool_env
from support.template import render

pytestmark = pytest.mark.slow

SECTION = "### See the gate promote a better model"


def _readme_steps(project: Path) -> tuple[str, list[str]]:
    """(the features line to put in params.yaml, the make command lines) of the README's section."""
    readme = (project / "README.md").read_text()
    section = readme[readme.index(SECTION) :].split("```")[1]
    [features] = re.findall(r"leave out \w+:\s+(features: \[[^\]]*\])", section)
    commands = [line.split("#")[0].split() for line in section.splitlines() if line.startswith("make ")]
    return features, commands


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_the_readme_shows_a_second_promotion(tmp_path: Path, task: str):
    project = render(tmp_path, task=task)
    features, commands = _readme_steps(project)
    assert len(commands) == 2 and all(command[1:] == ["train", "gate", "promote"] for command in commands)
    env = {key: value for key, value in tool_env().items() if not key.startswith("MODEL_SIGNING_")}
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'exercise.db'}"
    make(project, "validate", env=env)  # step 2 of the first hour validated the data already
    params = project / "params.yaml"
    shipped = params.read_text()
    assert len(re.findall(r"^  features: null\b", shipped, re.MULTILINE)) == 1
    params.write_text(re.sub(r"^  features: null", f"  {features}", shipped, flags=re.MULTILINE))
    weaker = make(project, *commands[0][1:], env=env)
    assert "gate: promote:" in weaker.stdout and "champion is now version 1" in weaker.stdout, weaker.stdout
    params.write_text(shipped)
    better = make(project, *commands[1][1:], env=env)
    assert "gate: promote:" in better.stdout, better.stdout
    assert "champion is now version 2" in better.stdout and "previous-champion: 1" in better.stdout
