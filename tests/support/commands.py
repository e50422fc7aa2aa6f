"""Running tools and a rendered project's Make targets and CLI in this interpreter's environment.

The tests run inside the template's own virtual environment (`make test`), which also holds
the generated project's stack, so a rendered project runs its Make targets with
`PYTHON=<this interpreter>` instead of installing torch + MLflow + GX per render.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import yaml

from support.signing import SIGNING_KEY_PEM
from support.template import DEFAULT_PACKAGE

PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent
# Commits made by the tests (rendered projects, template copies) need no git configuration.
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "template-tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "template-tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for subprocesses: this venv's tools first on PATH, no inherited MLflow URI,
    a rendered project's own `src` first on the import path (as its Makefile does), and the
    tests' signing key."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "GATE_"))}
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = "src"
    env["MODEL_SIGNING_KEY"] = SIGNING_KEY_PEM  # `make promote` signs, as on a laptop with a key pair set up
    env.update(extra)
    return env


def torch_swap() -> dict[str, str]:
    """The Make variables that give a rendered project's `make install` the CPU torch of the
    locked version: the wheel directory pip is configured with here (`find-links`), else
    PyTorch's CPU index."""
    configured = subprocess.run(
        [str(BIN_DIR / "pip"), "config", "get", "global.find-links"], capture_output=True, text=True, check=False
    )
    wheels = os.environ.get("PIP_FIND_LINKS") or configured.stdout.strip()
    if wheels and Path(wheels).is_dir():
        return {"TORCH_FIND_LINKS": wheels}
    return {"TORCH_INDEX_URL": "https://download.pytorch.org/whl/cpu"}


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> CompletedProcess:
    """Run a command, and on an unexpected exit show its whole output in the failure."""
    result = subprocess.run(args, cwd=cwd, env=env or tool_env(), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
        )
    return result


# A network namespace of its own (loopback only): what runs inside can fetch nothing.
OFFLINE = ["unshare", "--map-root-user", "--net"]


# The tests render with the default, placeholder workflows repository, and keep it on purpose:
# `make lint` runs `make check-workflows-repo` first, which refuses it otherwise.
ALLOW_PLACEHOLDER = {"ALLOW_PLACEHOLDER_WORKFLOWS_REPO": "true"}


def lint_offline(project: Path, pre_commit_home: Path, **variables: str) -> CompletedProcess:
    """`make lint VARIABLES` (check-workflows-repo, with the placeholder allowed, then the
    pre-commit hooks) in a network namespace of its own, with an empty pre-commit home: it
    passes only if every hook runs from what is installed. Skips where this machine cannot make
    a network namespace."""
    if shutil.which("unshare") is None or subprocess.run([*OFFLINE, "true"], check=False).returncode != 0:
        pytest.skip("unshare cannot create a network namespace on this machine")
    assignments = [f"{name}={value}" for name, value in variables.items()]
    args = [*OFFLINE, "make", "--no-print-directory", "lint", *assignments]
    return run(args, cwd=project, env=tool_env(PRE_COMMIT_HOME=str(pre_commit_home), **ALLOW_PLACEHOLDER), check=False)


def make(
    project: Path, *targets: str, env: dict[str, str] | None = None, check: bool = True, **variables: str
) -> CompletedProcess:
    """`make TARGETS` in a rendered project, using this interpreter as the project's Python."""
    assignments = [f"{name}={value}" for name, value in {"PYTHON": PYTHON, **variables}.items()]
    return run(["make", "--no-print-directory", *targets, *assignments], cwd=project, env=env, check=check)


def git(repository: Path, *args: str) -> str:
    """`git ARGS` in `repository` with GIT_IDENTITY and no commit signing; return its output."""
    return run(
        ["git", "-c", "commit.gpgsign=false", *args], cwd=repository, env=tool_env(**GIT_IDENTITY)
    ).stdout.strip()


def gate_cli(project: Path, env: dict[str, str], params: str = "params.yaml") -> CompletedProcess:
    """The gate's own exit status (0 promote, 1 reject, 2 error), which `make` folds into 2."""
    command = [PYTHON, "-m", DEFAULT_PACKAGE, "--params", params, "gate"]
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)


def params_variant(project: Path, name: str, **sections: dict) -> str:
    """Write a params file `name` that differs from params.yaml only in `sections`; return its name."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    for section, values in sections.items():
        params[section].update(values)
    (project / name).write_text(yaml.safe_dump(params, sort_keys=False))
    return name


def read_report(project: Path, name: str) -> dict:
    """A JSON report the pipeline wrote under reports/."""
    return json.loads((project / "reports" / name).read_text())
