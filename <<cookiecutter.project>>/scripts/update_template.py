"""Bring a newer version of the ML CI/CD template into this project: `make update-template REF=v2`.

Renders the template at the recorded commit and at REF with the answers in `.cruft.json`,
and applies the difference between the two renders with `git apply --3way`, so your own
changes are kept and real conflicts show as conflict markers. (`cruft update` does the same
for `{{ }}` templates, but refuses templates with custom delimiters like this one's.)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.config import BUILTIN_ABBREVIATIONS
from cookiecutter.main import cookiecutter
from cookiecutter.repository import expand_abbreviations

ANSWERS_FILE = Path(".cruft.json")


def git(*args: str, cwd: Path | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)  # noqa: S607


def render(template: Path, commit: str, answers: dict, output: Path) -> Path:
    """The project as the template at `commit` renders it, without its answers file."""
    git("checkout", "--quiet", commit, cwd=template)
    project = Path(cookiecutter(str(template), no_input=True, extra_context=answers, output_dir=str(output)))
    (project / ANSWERS_FILE).unlink(missing_ok=True)
    return project


def template_diff(old: Path, new: Path) -> str:
    """A patch from the old render to the new, with paths relative to the project root."""
    result = git("diff", "--no-index", "--binary", "--relative", old.name, new.name, cwd=old.parent, check=False)
    if result.returncode not in (0, 1):
        raise RuntimeError(result.stderr)
    return result.stdout.replace(f"a/{old.name}/", "a/").replace(f"b/{new.name}/", "b/")


def update(ref: str) -> int:
    if git("status", "--porcelain").stdout.strip():
        print("commit or stash your changes first: the update must be reviewable as its own diff", file=sys.stderr)
        return 1
    record = json.loads(ANSWERS_FILE.read_text())
    answers = {key: value for key, value in record["context"]["cookiecutter"].items() if not key.startswith("_")}
    with tempfile.TemporaryDirectory() as scratch:
        template = Path(scratch, "template")
        git("clone", "--quiet", expand_abbreviations(record["template"], BUILTIN_ABBREVIATIONS), str(template))
        target = git("rev-parse", f"{ref}^{{commit}}", cwd=template).stdout.strip()
        if target == record["commit"]:
            print(f"already at {ref} ({target[:12]})")
            return 0
        old = render(template, record["commit"], answers, Path(scratch, "old"))
        new = render(template, target, answers, Path(scratch, "new"))
        shutil.move(old, Path(scratch, "from"))
        shutil.move(new, Path(scratch, "to"))
        patch = template_diff(Path(scratch, "from"), Path(scratch, "to"))
    applied = subprocess.run(["git", "apply", "--3way", "--whitespace=nowarn"], input=patch, text=True, check=False)  # noqa: S607
    record["commit"] = record["context"]["cookiecutter"]["_commit"] = target
    ANSWERS_FILE.write_text(json.dumps(record, indent=2) + "\n")
    if applied.returncode != 0:
        print("the update left conflicts: resolve them (git status), then commit", file=sys.stderr)
        return 1
    print(f"updated to {ref} ({target[:12]}): review `git diff`, run `make test`, commit")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="HEAD", help="template tag, branch or commit (default: its HEAD)")
    return update(parser.parse_args().ref)


if __name__ == "__main__":
    sys.exit(main())
