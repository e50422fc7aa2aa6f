"""The paired bootstrap of the improvement, at a cost that does not grow with the rows.

Resampling n rows with replacement is the same as drawing, for each group of rows, how many
times the resample picks one of them: a multinomial over the groups' sizes. A label-based
metric sees a row only through its cell (true class, baseline prediction, candidate
prediction), so drawing the cell counts is exactly resampling the rows, at a cost set by the
number of classes. A per-row metric's improvement is the mean of a per-row difference; rows
are grouped in bins 1/200 of that difference's standard deviation wide, each bin standing for
its rows' mean: the error this adds to a resampled mean has a standard deviation under 1/200
of the resampled mean's own, well inside the Monte-Carlo error of the interval. A metric of
sums (rmse = sqrt(mean squared error), r2 = 1 - SSE / SST) is recomputed on each resample from
resampled means of its per-row statistics, for both models; its rows are binned the same way,
on the linearised per-row difference (the statistics weighted by the metric difference's
gradient at the full set's means), each bin standing for its rows' mean statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from << cookiecutter.package >>.metrics import Metric

_BINS_PER_SD = 200
_BLOCK_CELLS = 2**22  # resampled counts held at once (32 MiB)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def paired_bootstrap(
    metric: Metric,
    labels: np.ndarray,
    candidate_proba: np.ndarray,
    baseline_proba: np.ndarray,
    samples: int,
    confidence: float,
    seed: int,
) -> Interval:
    """Percentile CI of the improvement (candidate over baseline, positive = better).

    Both models are re-scored on the same resampled rows, so the interval reflects the
    difference between them, not the noise of either alone.
    """
    rng = np.random.default_rng(seed)
    if metric.from_confusion is not None:
        improvements = _label_improvements(metric, labels, candidate_proba, baseline_proba, samples, rng)
    elif metric.per_row is not None:
        improvements = _per_row_improvements(metric, labels, candidate_proba, baseline_proba, samples, rng)
    else:
        improvements = _stats_improvements(metric, labels, candidate_proba, baseline_proba, samples, rng)
    if not metric.greater_is_better:
        improvements = -improvements
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(improvements, [tail, 100 - tail])
    return Interval(float(low), float(high))


def _label_improvements(
    metric: Metric,
    labels: np.ndarray,
    candidate_proba: np.ndarray,
    baseline_proba: np.ndarray,
    samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Metric differences on resampled (true, baseline, candidate) cell counts."""
    classes = candidate_proba.shape[1]
    cells = (labels * classes + baseline_proba.argmax(axis=1)) * classes + candidate_proba.argmax(axis=1)
    groups = _dense_codes(cells)
    sizes = np.bincount(groups)
    codes = np.zeros(len(sizes), dtype=np.int64)
    codes[groups] = cells  # the cell of each group
    true, baseline, candidate = codes // classes**2, codes // classes % classes, codes % classes
    blocks = []
    for counts in _resampled_sizes(sizes, samples, rng):
        candidate_value = metric.from_confusion(_confusions(counts, true * classes + candidate, classes))
        baseline_value = metric.from_confusion(_confusions(counts, true * classes + baseline, classes))
        blocks.append(candidate_value - baseline_value)
    return np.concatenate(blocks)


def _per_row_improvements(
    metric: Metric,
    labels: np.ndarray,
    candidate_proba: np.ndarray,
    baseline_proba: np.ndarray,
    samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Resampled means of the per-row difference, rows grouped in narrow bins of it."""
    difference = metric.per_row(labels, candidate_proba) - metric.per_row(labels, baseline_proba)
    groups = _bins(difference)
    sizes = np.bincount(groups)
    means = np.bincount(groups, weights=difference) / sizes
    return np.concatenate([counts @ means / len(difference) for counts in _resampled_sizes(sizes, samples, rng)])


def _stats_improvements(
    metric: Metric,
    labels: np.ndarray,
    candidate_outputs: np.ndarray,
    baseline_outputs: np.ndarray,
    samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Metric differences from resampled means of both models' per-row statistics, rows grouped
    in narrow bins of the linearised per-row difference."""
    stats = np.hstack([metric.row_stats(labels, candidate_outputs), metric.row_stats(labels, baseline_outputs)])
    width = stats.shape[1] // 2

    def difference(means: np.ndarray) -> np.ndarray:
        return metric.from_means(means[..., :width]) - metric.from_means(means[..., width:])

    groups = _bins(stats @ _gradient(difference, stats))
    sizes = np.bincount(groups)
    bin_means = np.stack([np.bincount(groups, weights=column) for column in stats.T], axis=1) / sizes[:, None]
    blocks = [difference(counts @ bin_means / len(stats)) for counts in _resampled_sizes(sizes, samples, rng)]
    return np.concatenate(blocks)


def _gradient(function: Callable[[np.ndarray], np.ndarray], stats: np.ndarray) -> np.ndarray:
    """Central-difference gradient of `function` at the mean of the statistics' rows."""
    means = stats.mean(axis=0)
    steps = 1e-6 * (stats.std(axis=0) + np.abs(means)) + 1e-12
    shifts = np.diag(steps)
    return (function(means + shifts) - function(means - shifts)) / (2 * steps)


def _bins(values: np.ndarray) -> np.ndarray:
    """Group codes of rows in bins 1/_BINS_PER_SD of the values' standard deviation wide."""
    width = values.std() / _BINS_PER_SD
    if not width > 0:
        return np.zeros(len(values), dtype=np.int64)
    return _dense_codes(np.floor((values - values.min()) / width).astype(np.int64))


def _dense_codes(codes: np.ndarray) -> np.ndarray:
    """Non-negative codes renumbered 0..m-1, order kept: by counting where the span allows, else by sorting."""
    if codes.max() < 4 * len(codes):
        occupied = np.bincount(codes) > 0
        return (np.cumsum(occupied) - 1)[codes]
    return np.unique(codes, return_inverse=True)[1]


def _resampled_sizes(sizes: np.ndarray, samples: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Blocks of resamples, each row a resample's count of rows drawn from every group."""
    total = sizes.sum()
    block = max(1, _BLOCK_CELLS // len(sizes))
    for start in range(0, samples, block):
        yield rng.multinomial(total, sizes / total, size=min(block, samples - start))


def _confusions(counts: np.ndarray, cell: np.ndarray, classes: int) -> np.ndarray:
    """Confusion matrices, one per resample, from group counts and each group's (true, predicted) cell."""
    resample = np.arange(len(counts))[:, None] * classes**2
    flat = np.bincount((resample + cell).ravel(), weights=counts.ravel(), minlength=len(counts) * classes**2)
    return flat.reshape(len(counts), classes, classes)
