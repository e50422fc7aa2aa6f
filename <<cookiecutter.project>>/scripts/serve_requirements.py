"""Write the serving image's requirements: the `serve` extra's locked versions, with hashes.

`uv export --extra serve` would also list the project's base dependencies (pandas, pyarrow,
pydantic, ...), which the server never imports. Every base dependency the `serve` extra does
not list itself is pruned, with whatever only it pulls in; the rest is exactly uv.lock's.

    python scripts/serve_requirements.py build/requirements-serve.txt
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    if not match:
        raise SystemExit(f"cannot read a package name from {requirement!r}")
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def base_only(pyproject: dict) -> list[str]:
    """The base dependencies that the `serve` extra does not list."""
    project = pyproject["project"]
    serve = {_name(requirement) for requirement in project["optional-dependencies"]["serve"]}
    return sorted({_name(requirement) for requirement in project["dependencies"]} - serve)


def main(output: str) -> int:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    command = [os.environ.get("UV", "uv"), "export", "--frozen", "--no-emit-project", "--extra", "serve"]
    command += ["--format", "requirements-txt", "--no-header", "--quiet", "--output-file", output]
    for name in base_only(pyproject):
        command += ["--prune", name]
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command, cwd=PROJECT_ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build/requirements-serve.txt"))
