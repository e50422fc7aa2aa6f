"""The gate's decision as a record: JSON for machines (CI reads `decision` and `merge`), Markdown
for the reviewer (the step summary and the pull-request comment, which may be public).

Two verdicts: `decision` (promote / reject / error) says whether the candidate may become the
champion; `merge` (pass / regression / error) says whether the change may merge, because it
is not worse than the champion by more than `merge_tolerance`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from urllib.parse import urlsplit

from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.redaction import URL

EXIT_CODES = {"promote": 0, "reject": 1, "error": 2}
MERGE_ICONS = {"pass": "✅", "regression": "❌", "error": "⛔"}


@dataclass
class GateReport:
    decision: str
    reason: str
    model_name: str
    metric: str
    merge: str = "error"
    greater_is_better: bool | None = None
    mode: str | None = None
    min_improvement: float | None = None
    candidate_model: str | None = None
    candidate_version: str | None = None
    candidate_digest: str | None = None
    candidate_value: float | None = None
    baseline_kind: str | None = None
    baseline_version: str | None = None
    baseline_value: float | None = None
    required_value: float | None = None
    merge_tolerance: float | None = None
    merge_floor: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float | None = None
    require_significance: bool | None = None
    eval_data_hash: str | None = None
    eval_rows: int | None = None
    rows_read: int | None = None  # the whole table: the split happens as the gate reads
    seconds: dict[str, float] | None = None  # per phase: read, score_candidate, score_baseline, bootstrap
    policy_commit: str | None = None  # the commit whose gate code, policy and evaluation set decided
    rule_changes: list[str] | None = None  # what the judged change does to those rules (changes.py)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.decision]

    @classmethod
    def read(cls, reports: Reports) -> GateReport | None:
        """The last decision written to `reports`, or None when the gate has not run; ValueError
        when the file is not a gate report."""
        if not reports.gate.is_file():
            return None
        raw = json.loads(reports.gate.read_text())
        known = {field.name for field in fields(cls)}
        try:
            return cls(**{key: value for key, value in raw.items() if key in known})
        except TypeError as error:
            raise ValueError(f"{reports.gate} is not a gate report ({error}): run `make gate` again") from None

    def write(self, reports: Reports) -> None:
        reports.write(reports.gate, json.dumps(asdict(self), indent=2) + "\n")
        reports.write(reports.gate_markdown, render_markdown(self))


def redact(text: str, tracking_uri: str | None = None) -> str:
    """Tracking-server addresses and credentials out of what is posted where others read it:
    every URL, and the configured server's host in any other form (an HTTP client's
    `HTTPSConnectionPool(host='mlflow.corp.internal', ...)` names it without a URL). Stricter
    than the logs' `redact_userinfo`, which keeps the host for whoever debugs the run."""
    text = URL.sub("<url>", text)
    host = urlsplit(tracking_uri).hostname if tracking_uri else None
    if host:
        text = re.sub(re.escape(host), "<tracking-server>", text, flags=re.IGNORECASE)
    return text


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _cost(report: GateReport) -> str:
    """Where the gate's time went, so a team sees when its evaluation set makes it slow."""
    if not report.seconds:
        return "n/a"
    phases = ", ".join(f"{phase.replace('_', ' ')} {seconds:.2f} s" for phase, seconds in report.seconds.items())
    return f"{report.rows_read} rows read; {phases}"


def _eval_set(report: GateReport) -> str:
    if report.eval_rows is None:  # the gate stopped before it read the data
        return "n/a"
    return f"{report.eval_rows} rows, sha256 `{(report.eval_data_hash or 'n/a')[:12]}`"


def render_markdown(report: GateReport) -> str:
    """The table a reviewer reads in the PR; URLs are redacted (the comment may be public).
    A gate that stopped early (`error`) leaves fields empty: they read "n/a", never "None"."""
    icon = {"promote": "✅", "reject": "❌", "error": "⛔"}[report.decision]
    champion = report.baseline_kind == "champion"
    baseline = f"champion v{report.baseline_version}" if champion else (report.baseline_kind or "n/a")
    version = f" v{report.candidate_version}" if report.candidate_version else ""
    confidence = f" ({report.confidence * 100:.0f} %)" if report.confidence is not None else ""
    direction = {True: "higher is better", False: "lower is better", None: "n/a"}[report.greater_is_better]
    margin = f"{report.mode} {report.min_improvement:g}" if report.min_improvement is not None else "n/a"
    tolerance = f"{report.mode} {report.merge_tolerance:g}" if report.merge_tolerance is not None else "n/a"
    digest = f", `{report.candidate_digest[:19]}`" if report.candidate_digest else ""
    rows = [
        ("Decision", f"{icon} **{report.decision}**: {redact(report.reason)}"),
        ("Merge check", f"{MERGE_ICONS[report.merge]} **{report.merge}**"),
        ("Metric", f"`{report.metric}` ({direction})"),
        (
            "Candidate",
            f"`{report.candidate_model}`{version}: {_fmt(report.candidate_value)}{digest}",
        ),
        ("Baseline", f"{baseline}: {_fmt(report.baseline_value)}"),
        ("Required to promote", f"{_fmt(report.required_value)} (margin: {margin})"),
        ("Merge floor", f"{_fmt(report.merge_floor)} (tolerance: {tolerance})"),
        (
            f"Improvement CI{confidence}",
            f"[{_fmt(report.ci_low)}, {_fmt(report.ci_high)}]"
            + (" (must exclude 0)" if report.require_significance else ""),
        ),
        ("Eval set", _eval_set(report)),
        ("Cost", _cost(report)),
        ("Rules of", f"commit `{report.policy_commit[:12]}`" if report.policy_commit else "n/a"),
    ]
    lines = [f"### Promotion gate: `{report.model_name}`", "", "| | |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in rows]
    if report.rule_changes:
        lines += ["", "#### This change edits the rules that judge it", ""]
        lines += [f"- {redact(change)}" for change in report.rule_changes]
        lines += ["", "The verdicts above come from the base commit's rules, not from these changes."]
    return "\n".join(lines) + "\n"
