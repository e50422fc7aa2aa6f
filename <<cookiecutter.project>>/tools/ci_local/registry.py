"""The MLflow registry the local CI runs share: one SQLite file, passed to the jobs as a secret."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

# The candidate credential (on GitHub: repository secrets): train, gate and image. SQLite ignores
# the user and password; they are there so the jobs get what they would get on GitHub.
CANDIDATE_USER = {"MLFLOW_TRACKING_USERNAME": "candidate-bot", "MLFLOW_TRACKING_PASSWORD": "candidate-secret"}
# The production credential (on GitHub: the production environment's secrets): promote only.
PROMOTE_USER = {"MLFLOW_PROMOTE_USERNAME": "promote-bot", "MLFLOW_PROMOTE_PASSWORD": "promote-secret"}


class LocalRegistry:
    """An MLflow tracking/registry store in one SQLite file.

    Two registered models: `model`, the production one (written only by `make promote` and
    `make rollback`), and `model`-candidates, where every training run registers a version.
    """

    def __init__(self, db: Path, model: str, candidates: str | None = None) -> None:
        self.db, self.model = db, model
        self.candidates = candidates or f"{model}-candidates"
        self.uri = f"sqlite:///{db}"
        self.client = mlflow.MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def copy(self, db: Path) -> LocalRegistry:
        """The same store in another file."""
        shutil.copyfile(self.db, db)
        return type(self)(db, self.model, self.candidates)

    def add_experiment(self, artifacts: Path, name: str, production: str | None = None) -> LocalRegistry:
        """Create the project's experiments (unless they exist) with their artifacts under
        `artifacts`: outside the jobs' workspaces, which act deletes after each job. Training
        runs go to `name`, the bytes of production versions to `production` (default
        `name`-production, as params.yaml's mlflow section)."""
        for experiment, location in ((name, artifacts), (production or f"{name}-production", artifacts / "production")):
            if self.client.get_experiment_by_name(experiment) is None:
                self.client.create_experiment(experiment, artifact_location=location.as_uri())
        return self

    def _alias(self, alias: str) -> ModelVersion | None:
        try:
            return self.client.get_model_version_by_alias(self.model, alias)
        except MlflowException:
            return None

    def champion(self) -> str | None:
        """The production version the `champion` alias points at, or None."""
        version = self._alias("champion")
        return None if version is None else str(version.version)

    def champion_tags(self) -> dict[str, str]:
        """The tags of the production champion ({} without one)."""
        version = self._alias("champion")
        return {} if version is None else dict(version.tags)

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

    def promote_secrets(self, signing_key_pem: str) -> dict[str, str]:
        """secrets() plus the production credential and the model-signing key (on GitHub: the
        production environment's secrets)."""
        return self.secrets() | PROMOTE_USER | {"MODEL_SIGNING_KEY": signing_key_pem}
