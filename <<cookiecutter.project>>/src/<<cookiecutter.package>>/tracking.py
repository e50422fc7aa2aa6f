"""The connection to the MLflow tracking server and model registry, configured in one place.

Every stage that talks to MLflow (training, the gate, promotion, export) connects here, so
all of them fail fast, in seconds, when the server is down instead of retrying for minutes.
"""

from __future__ import annotations

import os

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.config import Params


def connect(params: Params) -> MlflowClient:
    """Point MLflow at the configured server; return a client for its registry."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(params.mlflow.tracking_uri)
    mlflow.set_registry_uri(params.mlflow.tracking_uri)
    return MlflowClient(tracking_uri=params.mlflow.tracking_uri, registry_uri=params.mlflow.tracking_uri)


def is_absent(error: MlflowException) -> bool:
    """The registry says the model, version or alias does not exist (not that it cannot answer)."""
    return error.error_code == "RESOURCE_DOES_NOT_EXIST" or (
        error.error_code == "INVALID_PARAMETER_VALUE" and "not found" in str(error)
    )


def ensure_registered_model(client: MlflowClient, name: str) -> None:
    """Create `name` on first use (a local registry); a team's admin creates it beforehand."""
    try:
        client.get_registered_model(name)
    except MlflowException as error:
        if not is_absent(error):
            raise
        client.create_registered_model(name)
