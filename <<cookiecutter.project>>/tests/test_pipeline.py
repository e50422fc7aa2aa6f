"""validate -> train -> gate -> promote on the shipped data, in process, with real GX, torch and
MLflow; for regression also export and serve, and the same on another numeric table."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from << cookiecutter.package >>.data import features_of, read_table
from << cookiecutter.package >>.packaging.export import export_model
from << cookiecutter.package >>.paths import TORCH_ARTIFACT
from << cookiecutter.package >>.promotion.gate import run_gate
from << cookiecutter.package >>.promotion.promote import PromotionRefused, promote, rollback
from << cookiecutter.package >>.promotion.registry import CHAMPION, PREVIOUS_CHAMPION, alias_version
from << cookiecutter.package >>.serving.runtime import ServedModel
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training.model import ModelBundle
from << cookiecutter.package >>.training.train import TrainingError, train
from << cookiecutter.package >>.validation.report import run_validation
from << cookiecutter.package >>.validation.suite import build_suite
from tests.helpers import PROJECT_ROOT, as_task, records, with_settings

pytestmark = pytest.mark.slow


def _champion(params) -> str | None:
    return alias_version(connect(params), params.model.name, CHAMPION)


def _champion_source(params) -> str | None:
    """The candidate version the production champion was copied from."""
    champion = _champion(params)
    return champion and connect(params).get_model_version(params.model.name, champion).tags["source.version"]


def test_first_model_beats_naive_then_identical_retrain_is_rejected(quick, reports):
    with pytest.raises(TrainingError, match="make validate"):
        train(quick, reports)
    assert run_validation(quick, reports)

    first = train(quick, reports)
    decision = run_gate(quick, reports)
    assert (decision.decision, decision.baseline_kind, decision.merge) == ("promote", "naive", "pass")
    gated = json.loads(reports.gate.read_text())
    assert (gated["candidate_model"], gated["candidate_version"]) == (quick.model.candidates, first.model_version)
    assert gated["candidate_digest"] == first.model_digest
    # the gate states its cost: the whole table read, and the seconds of every phase
    assert gated["rows_read"] == len(read_table(quick.data.path)) > gated["eval_rows"]
    assert set(gated["seconds"]) == {"read", "score_candidate", "score_baseline", "bootstrap"}
    production = promote(quick, reports)
    assert _champion(quick) == production and _champion_source(quick) == first.model_version
    tags = connect(quick).get_model_version(quick.model.name, production).tags
    assert (tags["model.digest"], tags["source.model"]) == (first.model_digest, quick.model.candidates)
    lineage = connect(quick).get_model_version(quick.model.candidates, first.model_version).tags
    assert (lineage["promoted.model"], lineage["promoted.version"]) == (quick.model.name, production)

    second = train(quick, reports)
    assert second.metrics == first.metrics  # seeded: same params, same metrics
    assert second.model_digest == first.model_digest  # and the same files
    decision = run_gate(quick, reports)
    assert (decision.decision, decision.baseline_kind, decision.exit_code) == ("reject", "champion", 1)
    assert decision.merge == "pass", "an unchanged model must pass the merge check"
    with pytest.raises(PromotionRefused, match="reject"):
        promote(quick, reports)
    assert _champion(quick) == production


GATE_WITHOUT_TORCH = """
import sys

sys.modules["torch"] = None  # any `import torch` now raises ImportError
from << cookiecutter.package >>.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_the_gate_scores_served_bundles_without_torch(quick, reports, tmp_path):
    """The gate job installs no torch: it scores the served bundles with ONNX Runtime only."""
    assert run_validation(quick, reports)
    trained = train(quick, reports)
    settings = quick.model_dump(mode="json")
    settings["data"]["path"] = str(PROJECT_ROOT / quick.data.path)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(settings))
    command = [sys.executable, "-c", GATE_WITHOUT_TORCH, "--params", "params.yaml", "gate"]
    command += ["--candidate-version", trained.model_version]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    gated = json.loads((tmp_path / "reports" / "gate.json").read_text())
    assert (gated["decision"], gated["candidate_digest"]) == ("promote", trained.model_digest)


def test_weakened_candidate_is_rejected_and_the_champion_kept(quick, reports):
    assert run_validation(quick, reports)
    train(quick, reports)
    run_gate(quick, reports)
    production = promote(quick, reports)

    weak = with_settings(with_settings(quick, "train", epochs=1, learning_rate=0.0001), "model", hidden_sizes=[2])
    train(weak, reports)
    decision = run_gate(weak, reports)
    assert (decision.decision, decision.merge) == ("reject", "regression")
    candidate, baseline = decision.candidate_value, decision.baseline_value
    assert candidate < baseline if decision.greater_is_better else candidate > baseline  # scored worse
    with pytest.raises(PromotionRefused, match="reject"):
        promote(weak, reports)
    assert _champion(quick) == production


def test_better_model_is_promoted_and_rollback_swaps_back(quick, reports):
    by_log_loss = with_settings(
        quick, "gate", metric="log_loss", mode="relative", min_improvement=0.02
    )  # whatever was rendered
    assert run_validation(by_log_loss, reports)
    train(with_settings(by_log_loss, "train", epochs=2), reports)
    assert run_gate(by_log_loss, reports).decision == "promote"
    first = promote(by_log_loss, reports)
    longer = with_settings(by_log_loss, "train", epochs=40)
    train(longer, reports)
    decision = run_gate(longer, reports)
    assert (decision.decision, decision.baseline_version, decision.merge) == ("promote", first, "pass"), decision.reason
    second = promote(longer, reports)
    client, name = connect(longer), longer.model.name
    aliases = {"champion": CHAMPION, "previous": PREVIOUS_CHAMPION}
    assert {key: alias_version(client, name, alias) for key, alias in aliases.items()} == {
        "champion": second,
        "previous": first,
    }
    rollback(longer, reports)
    assert {key: alias_version(client, name, alias) for key, alias in aliases.items()} == {
        "champion": first,
        "previous": second,
    }
    assert json.loads(reports.rollback.read_text())["champion"] == first


def test_promotion_needs_a_passing_gate_for_that_version(quick, reports):
    assert run_validation(quick, reports)
    trained = train(quick, reports)
    with pytest.raises(PromotionRefused, match="make gate"):
        promote(quick, reports)

    forged = {"decision": "promote", "reason": "", "metric": "accuracy", "model_name": quick.model.name}
    forged |= {"candidate_model": quick.model.candidates, "candidate_digest": trained.model_digest}
    forged |= {"candidate_version": trained.model_version, "baseline_version": None, "eval_data_hash": "x"}
    reports.write(reports.gate, json.dumps(forged))
    with pytest.raises(PromotionRefused, match="no passing gate"):
        promote(quick, reports)
    reports.write(reports.gate, json.dumps({"decision": "promote"}))
    with pytest.raises(PromotionRefused, match="not a gate report"):
        promote(quick, reports)
    assert _champion(quick) is None


def test_regression_promotes_over_the_naive_mean_then_exports_and_serves_numbers(quick_regression, reports, tmp_path):
    params = quick_regression
    assert run_validation(params, reports)
    first = train(params, reports)
    decision = run_gate(params, reports)
    assert (decision.decision, decision.baseline_kind) == ("promote", "naive")
    gated = json.loads(reports.gate.read_text())
    assert gated["metric"] == params.gate.metric in {"rmse", "mae", "r2"}
    assert gated["ci_low"] > 0  # clearly better than predicting the training mean
    production = promote(params, reports)

    export_model(params, reports, directory=tmp_path / "model")  # the champion's bundle, byte for byte
    served = ServedModel.load(tmp_path / "model")
    assert (served.task, served.version) == ("regression", production)
    features = features_of(read_table(params.data.path), params.data)
    result = served.predict_columns(served.columns(records(features, 20)))
    assert all(isinstance(value, float) for value in result["predictions"])
    connect(params)  # the torch weights the run keeps beside the served bundle, for resuming and fine-tuning
    weights = mlflow.artifacts.download_artifacts(run_id=first.run_id, artifact_path=TORCH_ARTIFACT)
    bundle = ModelBundle.load(Path(weights))
    torch_grams = bundle.predict_outputs(features.head(20))[:, 0]
    assert np.abs(np.asarray(result["predictions"]) - torch_grams).max() <= 1e-5 * bundle.target[1]
    assert 2500 < min(result["predictions"]) and max(result["predictions"]) < 6500  # grams, not standard units


def _friedman(rows: int, seed: int) -> pd.DataFrame:
    """Friedman's regression benchmark #1: five uniform inputs, a non-linear target and noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (rows, 5))
    y = 10 * np.sin(np.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
    return pd.DataFrame(x, columns=[f"x{index}" for index in range(5)]).assign(y=y + rng.normal(0, 1, rows))


def test_another_numeric_table_needs_only_data_path_and_target(quick_regression, reports, tmp_path, monkeypatch):
    """Swap the data: the same project, with only data.path and data.target changed, builds its
    suite, validates, trains and gates on another table; the first model beats the naive mean."""
    shutil.copytree(PROJECT_ROOT / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.chdir(tmp_path)  # the new suite and its Data Docs stay out of the checkout
    _friedman(600, seed=0).to_csv(tmp_path / "friedman.csv", index=False)
    swapped = with_settings(quick_regression, "data", path=tmp_path / "friedman.csv", target="y")
    build_suite(swapped)
    assert run_validation(swapped, reports)
    train(swapped, reports)
    decision = run_gate(swapped, reports)
    assert (decision.decision, decision.baseline_kind) == ("promote", "naive"), decision.reason


def test_the_gate_fails_closed_on_a_model_of_the_other_task(quick, reports):
    """params.yaml switched to regression after a classifier was trained: an error, not a score."""
    assert run_validation(quick, reports)
    train(quick, reports)
    decision = run_gate(as_task(quick, "regression"), reports)
    assert (decision.decision, decision.exit_code) == ("error", 2)
    assert "candidate is a classification model, but data.task is 'regression'" in decision.reason
