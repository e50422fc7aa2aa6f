"""What the pipeline reads from the model registry, with "absent" told apart from "broken".

A missing champion is a normal state (first model: compare with the naive baseline); an
unreachable server is not, and must reach the caller as an error so the gate fails closed.
A version is read as data only: its served bundle (ONNX graph, preprocessor, metadata), loaded
by ONNX Runtime, and checked against the digest recorded when it was registered.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_TRACKING_USERNAME
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.digest import DIGEST_TAG, bundle_digest
from << cookiecutter.package >>.paths import BUNDLE_FILES, SIGNATURE_SUFFIX
from << cookiecutter.package >>.tracking import is_absent

if TYPE_CHECKING:
    from << cookiecutter.package >>.serving.runtime import ServedModel

CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous-champion"


class RegistryError(RuntimeError):
    """The tracking server or registry cannot answer; the pipeline must stop, not guess."""


class DigestMismatch(RegistryError):
    """A version's files are not the ones recorded for it: they changed after training."""


def is_denied(error: MlflowException) -> bool:
    """The server refused the credential (403)."""
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
    """The served bundle of a registered version, fetched file by file into `destination`.

    Each file is fetched by its name: nothing depends on an artifact listing, and nothing but
    the bundle's data files is fetched (a version holds no code, and none would be run).
    """
    try:
        source = client.get_model_version_download_uri(model_name, version)
        for name in BUNDLE_FILES:
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"{source.rstrip('/')}/{name}", dst_path=str(destination), tracking_uri=client.tracking_uri
            )
    except MlflowException as error:
        raise RegistryError(
            f"cannot download the served bundle of {model_name!r} version {version} ({', '.join(BUNDLE_FILES)}): "
            f"{error}. A version registered before served bundles holds torch files only: for the champion, "
            "run `make migrate-champion` once (production credential)"
        ) from error
    return destination


def download_signature(client: MlflowClient, model_name: str, version: str, destination: Path) -> Path:
    """A production version's signature: promotion stores it beside the bundle (`<source>.sig`)."""
    source = client.get_model_version_download_uri(model_name, version).rstrip("/")
    try:
        with tempfile.TemporaryDirectory() as scratch:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{source}{SIGNATURE_SUFFIX}", dst_path=scratch, tracking_uri=client.tracking_uri
            )
            shutil.copyfile(local, destination)
    except MlflowException as error:
        raise RegistryError(f"{model_name!r} version {version} has no signature beside its bundle: {error}") from error
    return destination


@dataclass(frozen=True)
class FetchedBundle:
    """A registered version's served bundle on local disk, with the digest of exactly those files."""

    directory: Path
    digest: str


@contextmanager
def fetched_bundle(client: MlflowClient, model_name: str, version: str) -> Iterator[FetchedBundle]:
    """Download and digest a version's bundle for the length of the block; refuse files that
    differ from the digest recorded on the version (they changed after registration)."""
    recorded = (client.get_model_version(model_name, version).tags or {}).get(DIGEST_TAG)
    with tempfile.TemporaryDirectory() as scratch:
        local = download_bundle(client, model_name, version, Path(scratch))
        digest = bundle_digest(local)
        if recorded is not None and digest != recorded:
            raise DigestMismatch(
                f"{model_name!r} version {version} was registered as {recorded} but its files now give {digest}: "
                "its artifacts changed after registration; nothing done"
            )
        yield FetchedBundle(local, digest)


def fetch_served(client: MlflowClient, model_name: str, version: str) -> tuple[ServedModel, str]:
    """A version loaded into the serving runtime (ONNX Runtime, no torch), and its digest."""
    from << cookiecutter.package >>.serving.runtime import ServedModel  # ONNX Runtime only where a model is scored

    with fetched_bundle(client, model_name, version) as bundle:
        return ServedModel.load(bundle.directory), bundle.digest
