"""validate -> train -> gate -> promote on the shipped data, with real GX, torch and MLflow."""

import json

import pytest

from << cookiecutter.package >>.gate import redact, run_gate
from << cookiecutter.package >>.promote import PromotionRefused, promote, rollback
from << cookiecutter.package >>.registry import CHAMPION, LOCK_SUFFIX, PREVIOUS_CHAMPION, alias_lock, alias_version, connect
from << cookiecutter.package >>.train import TrainingError, train
from << cookiecutter.package >>.validate import run_validation


@pytest.fixture
def quick(params, tmp_path):
    """Fast settings, a private tracking DB and checkpoints (Data Docs still land in gx/uncommitted/)."""
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


def test_better_model_is_promoted_and_rollback_swaps_back(quick, tmp_path):
    reports = tmp_path / "reports"
    gate = {"metric": "log_loss", "mode": "relative", "min_improvement": 0.02}  # whatever the render chose
    by_log_loss = quick.model_copy(update={"gate": quick.gate.model_copy(update=gate)})
    assert run_validation(by_log_loss, reports_dir=reports)
    first = train(
        by_log_loss.model_copy(update={"train": by_log_loss.train.model_copy(update={"epochs": 2})}),
        reports_dir=reports,
    )
    assert run_gate(by_log_loss, reports).decision == "promote"
    promote(by_log_loss, reports)
    longer = by_log_loss.model_copy(update={"train": by_log_loss.train.model_copy(update={"epochs": 40})})
    second = train(longer, reports_dir=reports)
    decision = run_gate(longer, reports)
    assert (decision.decision, decision.baseline_version) == ("promote", first.model_version), decision.reason
    promote(longer, reports)
    client = connect(longer)
    aliases = {"champion": CHAMPION, "previous": PREVIOUS_CHAMPION}
    name = longer.model.name
    assert {key: alias_version(client, name, alias) for key, alias in aliases.items()} == {
        "champion": second.model_version,
        "previous": first.model_version,
    }
    rollback(longer)
    assert {key: alias_version(client, name, alias) for key, alias in aliases.items()} == {
        "champion": first.model_version,
        "previous": second.model_version,
    }


def test_lock_is_released_only_by_its_holder(quick):
    client = connect(quick)
    lock_name = f"{quick.model.name}{LOCK_SUFFIX}"
    with alias_lock(client, quick.model.name):
        client.delete_registered_model(lock_name)  # as if broken as stale and retaken by another runner
        client.create_registered_model(lock_name, description="held by someone else")
    assert client.get_registered_model(lock_name).description == "held by someone else"
    client.delete_registered_model(lock_name)
    with alias_lock(client, quick.model.name):
        assert client.get_registered_model(lock_name)
    assert client.search_registered_models(filter_string=f"name = '{lock_name}'") == []  # released


def test_reports_posted_on_pull_requests_carry_no_server_urls():
    assert (
        redact("ConnectionError: http://user:secret@mlflow.internal:5000/api failed") == "ConnectionError: <url> failed"
    )
