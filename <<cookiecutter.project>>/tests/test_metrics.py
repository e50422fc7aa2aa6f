import numpy as np
import pytest

from << cookiecutter.package >>.metrics import METRICS, TASKS, confusion, score_all, task_metrics

LABELS = np.array([0, 0, 0, 1, 2])
PROBA = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0], [0.0, 0.5, 0.5]])


def _score(name: str, labels: np.ndarray = LABELS, proba: np.ndarray = PROBA) -> float:
    return METRICS[name].compute(labels, proba)


def test_hand_computed_values():
    assert _score("accuracy") == pytest.approx(3 / 5)
    assert _score("balanced_accuracy") == pytest.approx((2 / 3 + 1 + 0) / 3)
    # class 0: tp 2, predicted 2, true 3 -> 0.8; class 1: tp 1, predicted 3, true 1 -> 0.5; class 2: 0
    assert _score("f1_macro") == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert _score("log_loss") == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.6, 0.9, 0.5])))


def test_classes_absent_from_the_rows_do_not_count():
    # class 2 is neither true nor predicted: balanced accuracy and macro F1 average over classes 0 and 1
    labels, proba = np.array([0, 1, 1]), np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.9, 0.0]])
    assert _score("balanced_accuracy", labels, proba) == pytest.approx((1 + 0.5) / 2)
    assert _score("f1_macro", labels, proba) == pytest.approx((2 / 3 + 2 / 3) / 2)


def test_label_metrics_vectorise_over_stacked_confusions():
    rng = np.random.default_rng(0)
    stacked = np.stack([confusion(rng.integers(0, 3, 50), rng.integers(0, 3, 50), 3) for _ in range(4)])
    for metric in METRICS.values():
        if metric.from_confusion is not None:
            one_by_one = [metric.from_confusion(counts) for counts in stacked]
            np.testing.assert_allclose(metric.from_confusion(stacked), one_by_one)


def test_direction_of_every_metric():
    assert {name for name, metric in METRICS.items() if not metric.greater_is_better} == {"log_loss", "rmse", "mae"}


def test_every_metric_belongs_to_one_task():
    assert task_metrics("classification") == ["accuracy", "balanced_accuracy", "f1_macro", "log_loss"]
    assert task_metrics("regression") == ["rmse", "mae", "r2"]
    assert sorted(name for task in TASKS for name in task_metrics(task)) == sorted(METRICS)


TARGET = np.array([3.0, 5.0, 2.0, 8.0])
PREDICTED = np.array([[2.0], [5.0], [4.0], [7.0]])  # errors -1, 0, 2, -1


def test_hand_computed_regression_values():
    scores = score_all(TARGET, PREDICTED, "regression")
    assert scores["rmse"] == pytest.approx(np.sqrt((1 + 0 + 4 + 1) / 4))
    assert scores["mae"] == pytest.approx((1 + 0 + 2 + 1) / 4)
    # mean 4.5, SST = 2.25 + 0.25 + 6.25 + 12.25 = 21, SSE = 6
    assert scores["r2"] == pytest.approx(1 - 6 / 21)


def test_r2_keeps_its_precision_far_from_zero():
    """A target around 1e6 (grams of a whale): r2 must not lose its digits to sum(y^2) - n * mean^2."""
    shifted = METRICS["r2"].compute(TARGET + 1e6, PREDICTED + 1e6)
    assert shifted == pytest.approx(1 - 6 / 21, abs=1e-9)


def test_sum_metrics_vectorise_over_stacked_means():
    stats = METRICS["r2"].row_stats(TARGET, PREDICTED)
    stacked = np.stack([stats.mean(axis=0), stats[:3].mean(axis=0)])
    np.testing.assert_allclose(METRICS["r2"].from_means(stacked), [METRICS["r2"].from_means(m) for m in stacked])
