"""The gate's metrics for both tasks, on a model's outputs (NumPy only).

Each metric takes `y_true` and `outputs` so the gate can re-score any model through one
interface: for classification int labels (shape n) and class probabilities (n x classes); for
regression the target values (shape n) and the predictions as one column (n x 1). Each is also
defined in the form that lets the bootstrap re-score a thousand resamples at once: a
label-based metric from confusion counts (`from_confusion`, vectorised over leading axes), a
per-row metric as the mean of a per-row value (`per_row`), and a metric of sums (rmse, r2) from
the means of per-row statistics (`row_stats`, then `from_means`, vectorised over leading axes).
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


def _errors(y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    return outputs[:, 0] - y_true


def absolute_error_per_row(y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    return np.abs(_errors(y_true, outputs))


def squared_error_stats(y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    return (_errors(y_true, outputs) ** 2)[:, None]


def rmse_from_means(means: np.ndarray) -> np.ndarray:
    return np.sqrt(means[..., 0])


def r2_stats(y_true: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Squared error, target and squared target: r2 = 1 - SSE / SST with SST = sum(y^2) - n * mean(y)^2.

    The target is centred on its mean over these rows first (SST does not depend on the centre),
    so a target far from 0 loses no precision to the subtraction.
    """
    centred = y_true - y_true.mean()
    return np.stack([_errors(y_true, outputs) ** 2, centred, centred**2], axis=1)


def r2_from_means(means: np.ndarray) -> np.ndarray:
    variance = means[..., 2] - means[..., 1] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return 1 - means[..., 0] / variance  # a constant target has no variance to explain: -inf or nan


@dataclass(frozen=True)
class Metric:
    """A metric is exactly one of: a function of confusion counts, the mean of a per-row value, or
    a function of the means of per-row statistics.

    `reference` is the point a relative margin is measured from (rule.py): 0 for every metric but
    r2, whose relative margin is a share of the unexplained variance 1 - r2.
    """

    name: str
    task: str
    greater_is_better: bool
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None
    per_row: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    row_stats: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
    from_means: Callable[[np.ndarray], np.ndarray] | None = None
    reference: float = 0.0
    best: float = 0.0  # the best value the metric can take

    def compute(self, y_true: np.ndarray, outputs: np.ndarray) -> float:
        if self.from_confusion is not None:
            return float(self.from_confusion(confusion(y_true, outputs.argmax(axis=1), outputs.shape[1])))
        if self.per_row is not None:
            return float(np.mean(self.per_row(y_true, outputs)))
        return float(self.from_means(self.row_stats(y_true, outputs).mean(axis=0)))


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("accuracy", "classification", True, from_confusion=accuracy_from_confusion, best=1.0),
        Metric("balanced_accuracy", "classification", True, from_confusion=balanced_accuracy_from_confusion, best=1.0),
        Metric("f1_macro", "classification", True, from_confusion=f1_macro_from_confusion, best=1.0),
        Metric("log_loss", "classification", False, per_row=log_loss_per_row),
        Metric("rmse", "regression", False, row_stats=squared_error_stats, from_means=rmse_from_means),
        Metric("mae", "regression", False, per_row=absolute_error_per_row),
        Metric("r2", "regression", True, row_stats=r2_stats, from_means=r2_from_means, reference=1.0, best=1.0),
    )
}
TASKS = ("classification", "regression")


def task_metrics(task: str) -> list[str]:
    """The metrics that fit a task, the default (first) first."""
    return [name for name, metric in METRICS.items() if metric.task == task]


def score_all(y_true: np.ndarray, outputs: np.ndarray, task: str = "classification") -> dict[str, float]:
    """Every metric of the task, for logging."""
    return {name: METRICS[name].compute(y_true, outputs) for name in task_metrics(task)}
