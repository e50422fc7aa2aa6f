"""validate -> train -> gate -> promote on the shipped data, in process, with real GX, torch and MLflow."""

import json

import pytest

from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.promotion.gate import run_gate
from << cookiecutter.package >>.promotion.promote import PromotionRefused, promote, rollback
from << cookiecutter.package >>.promotion.registry import CHAMPION, PREVIOUS_CHAMPION, alias_version
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training.train import TrainingError, train
from << cookiecutter.package >>.validation.report import run_validation


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite registry for the module (a fresh one costs seconds of migrations); tests use their own model."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture
def quick(params, tmp_path, tracking_uri, request):
    """Fast settings, a model name of this test's own, private checkpoints (Data Docs still land in gx/uncommitted/)."""
    return params.model_copy(
        update={
            "train": params.train.model_copy(update={"epochs": 8, "checkpoint_dir": tmp_path / "checkpoints"}),
            "model": params.model.model_copy(update={"name": request.node.name[:60]}),
            "mlflow": params.mlflow.model_copy(update={"tracking_uri": tracking_uri}),
        }
    )


@pytest.fixture
def reports(tmp_path) -> Reports:
    return Reports(tmp_path / "reports")


def _with(params, section: str, **values):
    return params.model_copy(update={section: getattr(params, section).model_copy(update=values)})


def _champion(params) -> str | None:
    return alias_version(connect(params), params.model.name, CHAMPION)


def test_first_model_beats_naive_then_identical_retrain_is_rejected(quick, reports):
    with pytest.raises(TrainingError, match="make validate"):
        train(quick, reports)
    assert run_validation(quick, reports)

    first = train(quick, reports)
    decision = run_gate(quick, reports)
    assert (decision.decision, decision.baseline_kind) == ("promote", "naive")
    assert json.loads(reports.gate.read_text())["candidate_version"] == first.model_version
    promote(quick, reports)
    assert _champion(quick) == first.model_version

    second = train(quick, reports)
    assert second.metrics == first.metrics  # seeded: same params, same metrics
    decision = run_gate(quick, reports)
    assert (decision.decision, decision.baseline_kind, decision.exit_code) == ("reject", "champion", 1)
    with pytest.raises(PromotionRefused, match="reject"):
        promote(quick, reports)
    assert _champion(quick) == first.model_version


def test_weakened_candidate_is_rejected_and_the_champion_kept(quick, reports):
    assert run_validation(quick, reports)
    first = train(quick, reports)
    run_gate(quick, reports)
    promote(quick, reports)

    weak = _with(_with(quick, "train", epochs=1, learning_rate=0.0001), "model", hidden_sizes=[2])
    train(weak, reports)
    decision = run_gate(weak, reports)
    assert decision.decision == "reject"
    candidate, baseline = decision.candidate_value, decision.baseline_value
    assert candidate < baseline if decision.greater_is_better else candidate > baseline  # scored worse
    with pytest.raises(PromotionRefused, match="reject"):
        promote(weak, reports)
    assert _champion(quick) == first.model_version


def test_better_model_is_promoted_and_rollback_swaps_back(quick, reports):
    by_log_loss = _with(
        quick, "gate", metric="log_loss", mode="relative", min_improvement=0.02
    )  # whatever was rendered
    assert run_validation(by_log_loss, reports)
    first = train(_with(by_log_loss, "train", epochs=2), reports)
    assert run_gate(by_log_loss, reports).decision == "promote"
    promote(by_log_loss, reports)
    longer = _with(by_log_loss, "train", epochs=40)
    second = train(longer, reports)
    decision = run_gate(longer, reports)
    assert (decision.decision, decision.baseline_version) == ("promote", first.model_version), decision.reason
    promote(longer, reports)
    client, name = connect(longer), longer.model.name
    aliases = {"champion": CHAMPION, "previous": PREVIOUS_CHAMPION}
    assert {key: alias_version(client, name, alias) for key, alias in aliases.items()} == {
        "champion": second.model_version,
        "previous": first.model_version,
    }
    rollback(longer)
    assert {key: alias_version(client, name, alias) for key, alias in aliases.items()} == {
        "champion": first.model_version,
        "previous": second.model_version,
    }


def test_promotion_needs_a_passing_gate_for_that_version(quick, reports):
    assert run_validation(quick, reports)
    trained = train(quick, reports)
    with pytest.raises(PromotionRefused, match="make gate"):
        promote(quick, reports)

    forged = {"decision": "promote", "reason": "", "metric": "accuracy", "model_name": quick.model.name}
    forged |= {"candidate_version": trained.model_version, "baseline_version": None, "eval_data_hash": "x"}
    reports.write(reports.gate, json.dumps(forged))
    with pytest.raises(PromotionRefused, match="no passing gate"):
        promote(quick, reports)
    reports.write(reports.gate, json.dumps({"decision": "promote"}))
    with pytest.raises(PromotionRefused, match="not a gate report"):
        promote(quick, reports)
    assert _champion(quick) is None
