"""The few MLflow registry operations the pipeline needs, with "absent" told apart from "broken".

A missing champion is a normal state (first model: compare with the naive baseline); an
unreachable server is not, and must reach the caller as an error so the gate fails closed.
"""

from __future__ import annotations

import os

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.config import Params

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"


class RegistryError(RuntimeError):
    """The tracking server or registry cannot answer; the pipeline must stop, not guess."""


def connect(params: Params) -> MlflowClient:
    """Point MLflow at the configured server and fail fast (seconds, not minutes) when it is down."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(params.mlflow.tracking_uri)
    mlflow.set_registry_uri(params.mlflow.tracking_uri)
    return MlflowClient(tracking_uri=params.mlflow.tracking_uri, registry_uri=params.mlflow.tracking_uri)


def _is_absent(error: MlflowException) -> bool:
    return error.error_code == "RESOURCE_DOES_NOT_EXIST" or (
        error.error_code == "INVALID_PARAMETER_VALUE" and "not found" in str(error)
    )


def alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version an alias points to, or None when the model or alias does not exist yet."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as error:
        if _is_absent(error):
            return None
        raise RegistryError(f"cannot read alias {alias!r} of model {model_name!r}: {error}") from error
