"""The trained bundle logged to MLflow: its data files (the part the pipeline reads) plus a
pyfunc wrapper with the package's source, for teams that serve with `mlflow models serve`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import torch
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo

from << cookiecutter.package >>.digest import bundle_digest
from << cookiecutter.package >>.paths import REGISTERED_BUNDLE
from << cookiecutter.package >>.training.model import ModelBundle

PROBA_PREFIX = "proba_"
PACKAGE_DIR = Path(__file__).resolve().parents[1]
BUNDLE_KEY = Path(REGISTERED_BUNDLE).name  # MLflow keeps artifact "bundle" under artifacts/bundle


class TabularPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts a class label and one probability column per class, or a number (regression)."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.bundle = ModelBundle.load(Path(context.artifacts[BUNDLE_KEY]))

    def predict(self, context: object, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return predictions_frame(self.bundle, model_input)


def predictions_frame(bundle: ModelBundle, features: pd.DataFrame) -> pd.DataFrame:
    """Classification: the label and one probability column per class; regression: the prediction."""
    if bundle.task == "regression":
        return pd.DataFrame({"prediction": bundle.predict_outputs(features)[:, 0].astype(np.float64)})
    proba = bundle.predict_outputs(features)
    frame = pd.DataFrame(proba, columns=[f"{PROBA_PREFIX}{name}" for name in bundle.classes])
    frame.insert(0, "prediction", np.asarray(bundle.classes, dtype=object)[proba.argmax(axis=1)])
    return frame


def pip_requirements() -> list[str]:
    """Pinned runtime requirements (explicit: MLflow's inference imports the model in a subprocess)."""
    return [
        f"mlflow=={mlflow.__version__}",
        f"torch=={torch.__version__.split('+')[0]}",
        f"pandas=={pd.__version__}",
        f"numpy=={np.__version__}",
    ]


def log_bundle(bundle: ModelBundle, input_example: pd.DataFrame, registered_name: str) -> tuple[ModelInfo, str]:
    """Log the model (signature + input example) in the active run and register a new version;
    return it with the digest of the bundle files it holds (see digest.py)."""
    signature: ModelSignature = infer_signature(input_example, predictions_frame(bundle, input_example))
    with tempfile.TemporaryDirectory() as scratch:
        bundle.save(Path(scratch) / BUNDLE_KEY)
        digest = bundle_digest(Path(scratch) / BUNDLE_KEY)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
            artifacts={BUNDLE_KEY: str(Path(scratch) / BUNDLE_KEY)},
            code_paths=[str(PACKAGE_DIR)],
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements(),
            registered_model_name=registered_name,
        )
    return info, digest
