"""What the pipeline reads from the model registry, with "absent" told apart from "broken".

A missing champion is a normal state (first model: compare with the naive baseline); an
unreachable server is not, and must reach the caller as an error so the gate fails closed.
A version is read as data only: its bundle's files, loaded by this checkout's code, and
checked against the digest recorded when it was trained.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_TRACKING_USERNAME
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.digest import DIGEST_TAG, bundle_digest
from << cookiecutter.package >>.paths import REGISTERED_BUNDLE

if TYPE_CHECKING:
    from << cookiecutter.package >>.training.model import ModelBundle

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"


class RegistryError(RuntimeError):
    """The tracking server or registry cannot answer; the pipeline must stop, not guess."""


class DigestMismatch(RegistryError):
    """A version's files are not the ones recorded for it: they changed after training."""


def is_absent(error: MlflowException) -> bool:
    return error.error_code == "RESOURCE_DOES_NOT_EXIST" or (
        error.error_code == "INVALID_PARAMETER_VALUE" and "not found" in str(error)
    )


def is_denied(error: MlflowException) -> bool:
    return error.error_code == "PERMISSION_DENIED"


def access_denied(model_name: str, grant: str, grantee: str | None = None) -> RegistryError:
    """The error for a 403 on a registered model, naming the grant that would answer it.

    A server whose default permission is NO_PERMISSIONS answers 403, not 404, for a model that
    does not exist (it will not tell a user which names exist), so the message covers both.
    """
    user = repr(MLFLOW_TRACKING_USERNAME.get() or "(MLFLOW_TRACKING_USERNAME unset)")
    return RegistryError(
        f"the MLflow user {user} lacks {grant} on registered model {model_name!r} (403). With default_permission "
        "NO_PERMISSIONS the server also answers 403 for a model that does not exist: the MLflow admin creates "
        f"it and grants {grant} on it to {grantee or user} "
        "(the template's docs/trust-model.md, MLflow set-up)"
    )


def alias_version(client: MlflowClient, model_name: str, alias: str) -> str | None:
    """The version an alias points to, or None when the model or alias does not exist yet."""
    try:
        return str(client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as error:
        if is_absent(error):
            return None
        if is_denied(error):
            raise access_denied(model_name, "READ") from error
        raise RegistryError(f"cannot read alias {alias!r} of model {model_name!r}: {error}") from error


def download_bundle(client: MlflowClient, model_name: str, version: str, destination: Path) -> Path:
    """The data files of a registered version's bundle (weights, architecture, preprocessor).

    Only data is fetched: the pyfunc code logged beside it is never imported, so whoever can
    write a version's artifacts cannot run code in the jobs that gate, promote or export it.
    Versions logged by earlier layouts of this package keep the same files and load the same way.
    """
    uri = f"models:/{model_name}/{version}/{REGISTERED_BUNDLE}"
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(destination), tracking_uri=client.tracking_uri
        )
    except MlflowException as error:
        raise RegistryError(f"cannot download the bundle of {model_name!r} version {version}: {error}") from error
    return Path(local)


@dataclass(frozen=True)
class FetchedModel:
    """A registered version loaded from its data files, with the digest of exactly those files."""

    bundle: ModelBundle
    digest: str
    recorded_digest: str | None  # the DIGEST_TAG of the version; None for versions from before digests


def fetch_model(client: MlflowClient, model_name: str, version: str, require_digest: bool = True) -> FetchedModel:
    """Download, digest and load a version (see `download_bundle`); refuse files that differ from
    the recorded digest, and (unless `require_digest` is False) a version that records none."""
    from << cookiecutter.package >>.training.model import ModelBundle  # torch only where a model is loaded

    recorded = (client.get_model_version(model_name, version).tags or {}).get(DIGEST_TAG)
    if recorded is None and require_digest:
        raise DigestMismatch(
            f"{model_name!r} version {version} records no {DIGEST_TAG} tag: register it with `make train`"
        )
    with tempfile.TemporaryDirectory() as scratch:
        local = download_bundle(client, model_name, version, Path(scratch))
        digest = bundle_digest(local)
        if recorded is not None and digest != recorded:
            raise DigestMismatch(
                f"{model_name!r} version {version} was trained as {recorded} but its files now give {digest}: "
                "its artifacts changed after registration; nothing done"
            )
        return FetchedModel(ModelBundle.load(local), digest, recorded)
