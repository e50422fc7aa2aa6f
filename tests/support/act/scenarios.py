"""What the act scenarios share: the project's identity on GitHub, the MLflow registry the jobs
write to, a commit that weakens the model, a file that fails the lint, and ci.yml's job graph
drawn with each job's result.

Used by tests/test_workflows_act.py and scripts/demo.py.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from support.act.harness import ActRunner
from support.commands import git, params_variant
from support.signing import PUBLIC_KEY_PEM, SIGNING_KEY_PEM
from support.template import COOKIECUTTER_JSON, DEFAULT_PACKAGE, DEFAULT_PROJECT

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
# Each job of ci.yml as act names it (caller job / job of the called workflow).
CI_JOBS = {
    "validate": "validate/validate",
    "test": "test/test",
    "train": "train/train",
    "gate": "gate/gate",
    "comment": "gate/comment",
    "image": "image/image",
    "promote": "promote/promote",
    "merge-check": "merge-check/merge-check",
}
# The candidate credential (repository secrets): train, gate and image. SQLite ignores the
# user and password; they are there so the jobs get what they would get on GitHub.
CANDIDATE_USER = {"MLFLOW_TRACKING_USERNAME": "candidate-bot", "MLFLOW_TRACKING_PASSWORD": "candidate-secret"}
# The production credential (environment secrets of the production environment): promote only.
PROMOTE_USER = {"MLFLOW_PROMOTE_USERNAME": "promote-bot", "MLFLOW_PROMOTE_PASSWORD": "promote-secret"}


def runner(project: Path, workdir: Path) -> ActRunner:
    """An act runner for a default render committed with `git_init(project, REPOSITORY)`."""
    return ActRunner(project=project, workdir=workdir, labels=LABELS, repository=REPOSITORY)


class Registry:
    """An MLflow tracking/registry store in one SQLite file, passed to the jobs as a secret.

    Two registered models: `model`, the production one (written only by `make promote` and
    `make rollback`), and `model`-candidates, where every training run registers a version.
    """

    def __init__(self, db: Path, model: str = DEFAULT_PACKAGE) -> None:
        self.db, self.model = db, model
        self.candidates = f"{model}-candidates"
        self.uri = f"sqlite:///{db}"
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def copy(self, db: Path) -> Registry:
        """The same store in another file."""
        shutil.copyfile(self.db, db)
        return Registry(db, self.model)

    def add_experiment(self, artifacts: Path, name: str = DEFAULT_PROJECT) -> Registry:
        """Create the project's experiments with their artifacts under `artifacts`: outside the
        jobs' workspaces, which act deletes after each job. Training runs go to `name`, the bytes
        of production versions to `name`-production (params.yaml's mlflow section)."""
        self.client.create_experiment(name, artifact_location=artifacts.as_uri())
        self.client.create_experiment(f"{name}-production", artifact_location=(artifacts / "production").as_uri())
        return self

    def champion(self) -> str | None:
        """The production version the `champion` alias points at, or None."""
        try:
            return str(self.client.get_model_version_by_alias(self.model, "champion").version)
        except MlflowException:
            return None

    def champion_tags(self) -> dict[str, str]:
        """The tags of the production champion ({} without one)."""
        try:
            return dict(self.client.get_model_version_by_alias(self.model, "champion").tags)
        except MlflowException:
            return {}

    def _versions(self, name: str) -> list[str]:
        return sorted((str(v.version) for v in self.client.search_model_versions(f"name='{name}'")), key=int)

    def versions(self) -> list[str]:
        """Every version of the production model (one per promotion)."""
        return self._versions(self.model)

    def candidate_versions(self) -> list[str]:
        """Every version of the candidates model (one per training run)."""
        return self._versions(self.candidates)

    def secrets(self) -> dict[str, str]:
        """The repository secrets ci.yml needs: the candidate credential (what pull requests get)."""
        return {"MLFLOW_TRACKING_URI": self.uri, **CANDIDATE_USER, "GITHUB_TOKEN": "act-fake-token"}

    def promote_secrets(self) -> dict[str, str]:
        """secrets() plus the production credential and signing key (on GitHub: the production
        environment's secrets)."""
        return self.secrets() | PROMOTE_USER | {"MODEL_SIGNING_KEY": SIGNING_KEY_PEM}


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


def job_graph(jobs: Mapping[str, str], pull_request: bool = False) -> str:
    """ci.yml's job graph with each job's result; a job that never started is `skipped`.

    validate (success) ─┐
    test (success) ─────┴─> train (success) ─> gate (success) ─> image (success) ─> promote (success)
                                                               └─> merge-check (success)
    (a pull request's gate also has its comment job; merge-check follows validate, test, train and gate)
    """

    def label(name: str) -> str:
        return f"{name} ({jobs.get(CI_JOBS[name], 'skipped')})"

    first, second = label("validate"), label("test")
    width = max(len(first), len(second)) + 1
    chain = " ─> ".join(label(name) for name in ("train", "gate", "image", "promote"))
    lines = [
        f"{first} {'─' * (width - len(first))}┐",
        f"{second} {'─' * (width - len(second))}┴─> {chain}",
    ]
    column = lines[1].index(label("gate")) + len(label("gate")) + 1
    if pull_request:  # gate.yml's comment job, after the gate
        lines.append(" " * column + "├─> " + label("comment"))
    lines.append(" " * column + "└─> " + label("merge-check"))
    return "\n".join(lines)
