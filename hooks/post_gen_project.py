"""Post-generation hook: prune unchosen options, record the answers, print next steps, and warn
when the workflows repository is still the template's placeholder.

`PATHS_BY_CHOICE` is the single place that says which files belong to which option value;
the hook removes the files of every value that was not chosen, and the template's tests
assert the table both ways. Like the pre-generation hook, the logic lives in this file so
that it runs from cookiecutter's temporary copy; the tests import it as a module.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

PATHS_BY_CHOICE: dict[str, dict[str, list[str]]] = {
    "data_versioning": {
        "none": [],
        "dvc": ["dvc.yaml", ".dvc", ".dvcignore", "docs/data-versioning.md"],
    },
}

ANSWERS_FILE = ".cruft.json"
# cookiecutter.json's default `workflows_repo`: a placeholder, not a repository the project owns.
# A render keeps it (demos and tests render with defaults), but says so, and the project's own
# `make check-workflows-repo` (run by `make lint`) fails until it is replaced or allowed.
PLACEHOLDER_WORKFLOWS_REPO = "ml-platform/ml-cicd-template"


def paths_to_remove(answers: Mapping[str, object]) -> list[str]:
    """Paths that belong only to option values other than the chosen ones."""
    removed: list[str] = []
    for option, paths_by_value in PATHS_BY_CHOICE.items():
        kept = set(paths_by_value.get(str(answers[option]), []))
        for value, paths in paths_by_value.items():
            if value != answers[option]:
                removed += [path for path in paths if path not in kept]
    return sorted(set(removed))


def prune(project_dir: Path, answers: Mapping[str, object]) -> None:
    """Delete the files of options that were not chosen."""
    for relative in paths_to_remove(answers):
        path = project_dir / relative
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def template_commit(repo_dir: Path) -> str | None:
    """The template's commit, so `cruft update` knows where the project started."""
    result = subprocess.run(
        ["git", "-C", str(repo_dir), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() if result.returncode == 0 else None


def answers_record(answers: Mapping[str, object], commit: str | None) -> dict[str, object]:
    """A cruft-compatible record of the answers (private template settings left out)."""
    context = {key: value for key, value in answers.items() if not key.startswith("_")}
    context["_template"] = answers["_template"]
    context["_commit"] = commit
    return {
        "template": answers["_template"],
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
        "skip": [],
    }


def template_dir(answers: Mapping[str, object]) -> Path:
    """Absolute template directory. `_repo_dir` is relative for `cookiecutter .`, but
    cookiecutter runs hooks from inside the template, so its own working directory is it."""
    repo_dir = Path(str(answers["_repo_dir"]))
    if repo_dir.is_absolute():
        return repo_dir
    parent_cwd = Path(f"/proc/{os.getppid()}/cwd")
    if parent_cwd.exists():
        return parent_cwd.resolve()
    return Path(os.environ.get("PWD", ".")).resolve() / repo_dir  # no /proc (macOS): the shell's directory


def template_source(answers: Mapping[str, object]) -> str:
    """Where `make update-template` clones the template from: the URL as given, or for a local
    checkout its absolute path (`cookiecutter .` would otherwise record a useless '.')."""
    template = str(answers["_template"])
    if re.match(r"^([a-z]+://|[a-z]{2}:|git@)", template):
        return template
    return str(template_dir(answers))


def write_answers(project_dir: Path, answers: Mapping[str, object]) -> None:
    directory = template_dir(answers)
    record = answers_record({**answers, "_template": template_source(answers)}, template_commit(directory))
    (project_dir / ANSWERS_FILE).write_text(json.dumps(record, indent=2) + "\n")


def next_steps(answers: Mapping[str, object]) -> str:
    project = answers["project"]
    return "\n".join(
        [
            f"Created {project}. Next steps:",
            f"  cd {project}",
            "  git init -b main && git add -A && git commit -m 'Start from the ML CI/CD template'",
            "  make install      # virtual environment + dependencies",
            "  make validate train gate promote   # the whole pipeline on the shipped data",
            "  make help         # every target",
            "Then push to GitHub and follow README.md > 'Set up GitHub' (secrets, runners, branch protection).",
        ]
    )


def placeholder_warning(answers: Mapping[str, object]) -> str | None:
    """What to set when `workflows_repo` is the placeholder; None otherwise."""
    if answers["workflows_repo"] != PLACEHOLDER_WORKFLOWS_REPO:
        return None
    return "\n".join(
        [
            f"WARNING: workflows_repo is the template's placeholder {PLACEHOLDER_WORKFLOWS_REPO}: every",
            "  .github/workflows/*.yml calls it, and GitHub runs whatever repository owns that name.",
            "  Render again with your fork of the template's workflows:",
            "    cookiecutter <template> workflows_repo=<your-org>/<your-fork> workflows_ref=<its tag or commit SHA>",
            "  `make lint` (check-workflows-repo) fails until then; ALLOW_PLACEHOLDER_WORKFLOWS_REPO=true",
            "  (a repository variable for CI) keeps the placeholder on purpose.",
        ]
    )


# Rendered by cookiecutter; stays a plain string when the tests import this file.
RENDERED_ANSWERS = r"""<< cookiecutter | jsonify >>"""


def main() -> int:
    answers = json.loads(RENDERED_ANSWERS)
    project_dir = Path.cwd()
    prune(project_dir, answers)
    write_answers(project_dir, answers)
    print(next_steps(answers))
    warning = placeholder_warning(answers)
    if warning:
        print(warning, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
