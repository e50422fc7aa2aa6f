"""Run train.yml's two GPU checks, exactly as written there, on this machine.

    python3 tests/gpu/gpu_check.py [--python PATH]

For a machine with an NVIDIA GPU (the act tests run where there is none, so they only see the
refusal): both checks must pass there, i.e. `require-gpu: true` accepts a real GPU. Needs only
python3 (no PyYAML) and, for the second check, an interpreter with CUDA torch (--python,
default: this one). Exit status 0 when both checks pass.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

TRAIN_YML = Path(__file__).resolve().parents[2] / ".github" / "workflows" / "train.yml"
STEPS = ("Check that a GPU is visible (nvidia-smi)", "Check that torch sees the GPU")


def step_script(text: str, name: str) -> str:
    """The `run: |` block of the step called `name` (dedented), read without a YAML parser."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"- name: {name}")
    run = next(i for i in range(start, len(lines)) if lines[i].strip() == "run: |")
    indent = len(lines[run + 1]) - len(lines[run + 1].lstrip())
    body = []
    for line in lines[run + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) < indent:
            break
        body.append(line[indent:])
    return "\n".join(body).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable, help="interpreter with torch (stands for .venv/bin/python)")
    args = parser.parse_args()
    text = TRAIN_YML.read_text()
    failures = 0
    with tempfile.TemporaryDirectory() as workdir:
        venv_bin = Path(workdir) / ".venv" / "bin"
        venv_bin.mkdir(parents=True)
        wrapper = venv_bin / "python"  # a wrapper, not a symlink: a venv's python must keep its own path
        wrapper.write_text(f'#!/bin/sh\nexec "{args.python}" "$@"\n')
        wrapper.chmod(0o755)
        summary = Path(workdir) / "summary.md"
        for name in STEPS:
            env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "RUNNER_NAME": os.uname().nodename}
            result = subprocess.run(
                ["bash", "-e", "-c", step_script(text, name)], cwd=workdir, env=env, capture_output=True, text=True
            )
            verdict = "passed" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
            print(f"{name}: {verdict}\n{re.sub(r'(?m)^', '  ', (result.stdout + result.stderr).strip())}")
            failures += result.returncode != 0
        if summary.is_file():
            print("step summary:\n" + re.sub(r"(?m)^", "  ", summary.read_text().strip()))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
