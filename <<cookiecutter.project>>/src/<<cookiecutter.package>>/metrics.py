"""Classification metrics on label indices and class probabilities (NumPy only).

Each metric takes `y_true` (int labels, shape n) and `proba` (shape n x classes) so the gate
can re-score any model through one interface. Each is also defined in the form that lets the
bootstrap re-score a thousand resamples at once: a label-based metric from confusion counts
(`from_confusion`, vectorised over leading axes), a per-row metric as the mean of a per-row
value (`per_row`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_EPS = 1e-15


def confusion(y_true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts[true, predicted] of a set of rows."""
    cells = np.bincount(y_true * n_classes + predicted, minlength=n_classes * n_classes)
    return cells.reshape(n_classes, n_classes)


def _true_totals(counts: np.ndarray) -> np.ndarray:
    return counts.sum(axis=-1)


def accuracy_from_confusion(counts: np.ndarray) -> np.ndarray:
    return np.trace(counts, axis1=-2, axis2=-1) / counts.sum(axis=(-2, -1))


def balanced_accuracy_from_confusion(counts: np.ndarray) -> np.ndarray:
    """Mean recall over the classes present among the true labels."""
    totals = _true_totals(counts)
    hits = np.diagonal(counts, axis1=-2, axis2=-1)
    present = totals > 0
    recalls = np.divide(hits, totals, out=np.zeros(hits.shape), where=present)
    return recalls.sum(axis=-1) / present.sum(axis=-1)


def f1_macro_from_confusion(counts: np.ndarray) -> np.ndarray:
    """Mean F1 over the classes that are true or predicted at least once."""
    denominator = counts.sum(axis=-2) + _true_totals(counts)
    hits = np.diagonal(counts, axis1=-2, axis2=-1)
    present = denominator > 0
    scores = np.divide(2 * hits, denominator, out=np.zeros(hits.shape), where=present)
    return scores.sum(axis=-1) / present.sum(axis=-1)


def log_loss_per_row(y_true: np.ndarray, proba: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(proba[np.arange(len(y_true)), y_true], _EPS, 1.0))


@dataclass(frozen=True)
class Metric:
    """A metric is exactly one of: a function of confusion counts, or the mean of a per-row value."""

    name: str
    greater_is_better: bool
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None
    per_row: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None

    def compute(self, y_true: np.ndarray, proba: np.ndarray) -> float:
        if self.from_confusion is not None:
            return float(self.from_confusion(confusion(y_true, proba.argmax(axis=1), proba.shape[1])))
        return float(np.mean(self.per_row(y_true, proba)))


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("accuracy", True, from_confusion=accuracy_from_confusion),
        Metric("balanced_accuracy", True, from_confusion=balanced_accuracy_from_confusion),
        Metric("f1_macro", True, from_confusion=f1_macro_from_confusion),
        Metric("log_loss", False, per_row=log_loss_per_row),
    )
}


def score_all(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every known metric, for logging."""
    return {name: metric.compute(y_true, proba) for name, metric in METRICS.items()}
