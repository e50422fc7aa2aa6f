"""The trained bundle as an MLflow pyfunc model: logged with its own source code, so any
process with the runtime dependencies (gate, server, image) can load it without installing
this project.
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

from << cookiecutter.package >>.model import ModelBundle

PROBA_PREFIX = "proba_"
PACKAGE_DIR = Path(__file__).resolve().parent


class TabularPyfunc(mlflow.pyfunc.PythonModel):
    """Predicts a class label and one probability column per class."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        self.bundle = ModelBundle.load(Path(context.artifacts["bundle"]))

    def predict(self, context: object, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        return predictions_frame(self.bundle, model_input)


def predictions_frame(bundle: ModelBundle, features: pd.DataFrame) -> pd.DataFrame:
    proba = bundle.predict_proba(features)
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


def log_bundle(bundle: ModelBundle, input_example: pd.DataFrame, registered_name: str) -> ModelInfo:
    """Log the model (signature + input example) in the active run and register a new version."""
    signature: ModelSignature = infer_signature(input_example, predictions_frame(bundle, input_example))
    with tempfile.TemporaryDirectory() as scratch:
        bundle.save(Path(scratch) / "bundle")
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(PACKAGE_DIR / "pyfunc_entry.py"),
            artifacts={"bundle": str(Path(scratch) / "bundle")},
            code_paths=[str(PACKAGE_DIR)],
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements(),
            registered_model_name=registered_name,
        )


def predict_proba(model_uri: str, features: pd.DataFrame, classes: list[str]) -> np.ndarray:
    """Class probabilities of a registered model, columns in the order of `classes`.

    A class the model never saw gets probability 0, so models trained on different label
    sets are still compared on the same columns.
    """
    predictions = mlflow.pyfunc.load_model(model_uri).predict(features)
    columns = [f"{PROBA_PREFIX}{name}" for name in classes]
    return predictions.reindex(columns=columns, fill_value=0.0).to_numpy(dtype=np.float64)
