"""Pre-generation hook: refuse answers that would produce a broken project.

Cookiecutter runs this file (rendered) as a script; the tests import it as a module and
call `check_answers` directly. The checks live here rather than in a sibling module
because a hook cannot import one: cookiecutter runs it from a temporary copy, and with a
relative template path (`cookiecutter .`) `_repo_dir` is relative too.

Every check returns problems instead of raising, so the user sees all of them at once.
Each problem names the variable, the bad value and a good one. Nothing is left behind:
cookiecutter deletes the project directory when this hook exits non-zero.
"""

from __future__ import annotations

import json
import keyword
import re
import sys
from collections.abc import Callable, Mapping

SUPPORTED_PYTHON_VERSIONS = ("3.11", "3.12")
# task -> the gate metrics that fit it, the default first (the package's metrics.py has the same table)
METRICS_BY_TASK = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
METRICS = tuple(metric for metrics in METRICS_BY_TASK.values() for metric in metrics)
CHOICES = {
    "task": tuple(METRICS_BY_TASK),
    "license": ("Apache-2.0", "MIT", "BSD-3-Clause", "Proprietary"),
    "python_version": SUPPORTED_PYTHON_VERSIONS,
    "primary_metric": METRICS,
    "improvement_mode": ("relative", "absolute"),
    "data_versioning": ("none", "dvc"),
}
# gate.min_improvement's bounds: above the first, at most the second. The generated config.py's
# GateParams enforces them on params.yaml (tests/test_hooks.py checks that both refuse the same values).
MIN_IMPROVEMENT_BOUNDS = (0.0, 0.5)
# Import names a generated package must not shadow: the project's own dependencies and
# names that tooling treats specially.
RESERVED_PACKAGES = frozenset(
    {
        "cookiecutter", "docker", "fastapi", "great_expectations", "mlflow", "numpy",
        "onnx", "onnxruntime", "pandas", "prometheus_client", "pyarrow", "pydantic",
        "pytest", "requests", "scipy", "sklearn", "src", "starlette", "test", "tests",
        "torch", "uvicorn", "yaml",
    }
)  # fmt: skip

_PROJECT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9 _-]{0,63}")
_SLUG = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
_PACKAGE = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_OWNER_REPO = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
_SHA = re.compile(r"[0-9a-f]{40}")
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_REGISTRY = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")
# GitHub environment names: letters, digits, '-', '_', '.' (GitHub allows up to 255 characters).
_ENVIRONMENT = re.compile(r"[A-Za-z0-9._-]{1,255}")
# A code owner in .github/CODEOWNERS: @user or @org/team (a GitHub login, a team slug), or an e-mail address.
_GITHUB_OWNER = re.compile(r"@[A-Za-z0-9](?:-?[A-Za-z0-9])*(?:/[A-Za-z0-9][A-Za-z0-9_-]*)?")
_OWNER_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]+")
_IMAGE = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")

Check = Callable[[str], "str | None"]


def _matches(pattern: re.Pattern[str], rule: str) -> Check:
    return lambda value: None if pattern.fullmatch(value) else rule


def _optional(check: Check) -> Check:
    """Empty means "derive it later" (e.g. the image path from the GitHub repository)."""
    return lambda value: None if value == "" else check(value)


def _check_package(value: str) -> str | None:
    if not _PACKAGE.fullmatch(value):
        return "must be a lowercase Python identifier (letters, digits, '_')"
    if keyword.iskeyword(value) or keyword.issoftkeyword(value):
        return "is a Python keyword"
    if value in sys.stdlib_module_names or value in RESERVED_PACKAGES:
        return "clashes with a standard-library or dependency module of the same name"
    return None


def _check_ref(value: str) -> str | None:
    if _SHA.fullmatch(value):
        return None
    bad = not _REF.fullmatch(value) or ".." in value or "//" in value or value.endswith((".", "/", ".lock"))
    return "must be a tag, branch or full 40-character commit SHA" if bad else None


def _check_labels(value: str) -> str | None:
    try:
        labels = json.loads(value)
    except json.JSONDecodeError as error:
        return f"is not valid JSON ({error.msg})"
    if not isinstance(labels, list) or not labels:
        return "must be a non-empty JSON list"
    if not all(isinstance(label, str) and _LABEL.fullmatch(label) for label in labels):
        return "must contain only label strings (letters, digits, '.', '_', '-')"
    if len(set(labels)) != len(labels):
        return "contains a label twice"
    return None


def _check_min_improvement(value: str) -> str | None:
    try:
        number = float(value)
    except ValueError:
        return "is not a number"
    low, high = MIN_IMPROVEMENT_BOUNDS
    if low < number <= high:
        return None
    return f"is out of range: allowed above {low:g} and at most {high:g} (gate.min_improvement's bounds in params.yaml)"


def _check_free_text(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if any(ord(char) < 32 for char in value):
        return "must be a single line without control characters"
    if '"' in value or "\\" in value:
        return "must not contain double quotes or backslashes (it is rendered into Python and TOML strings)"
    return None


def _check_code_owners(value: str) -> str | None:
    owners = value.split()
    if not owners:
        return "must name at least one code owner"
    if bad := [owner for owner in owners if not (_GITHUB_OWNER.fullmatch(owner) or _OWNER_EMAIL.fullmatch(owner))]:
        return f"has {', '.join(map(repr, bad))}: give @org/team, @user or an e-mail address, separated by spaces"
    if len({owner.lower() for owner in owners}) != len(owners):
        return "names an owner twice (GitHub names ignore case)"
    return None


_CRON_FIELD = re.compile(r"[0-9*/,-]+")


def _check_cron(value: str) -> str | None:
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.fullmatch(field) for field in fields):
        return "must be a 5-field cron expression (minute hour day-of-month month day-of-week), UTC"
    return None


def _choice(name: str) -> Check:
    allowed = CHOICES[name]
    return lambda value: None if value in allowed else f"must be one of {', '.join(allowed)}"


# variable -> (check, example of a good value)
RULES: dict[str, tuple[Check, str]] = {
    "project_name": (
        _matches(_PROJECT_NAME, "must start with a letter and use only letters, digits, spaces, '-' or '_' (max 64)"),
        "Churn Model",
    ),
    "project": (_matches(_SLUG, "must be a lowercase slug: letters, digits and single '-'"), "churn-model"),
    "package": (_check_package, "churn_model"),
    "description": (_check_free_text, "Predicts customer churn"),
    "author": (_check_free_text, "ML Platform Team"),
    "author_email": (_matches(_EMAIL, "must be an e-mail address"), "ml-team@example.com"),
    "license": (_choice("license"), "Apache-2.0"),
    "python_version": (_choice("python_version"), "3.12"),
    "workflows_repo": (_matches(_OWNER_REPO, "must have the form OWNER/REPO"), "my-org/ml-cicd-template"),
    "workflows_ref": (_check_ref, "v1"),
    "gpu_runner_labels": (_check_labels, '["self-hosted", "linux", "x64", "gpu"]'),
    "registry": (_matches(_REGISTRY, "must be a registry host name, optionally with :port"), "ghcr.io"),
    "image_name": (_optional(_matches(_IMAGE, "must be empty or a lowercase path (a-z 0-9 . _ - /)")), "org/churn"),
    "production_environment": (
        _matches(_ENVIRONMENT, "must be a GitHub environment name: letters, digits, '-', '_' or '.'"),
        "production",
    ),
    "staging_environment": (
        _matches(_ENVIRONMENT, "must be a GitHub environment name: letters, digits, '-', '_' or '.'"),
        "staging",
    ),
    "code_owners": (_check_code_owners, "@my-org/ml-leads @alice"),
    "task": (_choice("task"), "classification"),
    "primary_metric": (_choice("primary_metric"), "accuracy"),
    "min_improvement": (_check_min_improvement, "0.02"),
    "improvement_mode": (_choice("improvement_mode"), "relative"),
    "data_versioning": (_choice("data_versioning"), "none"),
    "retrain_cron": (_check_cron, "17 4 1,15 * *"),
}  # fmt: skip


def check_answers(answers: Mapping[str, object]) -> list[str]:
    """Return one message per bad answer; an empty list means every answer is usable."""
    problems = []
    for name, (check, example) in RULES.items():
        value = answers.get(name)
        reason = check(value) if isinstance(value, str) else "is missing or not a string"
        if reason:
            problems.append(f"{name}={value!r} {reason}; for example {name}={example!r}")
    return problems + _metric_for_task(answers)


def _metric_for_task(answers: Mapping[str, object]) -> list[str]:
    """The gate metric must be one the task can compute (rmse of class labels means nothing)."""
    task, metric = answers.get("task"), answers.get("primary_metric")
    if task not in METRICS_BY_TASK or metric not in METRICS or metric in METRICS_BY_TASK[task]:
        return []  # an unknown task or metric is reported above
    fitting = METRICS_BY_TASK[task]
    return [
        f"primary_metric={metric!r} does not fit task={task!r}; a {task} model is gated on one of "
        f"{', '.join(fitting)}, for example primary_metric={fitting[0]!r}"
    ]


def format_problems(problems: list[str]) -> str:
    """The message the hook prints: every problem and how to pass a fixed answer."""
    lines = [f"ERROR: {len(problems)} cookiecutter answer(s) cannot be used:"]
    lines += [f"  - {problem}" for problem in problems]
    lines.append("Nothing was generated. Re-run cookiecutter with fixed answers, e.g.")
    lines.append("  cookiecutter --no-input <template> project_name='Churn Model'")
    return "\n".join(lines)


# Rendered by cookiecutter; stays a plain string when the tests import this file.
RENDERED_ANSWERS = r"""<< cookiecutter | jsonify >>"""


def main() -> int:
    problems = check_answers(json.loads(RENDERED_ANSWERS))
    if problems:
        print(format_problems(problems), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
