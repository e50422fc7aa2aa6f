"""The connection to the MLflow tracking server and model registry, configured in one place.

Every stage that talks to MLflow (training, the gate, promotion, export) connects here, so
all of them fail fast, in seconds, when the server is down instead of retrying for minutes.
In CI they also refuse a tracking URI that carries a user and password: MLflow and HTTP
clients repeat the URI in log lines and error messages, so credentials belong in
MLFLOW_TRACKING_USERNAME/_PASSWORD there, which nothing prints.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.config import ConfigError, Params
from << cookiecutter.package >>.redaction import redact_userinfo


def _in_ci() -> bool:
    """`CI` is set by GitHub Actions, GitLab and most others; `GITHUB_ACTIONS` by GitHub alone."""
    return any(os.environ.get(name, "").strip().lower() in {"1", "true", "yes"} for name in ("CI", "GITHUB_ACTIONS"))


def connect(params: Params) -> MlflowClient:
    """Point MLflow at the configured server; return a client for its registry."""
    uri = params.mlflow.tracking_uri
    if "@" in urlsplit(uri).netloc and _in_ci():
        raise ConfigError(
            f"the tracking URI {redact_userinfo(uri)} carries credentials: in CI put them in "
            "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD and leave them out of the URI"
        )
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def is_absent(error: MlflowException) -> bool:
    """The registry says the model, version or alias does not exist (not that it cannot answer)."""
    return error.error_code == "RESOURCE_DOES_NOT_EXIST" or (
        error.error_code == "INVALID_PARAMETER_VALUE" and "not found" in str(error)
    )


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create `name` on first use (a local registry); a team's admin creates it beforehand.
    Two first uses at once both find it missing: the one that loses the create finds it made."""
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if not is_absent(error):
            raise
        try:
            client.create_registered_model(name)
        except MlflowException as lost:
            if lost.error_code != "RESOURCE_ALREADY_EXISTS":
                raise


def is_local(tracking_uri: str) -> bool:
    """A registry on this machine (a SQLite file or a directory): a laptop's, not a team's."""
    return tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri


def absolute_uri(tracking_uri: str) -> str:
    """The URI with a local store's relative path made absolute, for a command that runs in
    another directory (`make gate BASE=` runs the base commit's gate in a copy of its tree)."""
    if tracking_uri.startswith("sqlite:///") and not tracking_uri.startswith("sqlite:////"):
        return f"sqlite:///{Path(tracking_uri.removeprefix('sqlite:///')).resolve()}"
    if "://" not in tracking_uri and not tracking_uri.startswith(("sqlite:", "file:")):
        return str(Path(tracking_uri).resolve())
    return tracking_uri
