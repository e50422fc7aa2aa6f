"""The promotion rule at its exact boundaries."""

import pytest

from << cookiecutter.package >>.metrics import METRICS
from << cookiecutter.package >>.promotion.rule import meets_requirement, required_value, within_tolerance


@pytest.mark.parametrize(
    ("candidate", "baseline", "margin", "mode", "greater", "expected"),
    [
        (0.816, 0.80, 0.02, "relative", True, True),  # exactly 2 % better: 0.8 * 1.02 is 0.8160000000000001 in floats
        (0.8159, 0.80, 0.02, "relative", True, False),
        (0.82, 0.80, 0.02, "absolute", True, True),  # two percentage points
        (0.8199, 0.80, 0.02, "absolute", True, False),
        (-0.49, -0.50, 0.02, "relative", True, True),  # negative baseline: the margin uses |baseline|
        (-0.4901, -0.50, 0.02, "relative", True, False),
        (0.0, 0.0, 0.02, "relative", True, False),  # zero baseline: equal is not better
        (1e-6, 0.0, 0.02, "relative", True, True),
        (0.49, 0.50, 0.02, "relative", False, True),  # lower is better (log loss)
        (0.4901, 0.50, 0.02, "relative", False, False),
        (0.48, 0.50, 0.02, "absolute", False, True),
        (0.50, 0.50, 0.02, "relative", False, False),
    ],
)
def test_rule_boundaries(candidate, baseline, margin, mode, greater, expected):
    assert meets_requirement(candidate, baseline, margin, mode, greater) is expected


def test_required_value_examples():
    assert required_value(0.80, 0.02, "relative", True) == pytest.approx(0.816)
    assert required_value(0.80, 0.02, "absolute", True) == pytest.approx(0.82)
    assert required_value(0.50, 0.02, "relative", False) == pytest.approx(0.49)


@pytest.mark.parametrize(
    ("candidate", "baseline", "margin", "mode", "expected"),
    [
        # r2, relative: a share of the unexplained variance, required = baseline + m * (1 - baseline)
        (0.51, 0.50, 0.02, "relative", True),
        (0.5099, 0.50, 0.02, "relative", False),
        (0.02, 0.0, 0.02, "relative", True),  # the naive mean predictor's r2 of 0: still a 2 % step
        (0.0199, 0.0, 0.02, "relative", False),
        (-0.47, -0.50, 0.02, "relative", True),  # below 0 (worse than the mean): -0.5 + 0.02 * 1.5
        (-0.4701, -0.50, 0.02, "relative", False),
        (1.0, 1.0, 0.02, "relative", False),  # a perfect baseline: nothing beats it
        (0.52, 0.50, 0.02, "absolute", True),
        (0.5199, 0.50, 0.02, "absolute", False),
        (0.02, 0.0, 0.02, "absolute", True),
    ],
)
def test_r2_boundaries(candidate, baseline, margin, mode, expected):
    assert meets_requirement(candidate, baseline, margin, mode, True, reference=METRICS["r2"].reference) is expected


@pytest.mark.parametrize(
    ("candidate", "baseline", "mode", "expected"),
    [
        (9.8, 10.0, "relative", True),  # rmse or mae: 2 % lower
        (9.8001, 10.0, "relative", False),
        (0.0, 0.0, "relative", False),  # a zero-error baseline cannot be beaten
        (0.0, 0.0, "absolute", False),
        (7.98, 8.0, "absolute", True),
        (7.9801, 8.0, "absolute", False),
    ],
)
def test_error_metric_boundaries(candidate, baseline, mode, expected):
    for name in ("rmse", "mae"):
        metric = METRICS[name]
        rule = (mode, metric.greater_is_better, metric.reference)
        assert meets_requirement(candidate, baseline, 0.02, *rule) is expected


def test_r2_required_value_and_merge_floor():
    assert required_value(0.5, 0.02, "relative", True, reference=1.0) == pytest.approx(0.51)
    assert required_value(-1.0, 0.02, "relative", True, reference=1.0) == pytest.approx(-0.96)
    assert within_tolerance(0.495, 0.5, 0.01, "relative", True, reference=1.0)  # floor 0.5 - 0.01 * 0.5
    assert not within_tolerance(0.4949, 0.5, 0.01, "relative", True, reference=1.0)
