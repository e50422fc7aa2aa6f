"""Write, or check, the `uv.lock` a rendered project ships with.

A project's lock names the project itself and depends on two answers: `python_version` (the
lock's `requires-python`) and `data_versioning` (the `dvc` tool in the dev extra). So the
template keeps one lock per combination in `templates/uv-lock/`, with the project's name as
the placeholder `<< cookiecutter.project >>`, and the rendered `uv.lock` includes the one the
answers pick. This script renders each combination, runs `uv lock` in it (starting from the
stored lock, so only what changed moves) and stores the result; `--check` renders each one
and runs `uv lock --check`.

    python scripts/lock_projects.py            # refresh the stored locks (`make lock-generated`)
    python scripts/lock_projects.py --upgrade  # and let every package move to its newest version
    python scripts/lock_projects.py --check    # exit 1 when a stored lock is stale, naming the fix

torch is held at TORCH_VERSION (the version of the CPU wheel the template's own environment
installs), so that a hosted runner's CPU build and the lock name the same version.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK_DIR = ROOT / "templates" / "uv-lock"
ANSWERS = json.loads((ROOT / "cookiecutter.json").read_text())
PYTHON_VERSIONS: list[str] = ANSWERS["python_version"]
DATA_VERSIONING: list[str] = ANSWERS["data_versioning"]
PLACEHOLDER_PROJECT = "lock-placeholder-project"
PROJECT_LINE = f'name = "{PLACEHOLDER_PROJECT}"'
TEMPLATED_LINE = 'name = "<< cookiecutter.project >>"'
FIX = "run `make lock-generated` and commit templates/uv-lock/"


def variants() -> list[tuple[str, str]]:
    return [(python, data) for python in PYTHON_VERSIONS for data in DATA_VERSIONING]


def lock_path(python: str, data: str) -> Path:
    return LOCK_DIR / f"py{python}-{data}.lock"


def uv() -> str:
    """uv beside this interpreter (the template's environment), else the one on PATH."""
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else (shutil.which("uv") or "uv")


def uv_env() -> dict[str, str]:
    # Resolution needs an interpreter of the project's Python version, never a download of one
    # (with pyenv, every version the answers offer is made visible).
    pyenv = ":".join(os.environ.get("PYENV_VERSION", "").split(":") + PYTHON_VERSIONS).strip(":")
    return {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1", "PYENV_VERSION": pyenv}


def render(output_dir: Path, python: str, data: str) -> Path:
    from cookiecutter.main import cookiecutter

    context = {"project_name": PLACEHOLDER_PROJECT, "python_version": python, "data_versioning": data}
    return Path(cookiecutter(str(ROOT), no_input=True, extra_context=context, output_dir=str(output_dir)))


def to_template(lock_text: str) -> str:
    """The project's own entry, renamed to the placeholder; exactly one line names it."""
    if lock_text.count(PROJECT_LINE) != 1 or PLACEHOLDER_PROJECT in lock_text.replace(PROJECT_LINE, ""):
        raise SystemExit(f"expected the project's name once in the lock, as {PROJECT_LINE!r}")
    return lock_text.replace(PROJECT_LINE, TEMPLATED_LINE)


def lock(python: str, data: str, upgrade: bool, torch_version: str) -> None:
    path = lock_path(python, data)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")  # the render includes it; uv starts from nothing
    with tempfile.TemporaryDirectory() as tmp:
        project = render(Path(tmp), python, data)
        if not (project / "uv.lock").read_text().strip():
            (project / "uv.lock").unlink()
        command = [uv(), "lock", "--upgrade-package", f"torch=={torch_version}"]
        if upgrade:
            command.append("--upgrade")
        subprocess.run(command, cwd=project, env=uv_env(), check=True)
        path.write_text(to_template((project / "uv.lock").read_text()))
    print(f"wrote {path.relative_to(ROOT)}")


def check(python: str, data: str) -> str | None:
    """None when the stored lock satisfies the rendered pyproject.toml, else uv's complaint."""
    if not lock_path(python, data).exists():
        return f"{lock_path(python, data).relative_to(ROOT)} is missing"
    with tempfile.TemporaryDirectory() as tmp:
        project = render(Path(tmp), python, data)
        result = subprocess.run(
            [uv(), "lock", "--check"], cwd=project, env=uv_env(), capture_output=True, text=True, check=False
        )
    return None if result.returncode == 0 else (result.stderr or result.stdout).strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every stored lock is current")
    parser.add_argument("--upgrade", action="store_true", help="let every package move to its newest version")
    parser.add_argument("--torch-version", default=os.environ.get("TORCH_VERSION", "2.13.0"))
    args = parser.parse_args(argv)
    if not args.check:
        for python, data in variants():
            lock(python, data, args.upgrade, args.torch_version)
        return 0
    stale = {f"py{python}-{data}": problem for python, data in variants() if (problem := check(python, data))}
    for name, problem in stale.items():
        print(f"{name}: {problem}", file=sys.stderr)
    if stale:
        print(f"stale locks in templates/uv-lock/: {FIX}", file=sys.stderr)
        return 1
    print(f"{len(variants())} locks current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
