import numpy as np
import pytest

from << cookiecutter.package >>.metrics import METRICS, accuracy, balanced_accuracy, f1_macro, log_loss

LABELS = np.array([0, 0, 0, 1, 2])
PROBA = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0], [0.0, 0.5, 0.5]])


def test_hand_computed_values():
    assert accuracy(LABELS, PROBA) == pytest.approx(3 / 5)
    assert balanced_accuracy(LABELS, PROBA) == pytest.approx((2 / 3 + 1 + 0) / 3)
    # class 0: tp 2, predicted 2, true 3 -> 0.8; class 1: tp 1, predicted 3, true 1 -> 0.5; class 2: 0
    assert f1_macro(LABELS, PROBA) == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert log_loss(LABELS, PROBA) == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.6, 0.9, 0.5])))


def test_direction_of_every_metric():
    assert {name for name, metric in METRICS.items() if not metric.greater_is_better} == {"log_loss"}
