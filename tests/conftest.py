"""Fixtures that render the template and run what it renders.

The tests run inside the template's own virtual environment (`make test`), which also holds
the generated project's stack, so a rendered project runs its Make targets with
`PYTHON=<this interpreter>` instead of installing torch + MLflow + GX per render.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
DEFAULT_PROJECT = "penguin-classifier"
DEFAULT_PACKAGE = "penguin_classifier"
PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent


def render(output_dir: Path, **answers: str) -> Path:
    """Render the template with the defaults overridden by `answers`; return the project dir."""
    project = cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(output_dir))
    return Path(project)


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for subprocesses: this venv's tools first on PATH, no inherited MLflow URI,
    and a rendered project's own `src` first on the import path (as its Makefile does)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "GATE_"))}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = "src"
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> CompletedProcess:
    """Run a command, and on an unexpected exit show its whole output in the failure."""
    result = subprocess.run(args, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


def make(
    project: Path, *targets: str, env: dict[str, str] | None = None, check: bool = True, **variables: str
) -> CompletedProcess:
    """`make TARGETS` in a rendered project, using this interpreter as the project's Python."""
    assignments = [f"{name}={value}" for name, value in {"PYTHON": PYTHON, **variables}.items()]
    return run(["make", "--no-print-directory", *targets, *assignments], cwd=project, env=env, check=check)


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `--no-input` render shared by read-only tests."""
    return render(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def installed_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A `--no-input` render whose `make install` ran (editable install into this venv)."""
    project = render(tmp_path_factory.mktemp("installed"))
    make(project, "install")
    return project


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite tracking DB for the session (migrations cost seconds); tests use distinct model names."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def fresh_project(tmp_path: Path) -> Callable[..., Path]:
    """Render a private copy (for tests that write reports, checkpoints or data)."""
    return lambda **answers: render(tmp_path, **answers)
