"""The serving runtime: an exported model (ONNX graph + preprocessor + metadata, written by
`packaging/export.py`) behind one `predict` call that checks its input first.

Imports NumPy and ONNX Runtime only, because the serving image has neither torch nor MLflow
nor pandas. Every way a request can be wrong raises `InvalidInput`, whose errors name the
record and the field; the HTTP layer (`app.py`) turns it into a 422.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from << cookiecutter.package >>.paths import METADATA_FILE, MODEL_FILE, PREPROCESSOR_FILE, release_file
from << cookiecutter.package >>.preprocessing import Preprocessor

INPUT_NAME = "features"
OUTPUT_NAMES = {"classification": "probabilities", "regression": "predictions"}  # the ONNX output, by task
MAX_RECORDS = 1000  # per request: bounds the memory and time one request can take
MAX_ERRORS = 20  # per response: enough to fix a payload, short enough to read
EXTRA_FIELDS = 8  # unknown fields one record may carry before it is refused whole, unchecked


class InvalidInput(ValueError):
    """The request does not match the model's inputs; `errors` say where and why."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(_describe(error) for error in errors))
        self.errors = errors


def _describe(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in ("records", error.get("record"), error.get("field")) if part is not None)
    return f"{where}: {error['message']}"


def _error(message: str, record: int | None = None, field: str | None = None) -> dict[str, Any]:
    return {"record": record, "field": field, "message": message}


def _show(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _check_number(value: object) -> str | None:
    # abs() first: math.isfinite overflows on integers beyond float range (e.g. 10**400)
    if value is None or (type(value) in (int, float) and abs(value) <= sys.float_info.max and math.isfinite(value)):
        return None
    return f"expected a finite number or null, got {_show(value)}"


def _check_category(value: object) -> str | None:
    if value is None or isinstance(value, str | bool):
        return None
    return f"expected a string or null, got {_show(value)}"


def _records(payload: object) -> list:
    """A JSON list of records, or MLflow's scoring format {"dataframe_records": [...]}."""
    if isinstance(payload, dict) and set(payload) == {"dataframe_records"}:
        payload = payload["dataframe_records"]
    if not isinstance(payload, list) or not payload:
        raise InvalidInput([_error('expected a non-empty JSON list of records, or {"dataframe_records": [...]}')])
    if len(payload) > MAX_RECORDS:
        raise InvalidInput([_error(f"{len(payload)} records in one request; the limit is {MAX_RECORDS}")])
    return payload


@dataclass(frozen=True)
class ServedModel:
    session: ort.InferenceSession
    preprocessor: Preprocessor
    metadata: dict[str, Any]  # the bundle's own: task, classes, training run
    release: dict[str, Any]  # beside the bundle when exported from the registry: name, version, digest

    @classmethod
    def load(cls, directory: Path) -> ServedModel:
        """One inference thread: single-row requests are latency-bound, and threads would fight
        the event loop and the other replicas for cores."""
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"])
        preprocessor = Preprocessor.from_json((directory / PREPROCESSOR_FILE).read_text())
        release = release_file(directory)
        identity = json.loads(release.read_text()) if release.is_file() else {}
        return cls(session, preprocessor, json.loads((directory / METADATA_FILE).read_text()), identity)

    @property
    def classes(self) -> list[str]:
        return self.metadata["classes"]

    @property
    def task(self) -> str:
        return self.metadata["task"]

    @property
    def name(self) -> str:
        return self.release.get("model_name", "unregistered")

    @property
    def version(self) -> str:
        return str(self.release.get("model_version", "unregistered"))

    def predict_outputs(self, features: Any) -> np.ndarray:
        """For a DataFrame or a {column: values} mapping: class probabilities (columns in `classes`
        order), or for regression the predictions in target units (one column)."""
        return self.outputs_of(self.preprocessor.transform(features))

    def outputs_of(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs for rows this model's preprocessor (or an equal one) transformed."""
        return self.session.run([OUTPUT_NAMES[self.task]], {INPUT_NAME: inputs})[0]

    @cached_property
    def schema(self) -> dict[str, Callable[[object], str | None]]:
        """The model's inputs, each with the check of one value: the preprocessor's columns."""
        checks = {column: _check_number for column in self.preprocessor.numeric}
        return checks | {column: _check_category for column in self.preprocessor.categorical}

    def columns(self, payload: object) -> dict[str, list]:
        """The request as {column: values}, or InvalidInput naming the first MAX_ERRORS bad records
        and fields plus a count of the rest: the response stays short whatever the payload."""
        records = _records(payload)
        problems = (error for index, record in enumerate(records) for error in self._record_errors(index, record))
        errors = list(islice(problems, MAX_ERRORS))
        hidden = sum(1 for _ in problems)
        if hidden:
            errors.append(_error(f"{hidden} more errors not shown"))
        if errors:
            raise InvalidInput(errors)
        return {column: [record[column] for record in records] for column in self.preprocessor.columns}

    def _record_errors(self, index: int, record: object) -> Iterator[dict[str, Any]]:
        """The errors of one record, lazily. A record with far more fields than the model takes
        is one error, so a record of 400,000 unknown keys costs one check instead of 400,000."""
        checks = self.schema
        if not isinstance(record, dict):
            yield _error(f"expected an object of features, got {_show(record)}", index)
            return
        if len(record) > len(checks) + EXTRA_FIELDS:
            yield _error(f"{len(record)} fields; the model takes {len(checks)}", index)
            return
        yield from (_error("required field is missing", index, column) for column in checks if column not in record)
        yield from (_error("unknown field", index, column) for column in record if column not in checks)
        for column, check in checks.items():
            problem = check(record.get(column))
            if problem:
                yield _error(problem, index, column)

    def predict_columns(self, columns: dict[str, list]) -> dict[str, Any]:
        """Labels and probabilities (or, for regression, numbers) for an already checked batch ({column: values})."""
        proba = self.predict_outputs(columns)
        if self.task == "regression":
            return {
                "model_name": self.name,
                "model_version": self.version,
                "predictions": proba[:, 0].astype(float).tolist(),
            }
        return {
            "model_name": self.name,
            "model_version": self.version,
            "classes": self.classes,
            "predictions": [self.classes[index] for index in proba.argmax(axis=1)],
            "probabilities": proba.tolist(),
        }
