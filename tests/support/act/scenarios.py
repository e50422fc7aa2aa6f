"""What the act scenarios share: the project's identity on GitHub, the MLflow registry the jobs
write to (with the tests' signing key), a commit that weakens the model and a file that fails
the lint. The harness itself is the generated project's ci_local package.

Used by tests/test_workflows_act*.py and scripts/demo.py.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from ci_local.harness import ActResult, ActRunner, git_init
from ci_local.registry import LocalRegistry
from support.commands import git, params_variant
from support.signing import PUBLIC_KEY_PEM, SIGNING_KEY_PEM
from support.template import COOKIECUTTER_JSON, DEFAULT_PACKAGE, DEFAULT_PROJECT, TEMPLATE_DIR, render

REPOSITORY = f"acme/{DEFAULT_PROJECT}"
LABELS = json.loads(COOKIECUTTER_JSON["gpu_runner_labels"])
# Repository variables: this machine has no GPU (ci.yml trains on CPU when REQUIRE_GPU says so),
# the release image's trusted signer, and the default render's placeholder workflows repository
# kept on purpose (the act runs resolve it to this template; lint.yml's check would refuse it).
REPOSITORY_VARIABLES = {
    "REQUIRE_GPU": "false",
    "MODEL_SIGNING_PUBLIC_KEY": PUBLIC_KEY_PEM,
    "ALLOW_PLACEHOLDER_WORKFLOWS_REPO": "true",
}
# The loosest gate.merge_tolerance params.yaml accepts (config.py's bound).
LOOSEST_MERGE_TOLERANCE = 0.05
# params.yaml changes that make the model far worse than the defaults' (no better than always
# guessing the commonest class) while the project's own tests, which run on the same commit and
# train from params.yaml with their own epoch counts, still pass; and that loosen the merge
# check as far as its bound allows, which must not help: the base commit's policy judges.
WEAKER_MODEL = {"train": {"epochs": 1, "learning_rate": 0.001}, "gate": {"merge_tolerance": LOOSEST_MERGE_TOLERANCE}}


# What the test job's `make test` runs in the scenarios, which judge the job graph, not the
# project's suite: the tests not marked slow (seconds, not minutes). The whole suite runs once
# per answer set in tests/test_render.py, and in the project's own environment in
# tests/test_make_contract.py.
QUICK_TESTS = {"MARKERS": "not slow"}


def runner(project: Path, workdir: Path) -> ActRunner:
    """An act runner for a default render committed with `git_init(project, REPOSITORY)`; its
    test job runs QUICK_TESTS."""
    return ActRunner(
        project=project,
        workdir=workdir,
        labels=LABELS,
        repository=REPOSITORY,
        workflows_dir=TEMPLATE_DIR,
        environment=QUICK_TESTS,
    )


class Registry(LocalRegistry):
    """The default render's registry, whose production credential signs with the tests' key."""

    def __init__(self, db: Path, model: str = DEFAULT_PACKAGE, candidates: str | None = None) -> None:
        super().__init__(db, model, candidates)

    def add_experiment(self, artifacts: Path, name: str = DEFAULT_PROJECT, production: str | None = None) -> Registry:
        return super().add_experiment(artifacts, name, production)

    def promote_secrets(self, signing_key_pem: str = SIGNING_KEY_PEM) -> dict[str, str]:
        return super().promote_secrets(signing_key_pem)


def weaken_model(project: Path, branch: str = "weaker-model") -> str:
    """Commit WEAKER_MODEL's params.yaml on a new branch, left checked out (act copies the
    working tree); return the commit's SHA."""
    git(project, "switch", "--quiet", "--create", branch)
    params_variant(project, "params.yaml", **WEAKER_MODEL)
    message = "Train for one epoch at a tenth of the learning rate; loosen the merge tolerance"
    git(project, "commit", "--quiet", "--all", "--message", message)
    return git(project, "rev-parse", "HEAD")


def change_the_network(project: Path, branch: str = "gelu") -> str:
    """Commit, on a new branch left checked out, an MLP with GELU where it had ReLU: code the base
    commit does not have; return the commit's SHA."""
    git(project, "switch", "--quiet", "--create", branch)
    mlp = project / "src" / DEFAULT_PACKAGE / "training" / "networks" / "mlp.py"
    mlp.write_text(mlp.read_text().replace("nn.ReLU()", "nn.GELU()").replace("with ReLU", "with GELU"))
    git(project, "commit", "--quiet", "--all", "--message", "Use GELU between the MLP's layers")
    return git(project, "rev-parse", "HEAD")


def add_badly_formatted_file(project: Path) -> Path:
    """Add (git add) a module that `ruff format` rewrites, the lint error a commit can carry;
    return its path relative to the project."""
    bad = Path("src", DEFAULT_PACKAGE, "badly_formatted.py")
    (project / bad).write_text("x = {  'a':1 }\n")
    git(project, "add", bad.as_posix())
    return bad


# --- what the act test modules assert on -----------------------------------------------------
# The aggregate check a ruleset requires: it runs on every event, whatever ran before it.
MERGE_CHECK = "merge-check/merge-check"
# Every job of ci.yml as act names it: caller job / job of the called workflow.
ALL_JOBS = {"validate/validate", "test/test", "train/train", "gate/gate", "image/image", "promote/promote", MERGE_CHECK}
# The jobs of a pull request that trains and gates: never image or promote.
PULL_REQUEST_JOBS = {"validate/validate", "test/test", "train/train", "gate/gate", "gate/comment", MERGE_CHECK}
# lint.yml's one job (`make lint`), which a push to main starts beside ci.yml.
LINT_JOB = "lint/pre-commit"
# Every workflow of the project that a push to main starts: ci.yml and lint.yml.
PUSH_WORKFLOWS = ".github/workflows"
IMAGE = f"ghcr.io/{REPOSITORY}"  # image_name left empty: the repository's own path
PROMOTE_ERROR = "MLFLOW_PROMOTE_USERNAME or MLFLOW_PROMOTE_PASSWORD is empty"


def empty_registry_in(directory: Path) -> Registry:
    """A migrated, empty store (migrations cost seconds: make it once, then copy it)."""
    registry = Registry(directory / "empty.db")
    registry.client.search_experiments()  # creates and migrates the schema
    return registry


def fresh_registry(empty: Registry, directory: Path) -> Registry:
    """A private empty store whose experiment keeps artifacts in `directory` (jobs run in throw-away copies)."""
    return empty.copy(directory / "mlflow.db").add_experiment(directory / "artifacts")


def committed_render(directory: Path) -> tuple[Path, str]:
    """The default render, committed, with an origin on github.com: (directory, HEAD sha)."""
    path = render(directory)
    return path, git_init(path, REPOSITORY)


def assert_jobs(result: ActResult, expected: dict[str, str]) -> None:
    """Exactly these jobs ran, with these results; every other job of ci.yml never started."""
    assert result.jobs == expected, result.describe()


def reported_test_modules(result: ActResult) -> set[str]:
    """The test modules in the JUnit report of the test job (the default render's Python)."""
    python = COOKIECUTTER_JSON["python_version"][0]
    report = ET.parse(result.artifact(f"test-report-{python}") / "junit.xml").getroot()  # noqa: S314
    return {case.get("classname", "") for case in report.iter("testcase")}


def gate_digest(result: ActResult) -> str:
    """The candidate digest the gate job reported (its reports/gate.json)."""
    return json.loads((result.artifact("gate-report") / "gate.json").read_text())["candidate_digest"]
