"""validate -> train -> gate -> promote on the shipped data, in process, with real GX, torch and MLflow."""

import json

import pytest

from << cookiecutter.package >>.data import read_table
from << cookiecutter.package >>.promotion.gate import run_gate
from << cookiecutter.package >>.promotion.promote import PromotionRefused, promote, rollback
from << cookiecutter.package >>.promotion.registry import CHAMPION, PREVIOUS_CHAMPION, alias_version
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training.train import TrainingError, train
from << cookiecutter.package >>.validation.report import run_validation
from tests.helpers import with_settings


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
