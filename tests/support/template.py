"""The template under test: where it is, its answers, rendering it, and the one option matrix."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[2]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
# The template repository's own workflows (its CI and its release); every other one is reusable.
OWN_WORKFLOWS = {"template-ci.yml", "release.yml"}
REUSABLE_WORKFLOWS = {
    path.name: path
    for path in sorted((TEMPLATE_DIR / ".github" / "workflows").glob("*.yml"))
    if path.name not in OWN_WORKFLOWS
}
DEFAULT_PROJECT = "penguin-classifier"
DEFAULT_PACKAGE = "penguin_classifier"
# The default name follows the task (cookiecutter.json's project_name): (project, package) by task.
DEFAULT_NAMES = {
    "classification": (DEFAULT_PROJECT, DEFAULT_PACKAGE),
    "regression": ("penguin-regressor", "penguin_regressor"),
}


def default_package(answers: Mapping[str, str]) -> str:
    """The package a render with `answers` and no name of its own has."""
    return DEFAULT_NAMES[answers.get("task", "classification")][1]


def render(output_dir: Path, **answers: str) -> Path:
    """Render the template with the defaults overridden by `answers`; return the project dir."""
    project = cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(output_dir))
    return Path(project)


# --- the option matrix -------------------------------------------------------------------
# Every choice variable of cookiecutter.json, and the free-text answers whose variations change
# what is rendered (the workflows above all). The first value of each is the default.
# A choice whose first option is rendered from another answer (primary_metric's default follows
# the task) is a default only: the literal options after it are the values.
CHOICES: dict[str, list[str]] = {
    name: [value for value in values if "<<" not in value]
    for name, values in COOKIECUTTER_JSON.items()
    if isinstance(values, list) and not name.startswith("_")
}
VARIANTS: dict[str, list[str]] = {
    "gpu_runner_labels": [
        COOKIECUTTER_JSON["gpu_runner_labels"],
        '["self-hosted", "linux", "arm64", "a100"]',
        '["gpu-runner"]',
    ],
    "registry": [COOKIECUTTER_JSON["registry"], "registry.example.com:5000"],
    "workflows_ref": [COOKIECUTTER_JSON["workflows_ref"], "main", "0123456789abcdef0123456789abcdef01234567"],
    "min_improvement": [COOKIECUTTER_JSON["min_improvement"], "0.05"],
    "production_environment": [COOKIECUTTER_JSON["production_environment"], "prod.models_eu-1"],
    "staging_environment": [COOKIECUTTER_JSON["staging_environment"], "pre-prod"],
    "code_owners": [COOKIECUTTER_JSON["code_owners"], "@acme/ml-leads @alice"],
}
# Combinations no row may hold, each a partial set of answers, for a choice whose values depend
# on another's: a gate metric of the other task.
# The hook's table (tests/test_hooks.py checks they are equal; support.hooks imports this module).
METRICS_BY_TASK = {
    "classification": ("accuracy", "balanced_accuracy", "f1_macro", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}
EXCLUDED: list[dict[str, str]] = [
    {"task": task, "primary_metric": metric}
    for task, metrics in METRICS_BY_TASK.items()
    for metric in CHOICES["primary_metric"]
    if metric not in metrics
]


def _holds_none(answers: Mapping[str, str], excluded: Sequence[Mapping[str, str]]) -> bool:
    return not any(combination.items() <= answers.items() for combination in excluded)


def option_matrix(
    variations: Mapping[str, Sequence[str]], excluded: Sequence[Mapping[str, str]] = ()
) -> list[dict[str, str]]:
    """Rows of answers in which every value of every variable appears at least once.

    Each row takes, variable by variable, the least-used value so far (the first listed on a
    tie) that completes no `excluded` combination. With nothing excluded this rotates every
    variable through its values: max(len(values)) rows, the first one all defaults.
    """
    uses = {name: dict.fromkeys(values, 0) for name, values in variations.items()}
    rows: list[dict[str, str]] = []
    while any(0 in counts.values() for counts in uses.values()):
        if len(rows) > sum(len(values) for values in variations.values()):
            raise ValueError(f"the exclusions leave some values unreachable: {uses}")
        row: dict[str, str] = {}
        for name, counts in uses.items():
            allowed = [value for value in counts if _holds_none(row | {name: value}, excluded)]
            if not allowed:
                raise ValueError(f"every value of {name} is excluded next to {row}")
            row[name] = min(allowed, key=counts.__getitem__)
            counts[row[name]] += 1
        rows.append(row)
    return rows


MATRIX = option_matrix(CHOICES | VARIANTS, EXCLUDED)


def matrix_id(answers: Mapping[str, str]) -> str:
    """A readable test id: the values in order, label lists and lists of owners joined by '+', a
    commit SHA cut to 7."""
    parts = []
    for value in answers.values():
        if value.startswith("["):
            value = "+".join(json.loads(value))
        elif value.startswith("@"):
            value = "+".join(value.split())
        elif len(value) == 40 and all(char in "0123456789abcdef" for char in value):
            value = value[:7]
        parts.append(value)
    return "-".join(parts)


MATRIX_IDS = [matrix_id(answers) for answers in MATRIX]
