"""validate -> train -> gate -> promote on the shipped data, with real GX, torch and MLflow."""

import json

import pytest

from << cookiecutter.package >>.gate import run_gate
from << cookiecutter.package >>.promote import PromotionRefused, promote
from << cookiecutter.package >>.registry import CHAMPION, alias_version, connect
from << cookiecutter.package >>.train import TrainingError, train
from << cookiecutter.package >>.validate import run_validation


@pytest.fixture
def quick(params, tmp_path):
    """Fast settings and a private tracking DB, so the test leaves the project untouched."""
    return params.model_copy(
        update={
            "train": params.train.model_copy(update={"epochs": 8, "checkpoint_dir": tmp_path / "checkpoints"}),
            "mlflow": params.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}),
        }
    )


def test_first_model_beats_naive_then_identical_retrain_is_rejected(quick, tmp_path):
    reports = tmp_path / "reports"
    with pytest.raises(TrainingError, match="make validate"):
        train(quick, reports_dir=reports)
    assert run_validation(quick, reports_dir=reports)

    first = train(quick, reports_dir=reports)
    decision = run_gate(quick, reports)
    assert (decision.decision, decision.baseline_kind) == ("promote", "naive")
    assert json.loads((reports / "gate.json").read_text())["candidate_version"] == first.model_version
    promote(quick, reports)
    client = connect(quick)
    assert alias_version(client, quick.model.name, CHAMPION) == first.model_version

    second = train(quick, reports_dir=reports)
    assert second.metrics == first.metrics  # seeded: same params, same metrics
    decision = run_gate(quick, reports)
    assert (decision.decision, decision.baseline_kind, decision.exit_code) == ("reject", "champion", 1)
    with pytest.raises(PromotionRefused, match="reject"):
        promote(quick, reports)
    assert alias_version(client, quick.model.name, CHAMPION) == first.model_version
