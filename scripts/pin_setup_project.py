"""Pin the reusable workflows' shared composite action to a full commit SHA, and check the pins.

The reusable workflows run `setup-project` (checkout, `make install`) in jobs that hold
secrets. Loaded by tag, it would be whatever the tag points at when the job runs, even for a
project that pins the workflows themselves to a commit SHA. So every workflow loads it at the
commit that last changed it; a pin whose action differs from this checkout's is stale, and
template CI and the release both refuse it.

    python scripts/pin_setup_project.py          # pin to the last commit that changed the action
    python scripts/pin_setup_project.py --check  # exit 1 when a pin is stale, naming the fix
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACTION_DIR = ".github/actions/setup-project"
WORKFLOWS_REPO = json.loads((ROOT / "cookiecutter.json").read_text())["workflows_repo"]
_USES = re.compile(rf"(uses:\s*{re.escape(WORKFLOWS_REPO)}/{re.escape(ACTION_DIR)}@)(\S+)")
_SHA = re.compile(r"[0-9a-f]{40}")
FIX = "run `make pin-actions` and commit the workflows"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def workflow_files(root: Path) -> list[Path]:
    return sorted((root / ".github" / "workflows").glob("*.yml"))


def pins(text: str) -> set[str]:
    """The refs at which a workflow file loads the action."""
    return {match[2] for match in _USES.finditer(text)}


def rewrite(text: str, sha: str) -> str:
    """The workflow with every load of the action pinned to `sha`."""
    return _USES.sub(lambda match: match[1] + sha, text)


def last_change(root: Path) -> str:
    """The commit that last changed the action; the action must have no uncommitted change."""
    if _git(root, "status", "--porcelain", "--", ACTION_DIR).stdout.strip():
        raise SystemExit(f"{ACTION_DIR} has uncommitted changes: commit them first, then pin")
    sha = _git(root, "log", "-1", "--format=%H", "--", ACTION_DIR).stdout.strip()
    if not _SHA.fullmatch(sha):
        raise SystemExit(f"no commit changes {ACTION_DIR}: commit it first, then pin")
    return sha


def stale_pins(root: Path) -> list[str]:
    """Why each pin is wrong: not a full SHA, not in this clone, or an action unlike this checkout's."""
    problems = []
    for path in workflow_files(root):
        for ref in sorted(pins(path.read_text())):
            where = f"{path.relative_to(root)}: setup-project@{ref}"
            if not _SHA.fullmatch(ref):
                problems.append(f"{where} is not a full commit SHA")
                continue
            differs = _git(root, "diff", "--quiet", ref, "--", ACTION_DIR).returncode
            untracked = _git(root, "ls-files", "--others", "--exclude-standard", "--", ACTION_DIR).stdout.strip()
            if differs == 1 or untracked:
                problems.append(f"{where} loads an action unlike this checkout's")
            elif differs != 0:
                problems.append(f"{where} is not a commit of this clone (a shallow clone? fetch the history)")
    return problems


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        problems = stale_pins(ROOT)
        for problem in problems:
            print(f"{problem}: {FIX}", file=sys.stderr)
        return 1 if problems else 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    sha = last_change(ROOT)
    for path in workflow_files(ROOT):
        text = path.read_text()
        if pins(text):
            path.write_text(rewrite(text, sha))
    print(f"setup-project pinned to {sha}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
