"""Locked environments: every render ships a `uv.lock` that matches its `pyproject.toml`, drift is
caught with a message naming the fix, and `make install` installs exactly the lock, twice alike.

The locks are the template's `templates/uv-lock/` (one per Python version and data-versioning
answer, written by `make lock-generated`); `uv lock --check` re-resolves against PyPI.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

import lock_projects
from support.commands import BIN_DIR, run, tool_env, torch_swap
from support.template import render

UV = str(BIN_DIR / "uv")


def _uv_env(**extra: str) -> dict[str, str]:
    """uv on an interpreter of every Python version the answers offer, never a downloaded one."""
    uv = lock_projects.uv_env()
    return tool_env(UV=UV, UV_PYTHON_DOWNLOADS="never", PYENV_VERSION=uv["PYENV_VERSION"], **extra)


def test_every_stored_lock_is_current():
    stale = {f"py{python}-{data}": lock_projects.check(python, data) for python, data in lock_projects.variants()}
    stale = {name: problem for name, problem in stale.items() if problem}
    assert not stale, f"{stale}\n{lock_projects.FIX}"


def test_every_render_ships_a_lock_that_matches_its_pyproject(rendered):
    answers, project = rendered
    lock = tomllib.loads((project / "uv.lock").read_text())
    (own,) = [package for package in lock["package"] if package.get("source") == {"editable": "."}]
    assert own["name"] == project.name
    assert lock["requires-python"] == f">={answers['python_version']}"
    assert any(package["name"] == "dvc" for package in lock["package"]) == (answers["data_versioning"] == "dvc")
    result = run([UV, "lock", "--check"], cwd=project, env=_uv_env(), check=False)
    assert result.returncode == 0, result.stderr


def test_editing_pyproject_without_make_lock_fails_the_lock_check(tmp_path: Path):
    project = render(tmp_path)
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('  "pyyaml>=6",\n', '  "pyyaml>=6",\n  "rich>=13",\n'))
    env = _uv_env()
    result = run(["make", "lock-check"], cwd=project, env=env, check=False)
    assert result.returncode != 0
    assert "pyproject.toml and uv.lock disagree: run `make lock` and commit uv.lock" in result.stderr
    run(["make", "lock"], cwd=project, env=env)
    run(["make", "lock-check"], cwd=project, env=env)


def _freeze(project: Path) -> dict[str, str]:
    listing = run([UV, "pip", "freeze", "--python", ".venv/bin/python"], cwd=project).stdout
    pins = dict(line.split("==", 1) for line in listing.splitlines() if "==" in line)
    return {canonicalize_name(name): version for name, version in pins.items()}


@pytest.mark.slow
def test_make_install_installs_exactly_the_lock_twice_alike(tmp_path: Path):
    """`uv pip freeze` of the project's own .venv equals uv.lock's versions (torch: the CPU
    wheel of the locked version, its CUDA libraries left out), and a second install changes nothing."""
    project = render(tmp_path)
    env = _uv_env()
    variables = [f"{name}={value}" for name, value in torch_swap().items()]
    run(["make", "install", *variables], cwd=project, env=env)
    first = _freeze(project)
    run(["make", "install", *variables], cwd=project, env=env)
    assert _freeze(project) == first

    lock = tomllib.loads((project / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    assert first.pop("torch").split("+")[0] in locked["torch"]
    for name, version in first.items():
        assert version in locked.get(name, set()), f"{name}=={version} is not uv.lock's"
    extras = ("validate", "train", "serve", "dev")
    (own,) = [package for package in lock["package"] if package.get("source") == {"editable": "."}]
    wanted = {canonicalize_name(dependency["name"]) for dependency in own["dependencies"]}
    for extra in extras:
        wanted |= {canonicalize_name(dependency["name"]) for dependency in own["optional-dependencies"][extra]}
    assert wanted - {"torch"} <= first.keys()
    assert not any(name.startswith(("nvidia-", "cuda-")) or name == "triton" for name in first)
