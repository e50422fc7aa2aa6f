"""The promotion rule at its exact boundaries, and the bootstrap's determinism."""

import numpy as np
import pytest

from << cookiecutter.package >>.metrics import METRICS
from << cookiecutter.package >>.promotion.rule import meets_requirement, paired_bootstrap, required_value


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


def _predictions(seed: int, n: int = 200, classes: int = 3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    good = np.eye(classes)[labels] * 0.6 + rng.random((n, classes)) * 0.4
    weak = rng.random((n, classes))
    return labels, good / good.sum(1, keepdims=True), weak / weak.sum(1, keepdims=True)


def test_bootstrap_is_deterministic_and_seed_dependent():
    labels, good, weak = _predictions(0)
    metric = METRICS["accuracy"]
    first = paired_bootstrap(metric, labels, good, weak, 500, 0.95, seed=7)
    again = paired_bootstrap(metric, labels, good, weak, 500, 0.95, seed=7)
    other = paired_bootstrap(metric, labels, good, weak, 500, 0.95, seed=8)
    assert first == again
    assert first != other
    assert 0 < first.low < first.high  # a clearly better model: the CI excludes 0


def test_bootstrap_sign_follows_metric_direction():
    labels, good, weak = _predictions(1)
    interval = paired_bootstrap(METRICS["log_loss"], labels, good, weak, 300, 0.9, seed=0)
    assert interval.low > 0  # lower log loss is an improvement, reported as positive
