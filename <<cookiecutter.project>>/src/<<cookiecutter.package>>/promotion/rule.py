"""The promotion rule and its confidence interval: pure functions, unit-tested at the boundary.

The rule is stated in README.md > "The promotion gate"; this is its implementation. Equality
is judged with a small tolerance, so float noise (0.8 * 1.02 = 0.8160000000000001) never
decides a boundary case.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from << cookiecutter.package >>.metrics import Metric

_TOLERANCE = 1e-9


def required_value(baseline: float, min_improvement: float, mode: str, greater_is_better: bool) -> float:
    """The value the candidate must reach (or, for lower-is-better, not exceed)."""
    step = min_improvement * abs(baseline) if mode == "relative" else min_improvement
    return baseline + step if greater_is_better else baseline - step


def meets_requirement(
    candidate: float, baseline: float, min_improvement: float, mode: str, greater_is_better: bool
) -> bool:
    """Whether the candidate beats the baseline by the margin.

    With a zero baseline a relative margin is zero, so equality would pass; the candidate
    must then be strictly better, because a gate exists to let only improvements through.
    """
    required = required_value(baseline, min_improvement, mode, greater_is_better)
    if math.isclose(candidate, required, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE):
        return not (mode == "relative" and baseline == 0)
    return candidate > required if greater_is_better else candidate < required


def within_tolerance(candidate: float, baseline: float, tolerance: float, mode: str, greater_is_better: bool) -> bool:
    """The merge check: the candidate is not worse than the baseline by more than `tolerance`.

    An unchanged model passes (it is not worse at all); a model that would not be promoted may
    still pass, because a pull request that leaves the model as good as it was should merge.
    """
    floor = required_value(baseline, -tolerance, mode, greater_is_better)
    if math.isclose(candidate, floor, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE):
        return True
    return candidate > floor if greater_is_better else candidate < floor


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

    Both models are re-scored on the same resampled examples, so the interval reflects the
    difference between them, not the noise of either alone.
    """
    rng = np.random.default_rng(seed)
    sign = 1.0 if metric.greater_is_better else -1.0
    improvements = np.empty(samples)
    for index in range(samples):
        rows = rng.integers(0, len(labels), len(labels))
        candidate = metric.compute(labels[rows], candidate_proba[rows])
        baseline = metric.compute(labels[rows], baseline_proba[rows])
        improvements[index] = sign * (candidate - baseline)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(improvements, [tail, 100 - tail])
    return Interval(float(low), float(high))
