"""Write requirements-dev.lock: every package of requirements-dev.txt pinned, with its hashes.

`make venv` installs the lock with `pip install --require-hashes`, so the template's own
environment (and its CI) is the same on every machine. torch is installed first and apart
(`TORCH_VERSION`, the CPU wheel): it is locked here only so that its dependencies are pinned,
and its own entry and the CUDA libraries of PyPI's Linux build are left out of the file.

    python scripts/lock_dev.py            # refresh requirements-dev.lock (`make lock-dev`)
    python scripts/lock_dev.py --upgrade  # and let every package move to its newest version
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "requirements-dev.txt"
LOCK = ROOT / "requirements-dev.lock"
PYTHON_VERSION = "3.11"  # the oldest the template supports; the lock is universal above it
_LEFT_OUT = re.compile(r"^(torch|triton|nvidia-[\w-]+|cuda-[\w-]+)==")


def without_torch(compiled: str) -> str:
    """The compiled file minus the blocks (requirement line, hashes, `# via`) of torch and CUDA."""
    kept, skipping = [], False
    for line in compiled.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            skipping = bool(_LEFT_OUT.match(line))
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true")
    parser.add_argument("--torch-version", default=os.environ.get("TORCH_VERSION", "2.13.0"))
    args = parser.parse_args(argv)
    uv = Path(sys.executable).parent / "uv"
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "requirements-dev.in"
        source.write_text(SOURCE.read_text() + f"\ntorch=={args.torch_version}\n")
        output = Path(tmp) / "compiled.txt"
        if LOCK.exists() and not args.upgrade:
            output.write_text(LOCK.read_text())  # start from the current pins: only what changed moves
        command = [str(uv if uv.exists() else "uv"), "pip", "compile", str(source), "--output-file", str(output)]
        command += ["--generate-hashes", "--universal", "--python-version", PYTHON_VERSION, "--no-header"]
        command += ["--index-url", "https://pypi.org/simple", "--quiet"]
        if args.upgrade:
            command.append("--upgrade")
        subprocess.run(command, check=True)
        header = (
            "# The template's own environment, every package pinned with its hashes (`make venv`\n"
            "# installs it with --require-hashes). Written by `make lock-dev` from requirements-dev.txt;\n"
            "# torch is installed apart (TORCH_VERSION), so its entry and CUDA's are left out.\n"
        )
        LOCK.write_text(header + without_torch(output.read_text()))
    print(f"wrote {LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
