"""The promotion rule at its exact boundaries."""

import pytest

from << cookiecutter.package >>.promotion.rule import meets_requirement, required_value


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
