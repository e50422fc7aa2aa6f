"""Classification metrics on label indices and class probabilities (NumPy only).

Each metric takes `y_true` (int labels, shape n) and `proba` (shape n x classes) so the gate
can re-score any model, and the bootstrap can re-score any resample, through one interface.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_EPS = 1e-15


def accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    return float(np.mean(proba.argmax(axis=1) == y_true))


def balanced_accuracy(y_true: np.ndarray, proba: np.ndarray) -> float:
    predicted = proba.argmax(axis=1)
    recalls = [np.mean(predicted[y_true == label] == label) for label in np.unique(y_true)]
    return float(np.mean(recalls))


def f1_macro(y_true: np.ndarray, proba: np.ndarray) -> float:
    predicted = proba.argmax(axis=1)
    scores = []
    for label in range(proba.shape[1]):
        true_positive = np.sum((predicted == label) & (y_true == label))
        denominator = np.sum(predicted == label) + np.sum(y_true == label)
        if denominator:
            scores.append(2 * true_positive / denominator)
    return float(np.mean(scores))


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    picked = np.clip(proba[np.arange(len(y_true)), y_true], _EPS, 1.0)
    return float(-np.mean(np.log(picked)))


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[[np.ndarray, np.ndarray], float]
    greater_is_better: bool


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("accuracy", accuracy, True),
        Metric("balanced_accuracy", balanced_accuracy, True),
        Metric("f1_macro", f1_macro, True),
        Metric("log_loss", log_loss, False),
    )
}


def score_all(y_true: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every known metric, for logging."""
    return {name: metric.compute(y_true, proba) for name, metric in METRICS.items()}
