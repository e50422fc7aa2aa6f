"""The gate's one pass over the data: read, split, hash and score, a batch of rows at a time.

Both models are served bundles scored by ONNX Runtime, exactly as the server will run them.

Each part of the table (a Parquet row group, at most `BATCH_ROWS` rows) is split, its evaluation
rows are hashed and scored by both models, and its features are dropped: memory holds the
labels and the two models' class probabilities, never the evaluation set's features. The
seconds each phase took are kept, so the gate report shows what a large evaluation set costs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from << cookiecutter.package >>.config import DataParams
from << cookiecutter.package >>.data import (
    TableDigest,
    check_split,
    class_names,
    eval_mask,
    features_of,
    iter_table,
    label_indices,
)

if TYPE_CHECKING:
    from << cookiecutter.package >>.serving.runtime import ServedModel

BATCH_ROWS = 2**17


@dataclass
class Stopwatch:
    """Seconds per phase, summed over every time the phase runs."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started


@dataclass(frozen=True)
class Scored:
    """Both models' outputs on the evaluation set: class probabilities with columns in the order
    of `classes`, or (regression, no classes) predictions as one column."""

    labels: np.ndarray
    classes: list[str]
    candidate_proba: np.ndarray
    baseline_proba: np.ndarray
    eval_hash: str
    rows_read: int


def score_eval_set(
    params: DataParams,
    candidate: ServedModel,
    champion: ServedModel | None,
    stopwatch: Stopwatch,
    batch_rows: int = BATCH_ROWS,
    metric: str = "",
) -> Scored:
    """Score the candidate and the champion (or, without one, the naive baseline for `metric`)."""
    digest = TableDigest()
    targets, masks, candidate_parts, champion_parts = [], [], [], []
    # Models trained on the same data have equal preprocessors: transform each batch once for both.
    shared = champion is not None and champion.preprocessor == candidate.preprocessor
    parts = iter_table(params.path, batch_rows, params.na_values)
    while True:
        with stopwatch.phase("read"):
            part = next(parts, None)
            if part is None:
                break
            mask = eval_mask(part, params.eval_fraction, params.split_seed)
            evaluation = part[mask]
            digest.update(evaluation)
            targets.append(part[params.target])
            masks.append(mask)
            features = features_of(evaluation, params)
        with stopwatch.phase("score_candidate"):
            inputs = candidate.preprocessor.transform(features)
            candidate_parts.append(candidate.outputs_of(inputs))
        if champion is not None:
            with stopwatch.phase("score_baseline"):
                own_inputs = inputs if shared else champion.preprocessor.transform(features)
                champion_parts.append(champion.outputs_of(own_inputs))

    with stopwatch.phase("read"):
        target, mask = pd.concat(targets, ignore_index=True), np.concatenate(masks)
        classes = class_names(target.to_frame(), params)  # the whole table's labels, as training saw them
        check_split(int((~mask).sum()), int(mask.sum()))
        labels = label_indices(target, params, classes)
    with stopwatch.phase("score_candidate"):
        candidate_proba = _aligned(np.concatenate(candidate_parts), candidate.classes, classes)
    with stopwatch.phase("score_baseline"):
        if champion is not None:
            baseline_proba = _aligned(np.concatenate(champion_parts), champion.classes, classes)
        else:
            baseline_proba = naive_outputs(labels[~mask], classes, int(mask.sum()), params.task, metric)
    return Scored(labels[mask], classes, candidate_proba, baseline_proba, digest.hexdigest(), len(mask))


def naive_outputs(train_labels: np.ndarray, classes: list[str], n_rows: int, task: str, metric: str) -> np.ndarray:
    """The naive baseline, from the training split only. Classification: the class priors
    (majority-class predictions, calibrated probabilities). Regression: the training mean, or the
    training median when the metric is mae (the constant that minimises absolute error)."""
    if task == "regression":
        constant = np.median(train_labels) if metric == "mae" else np.mean(train_labels)
        return np.full((n_rows, 1), constant, dtype=np.float64)
    priors = np.bincount(train_labels, minlength=len(classes)) / len(train_labels)
    return np.tile(priors, (n_rows, 1))


def _aligned(proba: np.ndarray, model_classes: list[str], classes: list[str]) -> np.ndarray:
    """Class probabilities with columns in the order of `classes`; a regression model's
    predictions (no classes) as they are.

    A class the model never saw gets probability 0, so models trained on different label
    sets are still compared on the same columns.
    """
    if not classes:
        return proba
    column = {label: position for position, label in enumerate(model_classes)}
    aligned = np.zeros((len(proba), len(classes)))
    for position, label in enumerate(classes):
        if label in column:
            aligned[:, position] = proba[:, column[label]]
    return aligned
