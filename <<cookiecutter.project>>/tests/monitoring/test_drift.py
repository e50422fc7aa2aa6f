"""Drift scores on samples whose shift is known."""

import json

import numpy as np
import pandas as pd
import pytest

from << cookiecutter.package >>.data import DataError, read_table, split
from << cookiecutter.package >>.monitoring.drift import categorical_psi, ks_statistic, numeric_psi, run_drift
from << cookiecutter.package >>.paths import Reports


def _sample(params, rows: int = 300, seed: int = 0) -> pd.DataFrame:
    train, _ = split(read_table(params.data.path), params.data)
    sample = train.sample(rows, replace=True, random_state=seed).drop(columns=[params.data.target])
    return sample.assign(prediction=train[params.data.target].sample(rows, replace=True, random_state=seed).to_numpy())


def test_scores_are_zero_for_identical_and_large_for_shifted_data():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, 5000)
    assert ks_statistic(reference, reference) == 0
    assert numeric_psi(reference, reference) == pytest.approx(0, abs=1e-9)
    shifted = reference + 1.0
    assert ks_statistic(reference, shifted) > 0.3
    assert numeric_psi(reference, shifted) > 0.5
    assert categorical_psi(pd.Series(["a", "b"] * 50), pd.Series(["a"] * 90 + ["b"] * 10)) > 0.2


def test_clean_sample_is_not_drift(params, tmp_path):
    path = tmp_path / "recent.csv"
    _sample(params).to_csv(path, index=False)
    assert run_drift(params, Reports(tmp_path), path) is False
    report = json.loads((tmp_path / "drift.json").read_text())
    assert report["drift"] is False
    assert {feature["column"] for feature in report["features"]} >= {"bill_length_mm", "island", "prediction"}


def test_shifted_feature_is_drift_and_named(params, tmp_path, capsys):
    sample = _sample(params)
    sample["flipper_length_mm"] = sample["flipper_length_mm"] * 1.15
    path = tmp_path / "recent.parquet"
    sample.to_parquet(path)
    assert run_drift(params, Reports(tmp_path), path) is True
    assert "DRIFT flipper_length_mm" in capsys.readouterr().out
    report = json.loads((tmp_path / "drift.json").read_text())
    drifted = {feature["column"] for feature in report["features"] if feature["drifted"]}
    assert drifted == {"flipper_length_mm"}
    assert "flipper_length_mm" in (tmp_path / "drift.md").read_text()


def test_server_log_format_is_read(params, tmp_path):
    sample = _sample(params).assign(island="Biscoe")  # every penguin from one island: the mix moved
    lines = [
        json.dumps({"features": row.drop("prediction").to_dict(), "prediction": row["prediction"]})
        for _, row in sample.iterrows()
    ]
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert run_drift(params, Reports(tmp_path), path) is True


def test_too_small_a_sample_gives_no_verdict(params, tmp_path):
    path = tmp_path / "recent.csv"
    _sample(params, rows=10).to_csv(path, index=False)
    with pytest.raises(DataError, match="at least 100"):
        run_drift(params, Reports(tmp_path), path)


def _prediction_drift(reports_dir) -> dict:
    features = json.loads((reports_dir / "drift.json").read_text())["features"]
    (found,) = [item for item in features if item["column"] == "prediction"]
    return found


def test_regression_predictions_drift_as_numbers(regression, tmp_path):
    """A regression model's predictions are compared with the training target's distribution
    (PSI and KS, like a numeric feature); shifted predictions are drift, named `prediction`."""
    sample = _sample(regression)
    path = tmp_path / "recent.csv"
    sample.to_csv(path, index=False)
    assert run_drift(regression, Reports(tmp_path), path) is False
    prediction = _prediction_drift(tmp_path)
    assert prediction["kind"] == "prediction" and prediction["ks"] is not None and not prediction["drifted"]

    sample["prediction"] = sample["prediction"] * 1.2
    sample.to_csv(path, index=False)
    assert run_drift(regression, Reports(tmp_path), path) is True
    prediction = _prediction_drift(tmp_path)
    assert prediction["drifted"] and prediction["ks"] > regression.drift.ks_threshold
