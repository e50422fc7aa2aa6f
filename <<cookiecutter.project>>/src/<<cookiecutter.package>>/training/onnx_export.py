"""The served bundle, made at training: the network and its task head as an ONNX graph, the
preprocessor and the model's metadata, checked against torch before anything is registered.

Exactly these files are what a version holds, what the gate scores with ONNX Runtime, what the
image copies and what the server loads, so no later stage converts (or re-runs torch on) a model.
The bundle is refused unless ONNX Runtime reproduces the torch outputs on the evaluation rows:
max absolute difference <= PARITY_TOLERANCE, of probabilities, or for regression of predictions
in standard deviations of the training target (in target units float32 rounding alone is about
1e-7 of the value).
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from << cookiecutter.package >>.paths import METADATA_FILE, MODEL_FILE, PREPROCESSOR_FILE
from << cookiecutter.package >>.serving.runtime import INPUT_NAME, OUTPUT_NAMES, ServedModel
from << cookiecutter.package >>.training.model import ModelBundle

PARITY_TOLERANCE = 1e-5


class ExportError(RuntimeError):
    """The model cannot be exported, or the export does not predict what the model predicts."""


def export_bundle(bundle: ModelBundle, directory: Path, metadata: dict[str, Any]) -> Path:
    """Write the served bundle of `bundle` into a fresh `directory` (any previous content goes)."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    bundle.network.to("cpu")
    module = bundle.head().eval()  # what `ModelBundle.predict_outputs` computes
    example = torch.zeros(2, bundle.preprocessor.width)
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    exporter_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():  # the exporter's chatter is about torch internals, not this model
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAMES[bundle.task]],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                verbose=False,
            )
    finally:
        exporter_log.setLevel(level)
    program.save(str(directory / MODEL_FILE))
    (directory / PREPROCESSOR_FILE).write_text(bundle.preprocessor.to_json())
    (directory / METADATA_FILE).write_text(
        json.dumps({**metadata, "task": bundle.task, "classes": bundle.classes}, indent=2) + "\n"
    )
    return directory


def parity(bundle: ModelBundle, directory: Path, features: Any) -> float:
    """Max absolute difference between torch's and ONNX Runtime's outputs on `features`: of
    probabilities, or of predictions in standard deviations of the training target."""
    expected = bundle.predict_outputs(features)
    actual = ServedModel.load(directory).predict_outputs(features)
    scale = bundle.target[1] if bundle.task == "regression" else 1.0
    return float(abs(expected - actual).max() / scale)


def checked_bundle(bundle: ModelBundle, directory: Path, metadata: dict[str, Any], features: Any) -> float:
    """Export and parity-check on `features`; return the difference, or raise ExportError."""
    export_bundle(bundle, directory, metadata)
    difference = parity(bundle, directory, features)
    unit = "prediction difference| / target std" if bundle.task == "regression" else "probability difference|"
    print(f"ONNX Runtime vs torch on {len(features)} rows: max |{unit} = {difference:.2e}")
    if not difference <= PARITY_TOLERANCE:
        raise ExportError(
            f"ONNX Runtime differs from torch by {difference:.2e} (> {PARITY_TOLERANCE}): nothing registered"
        )
    return difference
