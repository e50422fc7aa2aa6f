"""A trained model into the registry: the served bundle as the candidate version's files.

The run keeps two artifact folders: `served/` (the bundle the server runs, parity-checked
against torch) and `torch/` (weights, architecture, preprocessor: for resuming and fine-tuning
only). The version registers `served/` and nothing else, so the bytes the gate scores are the
bytes that ship; no Python is logged, so nothing in the registry is ever executed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient

from << cookiecutter.package >>.digest import DIGEST_TAG, bundle_digest
from << cookiecutter.package >>.paths import SERVED_ARTIFACT, TORCH_ARTIFACT
from << cookiecutter.package >>.tracking import ensure_registered_model
from << cookiecutter.package >>.training.model import ModelBundle
from << cookiecutter.package >>.training.onnx_export import checked_bundle


@dataclass(frozen=True)
class Registered:
    version: str
    digest: str
    parity: float


def register_bundle(bundle: ModelBundle, features: Any, registered_name: str, tags: dict[str, str]) -> Registered:
    """Export the served bundle, check it against torch on `features`, log both artifact folders
    in the active run and register `served/` as a new version of `registered_name`."""
    run = mlflow.active_run()
    client = MlflowClient()
    with tempfile.TemporaryDirectory() as scratch:
        served, weights = Path(scratch) / SERVED_ARTIFACT, Path(scratch) / TORCH_ARTIFACT
        difference = checked_bundle(bundle, served, {}, features)  # no run id: equal training, equal bytes
        digest = bundle_digest(served)
        bundle.save(weights)
        mlflow.log_artifacts(str(served), SERVED_ARTIFACT)
        mlflow.log_artifacts(str(weights), TORCH_ARTIFACT)
    mlflow.log_metric("export_parity", difference)
    ensure_registered_model(client, registered_name)
    version = client.create_model_version(
        registered_name,
        source=f"{run.info.artifact_uri}/{SERVED_ARTIFACT}",
        run_id=run.info.run_id,
        tags={**tags, DIGEST_TAG: digest},
    )
    return Registered(str(version.version), digest, difference)
