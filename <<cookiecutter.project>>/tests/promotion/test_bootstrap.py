"""The paired bootstrap: deterministic, signed by the metric's direction, and the same interval
as resampling the rows one by one (the definition), within Monte-Carlo error."""

from dataclasses import astuple

import numpy as np
import pytest

from << cookiecutter.package >>.metrics import METRICS, Metric
from << cookiecutter.package >>.promotion.bootstrap import Interval, paired_bootstrap

SAMPLES = 2000


def _predictions(seed: int, n: int = 200, classes: int = 3, skill: float = 0.6, weak_skill: float = 0.3):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    good = np.eye(classes)[labels] * skill + rng.random((n, classes)) * (1 - skill)
    weak = np.eye(classes)[labels] * weak_skill + rng.random((n, classes)) * (1 - weak_skill)
    return labels, good / good.sum(1, keepdims=True), weak / weak.sum(1, keepdims=True)


def _row_bootstrap(metric: Metric, labels, candidate, baseline, samples: int, confidence: float, seed: int):
    """The definition: resample the rows, re-score both models on each resample."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if metric.greater_is_better else -1.0
    improvements = np.empty(samples)
    for index in range(samples):
        rows = rng.integers(0, len(labels), len(labels))
        improvements[index] = sign * (
            metric.compute(labels[rows], candidate[rows]) - metric.compute(labels[rows], baseline[rows])
        )
    tail = (1 - confidence) / 2 * 100
    return np.percentile(improvements, [tail, 100 - tail])


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


@pytest.mark.parametrize("name", sorted(METRICS))
def test_identical_models_give_a_zero_interval(name):
    labels, good, _ = _predictions(2)
    assert paired_bootstrap(METRICS[name], labels, good, good, 200, 0.95, seed=0) == Interval(0.0, 0.0)


CLASSIFICATION = sorted(name for name, metric in METRICS.items() if metric.task == "classification")
REGRESSION = sorted(name for name, metric in METRICS.items() if metric.task == "regression")


def _regression_predictions(seed: int, n: int):
    """A target in grams and two models of it, the candidate slightly better: a close contest."""
    rng = np.random.default_rng(seed)
    target = rng.normal(4200, 800, n)
    good = target + rng.normal(0, 300, n) + rng.standard_t(3, n) * 40
    weak = target + rng.normal(0, 310, n)
    return target, good[:, None], weak[:, None]


def _assert_matches_resampling_rows(metric: Metric, labels, good, weak):
    seeds = range(6)
    reference = np.array([_row_bootstrap(metric, labels, good, weak, SAMPLES, 0.95, seed) for seed in seeds])
    counted = np.array([astuple(paired_bootstrap(metric, labels, good, weak, SAMPLES, 0.95, seed)) for seed in seeds])
    # the Monte-Carlo standard error of the difference between the two mean intervals
    error = np.sqrt((reference.var(axis=0, ddof=1) + counted.var(axis=0, ddof=1)) / len(seeds))
    assert np.all(error > 0)
    assert np.all(np.abs(counted.mean(axis=0) - reference.mean(axis=0)) <= 4 * error)
    width = reference.mean(axis=0) @ [-1, 1]
    assert np.all(4 * error < 0.1 * width)  # the tolerance is small against what it tests
    low, high = counted.mean(axis=0)
    assert low < 0 < high


@pytest.mark.parametrize(
    ("name", "rows", "weak_skill"),
    # 300 rows: every (true, champion, candidate) cell of 5 classes occurs; 5,000 rows: bins of the
    # per-row difference hold several rows each, so the binning is what is compared
    [*((name, 300, 0.25) for name in CLASSIFICATION), pytest.param("log_loss", 5_000, 0.3, marks=pytest.mark.slow)],
)
def test_matches_resampling_the_rows_within_monte_carlo_error(name, rows, weak_skill):
    # a close contest, so the interval straddles 0
    labels, good, weak = _predictions(3, n=rows, classes=5, skill=0.3, weak_skill=weak_skill)
    _assert_matches_resampling_rows(METRICS[name], labels, good, weak)


# rmse and r2 are recomputed from resampled sums; with 5,000 rows the bins of the linearised
# per-row difference hold several rows each, so the binning is what is compared
@pytest.mark.parametrize(
    ("name", "rows"),
    [
        *((name, 300) for name in REGRESSION),
        *(pytest.param(name, 5_000, marks=pytest.mark.slow) for name in ("rmse", "r2")),
    ],
)
def test_regression_metrics_match_resampling_the_rows(name, rows):
    _assert_matches_resampling_rows(METRICS[name], *_regression_predictions(4, rows))
