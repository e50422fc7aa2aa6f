"""Every option renders into a clean, parseable, lint-free project whose own tests pass."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml

from support.commands import BIN_DIR, PYTHON, make, run
from support.hooks import post_gen
from support.template import (
    CHOICES,
    COOKIECUTTER_JSON,
    DEFAULT_NAMES,
    DEFAULT_PROJECT,
    MATRIX,
    MATRIX_IDS,
    TEMPLATE_DIR,
    VARIANTS,
    default_package,
    option_matrix,
    render,
)

LEFTOVER_DELIMITERS = ("<<", "<%", "<#")
PROJECT_TEMPLATE = TEMPLATE_DIR / "<<cookiecutter.project>>"
GENERATED_NOISE = {
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "reports",
    "mlflow.db",
    "checkpoints",
    "gx/uncommitted",
}


def test_matrix_renders_every_choice_value_and_every_variant():
    """The one option matrix (support/template.py) that every render test runs over."""
    for name, values in (CHOICES | VARIANTS).items():
        rendered = {answers[name] for answers in MATRIX}
        assert rendered == set(values), f"{name}: {set(values) - rendered} never rendered"
    assert MATRIX[0] == {name: values[0] for name, values in (CHOICES | VARIANTS).items()}, "row 0: the defaults"


def test_matrix_leaves_out_excluded_combinations_and_still_covers_every_value():
    variations = {"python_version": ["3.11", "3.12"], "accelerator": ["cpu", "cuda", "rocm"]}
    rows = option_matrix(variations, excluded=[{"python_version": "3.11", "accelerator": "rocm"}])
    assert {"python_version": "3.11", "accelerator": "rocm"} not in rows
    for name, values in variations.items():
        assert {row[name] for row in rows} == set(values)


def _project_files(project: Path) -> set[str]:
    files = set()
    for path in project.rglob("*"):
        relative = path.relative_to(project).as_posix()
        if path.is_file() and not any(part in GENERATED_NOISE for part in relative.split("/")):
            files.add(relative)
    return files


def expected_files(answers: dict[str, str], package: str | None = None) -> set[str]:
    """The template's files, renamed as cookiecutter renames them, minus the unchosen options' paths."""
    removed = post_gen.paths_to_remove(answers)
    files = set()
    for relative in _project_files(PROJECT_TEMPLATE):
        if not any(relative == path or relative.startswith(f"{path}/") for path in removed):
            files.add(relative.replace("<<cookiecutter.package>>", package or default_package(answers)))
    return files | {post_gen.ANSWERS_FILE}


def test_exactly_the_expected_files(rendered):
    answers, project = rendered
    assert _project_files(project) == expected_files(answers)
    for path in post_gen.paths_to_remove(answers):
        assert not (project / path).exists()


def test_no_template_syntax_survives(rendered):
    """In every rendered file; `_copy_without_render` files are copied as they are (shell heredocs)."""
    _, project = rendered
    verbatim = COOKIECUTTER_JSON["_copy_without_render"]
    rendered_files = [f for f in _project_files(project) if not any(fnmatch.fnmatch(f, p) for p in verbatim)]
    assert len(rendered_files) < len(_project_files(project))  # the verbatim files exist and are left out
    for relative in rendered_files:
        text = (project / relative).read_bytes().decode("utf-8", errors="ignore")
        for delimiter in LEFTOVER_DELIMITERS:
            assert delimiter not in text, f"{relative} still contains {delimiter!r}"


def test_structured_files_parse(rendered):
    _, project = rendered
    parsers = {".yaml": yaml.safe_load, ".yml": yaml.safe_load, ".json": json.loads, ".toml": tomllib.loads}
    parsed = 0
    for relative in _project_files(project):
        parser = parsers.get(Path(relative).suffix)
        if parser:
            parser((project / relative).read_text())
            parsed += 1
    assert parsed >= 5


def test_rendered_values_keep_their_types(rendered):
    answers, project = rendered
    params = yaml.safe_load((project / "params.yaml").read_text())
    assert params["gate"]["min_improvement"] == float(answers["min_improvement"])
    assert params["gate"]["metric"] == answers["primary_metric"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["requires-python"] == f">={answers['python_version']}"
    assert pyproject["project"]["license"] == answers["license"]


def test_code_owners_are_the_answer(rendered):
    """Every line of CODEOWNERS gives its path to exactly the owners answered (which paths: the
    generated project's tests/promotion/test_code_owners.py)."""
    answers, project = rendered
    lines = (project / ".github" / "CODEOWNERS").read_text().splitlines()
    entries = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    assert entries
    assert all(fields[1:] == answers["code_owners"].split() for fields in entries)


def test_python_is_ruff_clean(rendered):
    _, project = rendered
    run([PYTHON, "-m", "ruff", "check", "--no-cache", "."], cwd=project)
    run([PYTHON, "-m", "ruff", "format", "--no-cache", "--check", "."], cwd=project)


def test_pre_commit_config_is_valid(rendered):
    _, project = rendered
    run([PYTHON, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"], cwd=project)


# The generated suite tests both tasks in every render (its fixtures set the task), so it runs on
# the first two rows of each task, not on all seven: the rows after differ only in the gate
# metric, which the suite's own metric, rule and bootstrap tests cover for every metric.
SUITE_ROWS = [
    index
    for index, answers in enumerate(MATRIX)
    if [row["task"] for row in MATRIX[: index + 1]].count(answers["task"]) <= 2
]


@pytest.mark.slow
@pytest.mark.parametrize("index", SUITE_ROWS, ids=[MATRIX_IDS[index] for index in SUITE_ROWS])
def test_generated_project_tests_pass(index: int, matrix_render, tmp_path: Path):
    """In a copy: the render is shared with tests that check its exact file set."""
    project = matrix_render(index)
    copy = shutil.copytree(project, tmp_path / project.name)
    result = make(copy, "test")
    assert " passed" in result.stdout


def test_default_render_creates_exactly_one_project(tmp_path: Path):
    run([str(BIN_DIR / "cookiecutter"), "--no-input", str(TEMPLATE_DIR), "-o", str(tmp_path)], cwd=tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == [DEFAULT_PROJECT]
    record = json.loads((tmp_path / DEFAULT_PROJECT / post_gen.ANSWERS_FILE).read_text())
    assert record["context"]["cookiecutter"]["project"] == DEFAULT_PROJECT


@pytest.mark.parametrize("task", sorted(DEFAULT_NAMES))
def test_the_default_name_and_description_follow_the_task(task: str, tmp_path: Path):
    """A regression render says nowhere that it is a classifier: not in its name, its directory,
    its package, its README's title and first line, nor its packaging metadata."""
    project = render(tmp_path, task=task)
    slug, package = DEFAULT_NAMES[task]
    assert project.name == slug and (project / "src" / package).is_dir()
    title, _, summary = (project / "README.md").read_text().splitlines()[:3]
    metadata = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    assert (metadata["name"], metadata["description"]) == (slug, summary)
    words = f"{title} {summary} {slug}".lower()
    if task == "regression":
        assert title == "# Penguin Regressor" and "regression model" in summary
        assert "classifier" not in words
    else:
        assert title == "# Penguin Classifier" and "classifier" in summary


def test_test_environment_satisfies_the_generated_requirements(default_project: Path):
    """The suite runs rendered projects in its own venv: that is only honest if the venv meets their pins."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import Requirement

    project = tomllib.loads((default_project / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    unmet = []
    for line in project["dependencies"] + [line for extra in extras.values() for line in extra]:
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            installed = None
        if installed is None or not requirement.specifier.contains(installed.split("+")[0], prereleases=True):
            unmet.append(f"{line} (installed: {installed})")
    assert unmet == []


_DIGEST_PINNED = re.compile(r"[\w./:-]+@sha256:[0-9a-f]{64}")


def test_base_images_are_pinned_by_digest_where_dependabot_updates_them(rendered):
    """Literal FROM lines (Dependabot cannot update an ARG default), the ARC runner image's included."""
    answers, project = rendered
    dockerfile = (project / "Dockerfile").read_text()
    images = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    literal = [image for image in images if not image.startswith("$")]
    assert len(literal) == 2, images
    assert all(_DIGEST_PINNED.fullmatch(image) for image in literal), literal
    assert literal[0].startswith(f"python:{answers['python_version']}-slim-bookworm@")
    runner_images = re.findall(r"^FROM\s+(\S+)", (project / "deploy/arc/runner.Dockerfile").read_text(), re.MULTILINE)
    assert runner_images[1:] == ["${RUNNER_IMAGE}"]
    assert _DIGEST_PINNED.fullmatch(runner_images[0]), runner_images
    assert runner_images[0].startswith("ghcr.io/actions/actions-runner:")
    # The scale set runs the image built from runner.Dockerfile, tagged with its base's runner version.
    values = yaml.safe_load((project / "deploy/arc/gpu-runner-scale-set.values.yaml").read_text())
    runner_version = runner_images[0].split(":")[1].split("@")[0]
    image = values["template"]["spec"]["containers"][0]["image"]
    assert image == f"{answers['registry']}/YOUR-ORG/actions-runner-ml:{runner_version}"
    docker = [update for update in _load_dependabot(project) if update["package-ecosystem"] == "docker"]
    assert [sorted(update["directories"]) for update in docker] == [["/", "/deploy/arc"]]
    assert all(update["cooldown"]["default-days"] >= 3 for update in docker)


def _load_dependabot(project: Path) -> list[dict]:
    return yaml.safe_load((project / ".github" / "dependabot.yml").read_text())["updates"]


def test_gpu_runner_scale_set_values_match_the_runner_labels(rendered):
    answers, project = rendered
    values = yaml.safe_load((project / "deploy/arc/gpu-runner-scale-set.values.yaml").read_text())
    assert values["scaleSetLabels"] == json.loads(answers["gpu_runner_labels"])
    assert values["minRunners"] == 0
    runner = values["template"]["spec"]["containers"][0]
    assert runner["resources"]["limits"]["nvidia.com/gpu"] == 1
