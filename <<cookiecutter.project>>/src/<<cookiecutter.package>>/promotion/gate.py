"""`make gate`: decide whether the candidate may replace the champion. Fails closed.

The candidate (a version of the candidates model) and the production champion (or, before
there is one, a naive class-prior baseline) are scored here, in one process and one pass over
the data (`evaluation.py`), on the frozen evaluation set whose hash must match the one
recorded at training. Both are the served bundles the server would run, scored by ONNX
Runtime: this job imports no torch and runs no code from the registry. The digest of the
candidate's bytes goes into gate.json: the image build and promotion accept no other bytes.
Any doubt (server down, hash or digest mismatch, missing model or metric) is `error`, which
blocks promotion exactly like `reject` and fails the merge check. The rules are in `rule.py`.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import numpy as np
from mlflow import MlflowClient

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.metrics import METRICS
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.promotion.bootstrap import paired_bootstrap
from << cookiecutter.package >>.promotion.changes import rule_changes
from << cookiecutter.package >>.promotion.evaluation import Stopwatch, score_eval_set
from << cookiecutter.package >>.promotion.registry import CHAMPION, alias_version, fetch_served
from << cookiecutter.package >>.promotion.report import GateReport, redact
from << cookiecutter.package >>.promotion.rule import meets_requirement, required_value, within_tolerance
from << cookiecutter.package >>.tracking import connect


class GateError(RuntimeError):
    """The gate cannot decide; the pipeline must stop."""


def _candidate_version(params: Params, reports: Reports) -> str:
    if not reports.train.is_file():
        raise GateError(f"{reports.train} missing: run `make train` first (or pass --candidate-version)")
    report = json.loads(reports.train.read_text())
    if report.get("model_name") != params.model.candidates:
        raise GateError(f"{reports.train} is for model {report.get('model_name')!r}, not {params.model.candidates!r}")
    return str(report["model_version"])


def evaluate_gate(params: Params, reports: Reports, candidate_version: str | None = None) -> GateReport:
    """Score and decide; raises on anything that prevents a sound decision."""
    settings, name = params.gate, params.model.name
    metric = METRICS[settings.metric]
    candidate_version = candidate_version or _candidate_version(params, reports)

    client = connect(params)
    candidate_tags = client.get_model_version(params.model.candidates, candidate_version).tags or {}
    champion = alias_version(client, name, CHAMPION)
    report = GateReport(
        decision="reject",
        reason="",
        model_name=name,
        metric=metric.name,
        greater_is_better=metric.greater_is_better,
        mode=settings.mode,
        min_improvement=settings.min_improvement,
        merge_tolerance=settings.merge_tolerance,
        candidate_model=params.model.candidates,
        candidate_version=candidate_version,
        baseline_kind="champion" if champion else "naive",
        baseline_version=champion,
        confidence=settings.confidence,
        require_significance=settings.require_significance,
    )
    candidate, report.candidate_digest = fetch_served(client, params.model.candidates, candidate_version)
    baseline = fetch_served(client, name, champion)[0] if champion else None
    for role, model in (("candidate", candidate), ("champion", baseline)):
        if model is not None and model.task != params.data.task:
            raise GateError(f"the {role} is a {model.task} model, but data.task is {params.data.task!r}")

    stopwatch = Stopwatch()
    scored = score_eval_set(params.data, candidate, baseline, stopwatch, metric=metric.name)
    report.eval_data_hash, report.eval_rows, report.rows_read = scored.eval_hash, len(scored.labels), scored.rows_read
    trained_on = candidate_tags.get("eval_data_hash")
    if trained_on != scored.eval_hash:
        raise GateError(
            f"eval set hash mismatch: version {candidate_version} recorded {trained_on}, "
            f"the data now gives {scored.eval_hash}; retrain on the current data"
        )
    report.candidate_value = metric.compute(scored.labels, scored.candidate_proba)
    report.baseline_value = metric.compute(scored.labels, scored.baseline_proba)
    if not all(np.isfinite([report.candidate_value, report.baseline_value])):
        raise GateError(f"{metric.name} is not finite: {report.candidate_value} vs {report.baseline_value}")
    rule = (settings.mode, metric.greater_is_better, metric.reference)
    report.required_value = required_value(report.baseline_value, settings.min_improvement, *rule)
    report.merge_floor = required_value(report.baseline_value, -settings.merge_tolerance, *rule)
    with stopwatch.phase("bootstrap"):
        interval = paired_bootstrap(
            metric, scored.labels, scored.candidate_proba, scored.baseline_proba,
            settings.bootstrap_samples, settings.confidence, settings.seed,
        )  # fmt: skip
    report.ci_low, report.ci_high = interval.low, interval.high
    report.seconds = {phase: round(seconds, 3) for phase, seconds in stopwatch.seconds.items()}

    no_regression = within_tolerance(report.candidate_value, report.baseline_value, settings.merge_tolerance, *rule)
    report.merge = "pass" if no_regression else "regression"
    beats = meets_requirement(report.candidate_value, report.baseline_value, settings.min_improvement, *rule)
    significant = interval.low > 0
    required = f"the required {'>=' if metric.greater_is_better else '<='} {report.required_value:.4f}"
    verdict = "meets" if beats else "misses"
    report.reason = f"{metric.name} {report.candidate_value:.4f} {verdict} {required}"
    if not beats and report.baseline_value == metric.best:
        report.reason += f" (the baseline's {metric.name} is {metric.best:g}, the best possible: nothing can beat it)"
    if beats and settings.require_significance and not significant:
        report.reason = f"improvement CI [{interval.low:.4f}, {interval.high:.4f}] includes 0 (require_significance)"
    elif beats:
        report.decision = "promote"
    _record(client, report)
    return report


def _record(client: MlflowClient, report: GateReport) -> None:
    """Leave the decision on the candidate version, so the registry alone explains every promotion.

    Only the candidates model is written: the gate runs with the credential that cannot write
    the production model.
    """
    tags = {
        "gate.decision": report.decision,
        "gate.merge": report.merge,
        "gate.metric": report.metric,
        "gate.candidate_value": f"{report.candidate_value:.6f}",
        "gate.baseline_kind": report.baseline_kind,
        "gate.baseline_version": report.baseline_version or "",
        "gate.baseline_value": f"{report.baseline_value:.6f}",
        "gate.eval_data_hash": report.eval_data_hash,
        "gate.digest": report.candidate_digest,
    }
    for key, value in tags.items():
        client.set_model_version_tag(report.candidate_model, report.candidate_version, key, value)


def _explained(error: Exception) -> bool:
    """The package's own errors (GateError, RegistryError, ConfigError, ...) say what to fix in
    their message; only other failures need their traceback to be understood."""
    return type(error).__module__.split(".")[0] == __name__.split(".")[0]


def run_gate(
    params: Params,
    reports: Reports,
    candidate_version: str | None = None,
    policy_commit: str | None = None,
    proposed: Path | None = None,
) -> GateReport:
    """Decide, write the gate's reports, and never let an exception look like a pass.

    `policy_commit` is the commit whose code, policy and evaluation set decide (this tree's);
    `proposed`, a project directory whose changes to these rules are listed but do not decide
    (a pull request's tree, judged by its base)."""
    try:
        report = evaluate_gate(params, reports, candidate_version)
    except Exception as error:  # noqa: BLE001 - every failure must become a recorded `error` decision
        if not _explained(error):
            traceback.print_exc()
        report = GateReport(
            decision="error",
            # gate.json is uploaded as an artifact and its reason reaches the PR comment
            reason=redact(f"{type(error).__name__}: {error}", params.mlflow.tracking_uri),
            model_name=params.model.name,
            metric=params.gate.metric,
            candidate_model=params.model.candidates,
            candidate_version=candidate_version,
        )
    report.policy_commit = policy_commit
    if proposed is not None:
        report.rule_changes = rule_changes(Path.cwd(), proposed)
    report.write(reports)
    return report
