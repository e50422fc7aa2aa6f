"""`make export`: a registered model version as the serving runtime's files, checked against torch.

Writes `model.onnx` (network + the task's head: softmax, or the regression target's
de-standardisation), `preprocessor.json` and `metadata.json` (name, version, run id, model
digest, task, classes) into one directory, the model part of the image's
build context; the image is then immutable per model version. The version is read from its
bundle's data files with this checkout's code, after checking them against the digest
recorded at training, and the export is refused unless ONNX Runtime reproduces the torch
outputs on the project's data: max absolute difference <= PARITY_TOLERANCE, for regression
measured in standard deviations of the training target (predictions are in target units, where
float32 rounding alone is about 1e-7 of the value).
"""

from __future__ import annotations

import json
import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.data import class_names, read_table, to_dataset
from << cookiecutter.package >>.paths import METADATA_FILE, MODEL_DIR, MODEL_FILE, PREPROCESSOR_FILE
from << cookiecutter.package >>.promotion.registry import CHAMPION, alias_version, fetch_model
from << cookiecutter.package >>.serving.runtime import INPUT_NAME, OUTPUT_NAMES, ServedModel
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training.model import ModelBundle

PARITY_TOLERANCE = 1e-5


class ExportError(RuntimeError):
    """The model cannot be exported, or the export does not predict what the model predicts."""


def export_bundle(bundle: ModelBundle, directory: Path, metadata: dict[str, Any]) -> Path:
    """Write the serving files of `bundle` into a fresh `directory` (any previous content goes)."""
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


def export_model(
    params: Params, version: str | None = None, candidate: str | None = None, directory: Path = MODEL_DIR
) -> None:
    """Export a version into `directory`: `version` of the production model (default: its
    champion), or `candidate`, a version of the candidates model (CI stages its image before
    promotion). The files must match the digest recorded at training."""
    client = connect(params)
    if candidate:
        name, version = params.model.candidates, candidate
    else:
        name = params.model.name
        version = version or alias_version(client, name, CHAMPION)
    if version is None:
        raise ExportError(f"model {name!r} has no {CHAMPION!r}: run `make promote` first, or pass MODEL_VERSION=")
    registered = client.get_model_version(name, version)
    # Production versions promoted before digests were recorded carry none; candidates always do.
    model = fetch_model(client, name, version, require_digest=bool(candidate))
    if model.recorded_digest is None:
        print(
            f"warning: {name} version {version} records no digest (registered before digests); exporting {model.digest}"
        )
    bundle = model.bundle
    metadata = {
        "model_name": name,
        "model_version": str(version),
        # The candidates version this model was trained as: the number in its image tag, the
        # same before and after promotion (production versions were copied from one).
        "candidate_version": str(version) if candidate else (registered.tags or {}).get("source.version"),
        "run_id": registered.run_id,
        "model_digest": model.digest,
    }
    frame = read_table(params.data.path)
    features = to_dataset(frame, params.data, class_names(frame, params.data)).features
    # Build beside the target and swap in only after the parity check: whatever fails on the
    # way, `make image` never finds a half-written or unchecked model in `directory`.
    staging = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        export_bundle(bundle, staging, metadata)
        difference = parity(bundle, staging, features)
        unit = "prediction difference| / target std" if bundle.task == "regression" else "probability difference|"
        print(f"ONNX vs torch on {len(features)} rows: max |{unit} = {difference:.2e}")
        if not difference <= PARITY_TOLERANCE:
            raise ExportError(f"ONNX Runtime differs from torch by {difference:.2e} (> {PARITY_TOLERANCE})")
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"exported {name} version {version} ({model.digest}, run {registered.run_id}) to {directory}")
