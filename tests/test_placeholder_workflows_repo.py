"""The default `workflows_repo` is a placeholder, and says so: the render keeps it (demos and tests
render with defaults) but the post-generation hook warns, and the project's own
`make check-workflows-repo` (run first by `make lint`, so by CI's lint job too) fails naming
what to set, unless ALLOW_PLACEHOLDER_WORKFLOWS_REPO=true keeps it on purpose.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from support.commands import BIN_DIR, make, run, tool_env
from support.hooks import post_gen
from support.template import COOKIECUTTER_JSON, TEMPLATE_DIR

PLACEHOLDER = COOKIECUTTER_JSON["workflows_repo"]
FORK = "acme/ml-workflows"


def _cookiecutter(output: Path, **answers: str):
    """A `--no-input` render run as a user runs it, output captured; (result, project)."""
    output.mkdir()
    args = [str(BIN_DIR / "cookiecutter"), "--no-input", str(TEMPLATE_DIR), "--output-dir", str(output)]
    result = run(args + [f"{key}={value}" for key, value in answers.items()], cwd=output, env=tool_env())
    (project,) = output.iterdir()
    return result, project


def _check(project: Path, **env: str):
    return make(project, "check-workflows-repo", env=tool_env(**env), check=False)


def test_the_placeholder_is_named_once_per_file_that_needs_it(default_project: Path):
    assert post_gen.PLACEHOLDER_WORKFLOWS_REPO == PLACEHOLDER
    makefile = (default_project / "Makefile").read_text()
    assert re.search(rf"^PLACEHOLDER_WORKFLOWS_REPO = {re.escape(PLACEHOLDER)}$", makefile, re.MULTILINE)
    assert re.search(r"^lint: check-workflows-repo ", makefile, re.MULTILINE), "make lint runs the check first"


def test_a_default_render_warns_and_its_check_fails_naming_what_to_set(tmp_path: Path):
    result, project = _cookiecutter(tmp_path / "out")
    assert f"WARNING: workflows_repo is the template's placeholder {PLACEHOLDER}" in result.stderr
    assert "workflows_repo=<your-org>/<your-fork> workflows_ref=" in result.stderr
    assert "ALLOW_PLACEHOLDER_WORKFLOWS_REPO=true" in result.stderr
    assert "Next steps" in result.stdout, "the render itself succeeds"
    check = _check(project)
    assert check.returncode != 0
    for named in ("workflows_repo=<your-org>/<your-fork>", "workflows_ref=", "ALLOW_PLACEHOLDER_WORKFLOWS_REPO=true"):
        assert named in check.stderr, check.stderr
    assert ".github/workflows/ci.yml:" in check.stderr and f"uses: {PLACEHOLDER}/" in check.stderr


def test_the_allow_variable_keeps_the_placeholder_on_purpose(default_project: Path):
    check = _check(default_project, ALLOW_PLACEHOLDER_WORKFLOWS_REPO="true")
    assert check.returncode == 0, check.stderr
    assert "allowed (ALLOW_PLACEHOLDER_WORKFLOWS_REPO=true)" in check.stdout
    on_the_command_line = make(default_project, "check-workflows-repo", ALLOW_PLACEHOLDER_WORKFLOWS_REPO="true")
    assert on_the_command_line.returncode == 0
    assert _check(default_project, ALLOW_PLACEHOLDER_WORKFLOWS_REPO="false").returncode != 0


def test_the_allow_variable_is_data_not_syntax(default_project: Path, tmp_path: Path):
    """Like every input of the Makefile: a value that would run a command runs nothing, and allows nothing."""
    marker = tmp_path / "PWNED"
    for value in (f"$(shell touch {marker})", f'true" ]; touch {marker}; [ "', f"true; touch {marker}"):
        for check in (
            _check(default_project, ALLOW_PLACEHOLDER_WORKFLOWS_REPO=value),
            make(default_project, "check-workflows-repo", check=False, ALLOW_PLACEHOLDER_WORKFLOWS_REPO=value),
        ):
            assert check.returncode != 0, value
    assert not marker.exists()


def test_a_render_with_a_fork_has_no_warning_and_passes_the_check(tmp_path: Path):
    result, project = _cookiecutter(tmp_path / "out", workflows_repo=FORK)
    assert "WARNING" not in result.stdout + result.stderr
    check = _check(project)
    assert check.returncode == 0, check.stderr
    assert PLACEHOLDER not in (project / ".github" / "workflows" / "ci.yml").read_text()


def test_ci_lint_passes_the_repository_variable_to_the_check(default_project: Path):
    caller = yaml.safe_load((default_project / ".github" / "workflows" / "lint.yml").read_text())
    given = caller["jobs"]["lint"]["with"]["allow-placeholder-workflows-repo"]
    assert given == "${{ vars.ALLOW_PLACEHOLDER_WORKFLOWS_REPO == 'true' }}"
    reusable = yaml.safe_load((TEMPLATE_DIR / ".github" / "workflows" / "lint.yml").read_text())
    (step,) = [step for step in reusable["jobs"]["pre-commit"]["steps"] if "make lint" in step.get("run", "")]
    assert step["env"]["ALLOW_PLACEHOLDER_WORKFLOWS_REPO"] == "${{ inputs.allow-placeholder-workflows-repo }}"
