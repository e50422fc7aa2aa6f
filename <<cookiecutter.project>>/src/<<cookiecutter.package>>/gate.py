"""`make gate`: decide whether the candidate may replace the champion. Fails closed.

Champion (or, before there is one, a naive class-prior baseline) and candidate are scored
here, in one process, on the frozen evaluation set whose hash must match the one recorded
at training. Any doubt (server down, hash mismatch, missing model or metric) is `error`,
which blocks promotion exactly like `reject`.
"""

from __future__ import annotations

import json
import re
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.data import class_names, frame_sha256, read_table, split, to_dataset
from << cookiecutter.package >>.gate_rule import meets_requirement, paired_bootstrap, required_value
from << cookiecutter.package >>.metrics import METRICS
from << cookiecutter.package >>.registry import CHAMPION, alias_version, connect

if TYPE_CHECKING:
    from mlflow import MlflowClient

GATE_JSON, GATE_MD = "gate.json", "gate.md"
EXIT_CODES = {"promote": 0, "reject": 1, "error": 2}


class GateError(RuntimeError):
    """The gate cannot decide; the pipeline must stop."""


@dataclass
class GateReport:
    decision: str
    reason: str
    model_name: str
    metric: str
    greater_is_better: bool | None = None
    mode: str | None = None
    min_improvement: float | None = None
    candidate_version: str | None = None
    candidate_value: float | None = None
    baseline_kind: str | None = None
    baseline_version: str | None = None
    baseline_value: float | None = None
    required_value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    require_significance: bool | None = None
    eval_data_hash: str | None = None
    eval_rows: int | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]


def _candidate_version(params: Params, reports_dir: Path) -> str:
    train_report = reports_dir / "train.json"
    if not train_report.is_file():
        raise GateError(f"{train_report} missing: run `make train` first (or pass --candidate-version)")
    report = json.loads(train_report.read_text())
    if report.get("model_name") != params.model.name:
        raise GateError(f"{train_report} is for model {report.get('model_name')!r}, not {params.model.name!r}")
    return str(report["model_version"])


def _naive_proba(train_labels: np.ndarray, n_classes: int, n_rows: int) -> np.ndarray:
    """Class priors of the training split: majority-class predictions, calibrated probabilities."""
    priors = np.bincount(train_labels, minlength=n_classes) / len(train_labels)
    return np.tile(priors, (n_rows, 1))


def evaluate_gate(params: Params, reports_dir: Path, candidate_version: str | None = None) -> GateReport:
    """Score and decide; raises on anything that prevents a sound decision."""
    from << cookiecutter.package >>.mlflow_model import predict_proba  # torch + MLflow only when scoring

    settings, name = params.gate, params.model.name
    metric = METRICS[settings.metric]
    candidate_version = candidate_version or _candidate_version(params, reports_dir)

    frame = read_table(params.data.path)
    classes = class_names(frame, params.data)
    train_frame, eval_frame = split(frame, params.data)
    evaluation = to_dataset(eval_frame, params.data, classes)
    eval_hash = frame_sha256(eval_frame)

    client = connect(params)
    candidate = client.get_model_version(name, candidate_version)
    trained_on = (candidate.tags or {}).get("eval_data_hash")
    if trained_on != eval_hash:
        raise GateError(
            f"eval set hash mismatch: version {candidate_version} recorded {trained_on}, "
            f"the data now gives {eval_hash}; retrain on the current data"
        )
    champion = alias_version(client, name, CHAMPION)
    report = GateReport(
        decision="reject",
        reason="",
        model_name=name,
        metric=metric.name,
        greater_is_better=metric.greater_is_better,
        mode=settings.mode,
        min_improvement=settings.min_improvement,
        candidate_version=candidate_version,
        baseline_kind="champion" if champion else "naive",
        baseline_version=champion,
        confidence=settings.confidence,
        require_significance=settings.require_significance,
        eval_data_hash=eval_hash,
        eval_rows=len(evaluation.labels),
    )
    if champion == candidate_version:
        report.reason = f"version {candidate_version} already is the champion"
        return report

    candidate_proba = predict_proba(f"models:/{name}/{candidate_version}", evaluation.features, classes)
    if champion:
        baseline_proba = predict_proba(f"models:/{name}/{champion}", evaluation.features, classes)
    else:
        train_labels = to_dataset(train_frame, params.data, classes).labels
        baseline_proba = _naive_proba(train_labels, len(classes), len(evaluation.labels))

    report.candidate_value = metric.compute(evaluation.labels, candidate_proba)
    report.baseline_value = metric.compute(evaluation.labels, baseline_proba)
    if not all(np.isfinite([report.candidate_value, report.baseline_value])):
        raise GateError(f"{metric.name} is not finite: {report.candidate_value} vs {report.baseline_value}")
    report.required_value = required_value(
        report.baseline_value, settings.min_improvement, settings.mode, metric.greater_is_better
    )
    interval = paired_bootstrap(
        metric, evaluation.labels, candidate_proba, baseline_proba,
        settings.bootstrap_samples, settings.confidence, settings.seed,
    )  # fmt: skip
    report.ci_low, report.ci_high = interval.low, interval.high

    beats = meets_requirement(
        report.candidate_value, report.baseline_value, settings.min_improvement, settings.mode, metric.greater_is_better
    )
    significant = interval.low > 0
    required = f"the required {'>=' if metric.greater_is_better else '<='} {report.required_value:.4f}"
    verdict = "meets" if beats else "misses"
    report.reason = f"{metric.name} {report.candidate_value:.4f} {verdict} {required}"
    if beats and settings.require_significance and not significant:
        report.reason = f"improvement CI [{interval.low:.4f}, {interval.high:.4f}] includes 0 (require_significance)"
    elif beats:
        report.decision = "promote"
    _record(client, report)
    return report


def _record(client: MlflowClient, report: GateReport) -> None:
    """Leave the decision on the model versions, so the registry alone explains every alias move."""
    tags = {
        "gate.decision": report.decision,
        "gate.metric": report.metric,
        "gate.candidate_value": f"{report.candidate_value:.6f}",
        "gate.baseline_kind": report.baseline_kind,
        "gate.baseline_version": report.baseline_version or "",
        "gate.baseline_value": f"{report.baseline_value:.6f}",
        "gate.eval_data_hash": report.eval_data_hash,
    }
    for key, value in tags.items():
        client.set_model_version_tag(report.model_name, report.candidate_version, key, value)
    if report.baseline_version:
        client.set_model_version_tag(
            report.model_name, report.baseline_version, "gate.rescored_eval_data_hash", report.eval_data_hash
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"]+", re.IGNORECASE)


def redact(text: str) -> str:
    """Tracking-server URLs (hosts, credentials) out of what is posted where others read it."""
    return _URL.sub("<url>", text)


def render_markdown(report: GateReport) -> str:
    """The table a reviewer reads in the PR; URLs are redacted (the comment may be public)."""
    icon = {"promote": "✅", "reject": "❌", "error": "⛔"}[report.decision]
    champion = report.baseline_kind == "champion"
    baseline = f"champion v{report.baseline_version}" if champion else (report.baseline_kind or "n/a")
    direction = {True: "higher is better", False: "lower is better", None: "n/a"}[report.greater_is_better]
    margin = f"{report.mode} {report.min_improvement:g}" if report.min_improvement is not None else "n/a"
    rows = [
        ("Decision", f"{icon} **{report.decision}**: {redact(report.reason)}"),
        ("Metric", f"`{report.metric}` ({direction})"),
        ("Candidate", f"v{report.candidate_version}: {_fmt(report.candidate_value)}"),
        ("Baseline", f"{baseline}: {_fmt(report.baseline_value)}"),
        ("Required", f"{_fmt(report.required_value)} (margin: {margin})"),
        (
            f"Improvement CI ({(report.confidence or 0) * 100:.0f} %)",
            f"[{_fmt(report.ci_low)}, {_fmt(report.ci_high)}]"
            + (" (must exclude 0)" if report.require_significance else ""),
        ),
        ("Eval set", f"{report.eval_rows} rows, sha256 `{(report.eval_data_hash or 'n/a')[:12]}`"),
    ]
    lines = [f"### Promotion gate: `{report.model_name}`", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    return "\n".join(lines) + "\n"


def run_gate(params: Params, reports_dir: Path = Path("reports"), candidate_version: str | None = None) -> GateReport:
    """Decide, write reports/gate.json + gate.md, and never let an exception look like a pass."""
    try:
        report = evaluate_gate(params, reports_dir, candidate_version)
    except Exception as error:  # noqa: BLE001 - every failure must become a recorded `error` decision
        traceback.print_exc()
        report = GateReport(
            decision="error",
            reason=redact(f"{type(error).__name__}: {error}"),  # gate.json is uploaded as an artifact
            model_name=params.model.name,
            metric=params.gate.metric,
            candidate_version=candidate_version,
        )
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / GATE_JSON).write_text(json.dumps(asdict(report), indent=2) + "\n")
    (reports_dir / GATE_MD).write_text(render_markdown(report))
    return report
