"""The promotion rule: pure functions, unit-tested at the boundary.

The rule is stated in README.md > "The promotion gate"; this is its implementation (the
confidence interval is `bootstrap.py`'s). Equality is judged with a small tolerance, so float
noise (0.8 * 1.02 = 0.8160000000000001) never decides a boundary case.

A relative margin is a share of the baseline's distance from the metric's `reference` point:
0 for every metric but r2 (so `m * |baseline|`), and 1 for r2, whose relative margin is a share
of the unexplained variance `1 - r2`. That keeps it defined where `|baseline|` is not: the
naive mean predictor scores r2 of about 0 (a margin of `m * |0|` would let any candidate that
ties it pass), and an r2 below 0 is worse than the mean, where `m * |baseline|` would grow with
how bad the baseline is. For r2 the required value is `baseline + m * (1 - baseline)`.
"""

from __future__ import annotations

import math

_TOLERANCE = 1e-9


def required_value(
    baseline: float, min_improvement: float, mode: str, greater_is_better: bool, reference: float = 0.0
) -> float:
    """The value the candidate must reach (or, for lower-is-better, not exceed)."""
    step = min_improvement * abs(baseline - reference) if mode == "relative" else min_improvement
    return baseline + step if greater_is_better else baseline - step


def meets_requirement(
    candidate: float,
    baseline: float,
    min_improvement: float,
    mode: str,
    greater_is_better: bool,
    reference: float = 0.0,
) -> bool:
    """Whether the candidate beats the baseline by the margin.

    With a baseline at the reference (0, or r2 = 1) a relative margin is zero, so equality would
    pass; the candidate must then be strictly better, because a gate exists to let only
    improvements through. An rmse (or mae) baseline of 0 therefore cannot be beaten at all.
    """
    required = required_value(baseline, min_improvement, mode, greater_is_better, reference)
    if math.isclose(candidate, required, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE):
        return not (mode == "relative" and baseline == reference)
    return candidate > required if greater_is_better else candidate < required


def within_tolerance(
    candidate: float, baseline: float, tolerance: float, mode: str, greater_is_better: bool, reference: float = 0.0
) -> bool:
    """The merge check: the candidate is not worse than the baseline by more than `tolerance`.

    An unchanged model passes (it is not worse at all); a model that would not be promoted may
    still pass, because a pull request that leaves the model as good as it was should merge.
    """
    floor = required_value(baseline, -tolerance, mode, greater_is_better, reference)
    if math.isclose(candidate, floor, rel_tol=_TOLERANCE, abs_tol=_TOLERANCE):
        return True
    return candidate > floor if greater_is_better else candidate < floor
