"""The gate's report: what a reviewer reads, with nothing in it that may not be public."""

import pytest

from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.promotion.report import GateReport, redact, render_markdown


def test_reports_posted_on_pull_requests_carry_no_server_urls():
    url = "http://user:secret@mlflow.internal:5000/api"  # pragma: allowlist secret
    assert redact(f"ConnectionError: {url} failed") == "ConnectionError: <url> failed"


def test_report_round_trips_and_renders_the_decision(tmp_path):
    report = GateReport(
        decision="reject", reason="accuracy 0.8000 misses the required >= 0.8160", model_name="m", metric="accuracy",
        greater_is_better=True, mode="relative", min_improvement=0.02, candidate_version="2", candidate_value=0.8,
        baseline_kind="champion", baseline_version="1", baseline_value=0.8, required_value=0.816,
        rows_read=1000, seconds={"read": 1.5, "score_candidate": 0.25, "score_baseline": 0.25, "bootstrap": 0.01},
    )  # fmt: skip
    reports = Reports(tmp_path)
    report.write(reports)
    assert GateReport.read(reports) == report
    markdown = reports.gate_markdown.read_text()
    assert markdown == render_markdown(report)
    assert (
        "❌ **reject**" in markdown
        and "champion v1: 0.8000" in markdown
        and "0.8160 (margin: relative 0.02)" in markdown
        and "1000 rows read; read 1.50 s, score candidate 0.25 s, score baseline 0.25 s, bootstrap 0.01 s" in markdown
    )


def test_a_file_that_is_not_a_gate_report_is_named(tmp_path):
    reports = Reports(tmp_path)
    assert GateReport.read(reports) is None
    reports.write(reports.gate, '{"decision": "promote"}')
    with pytest.raises(ValueError, match="not a gate report"):
        GateReport.read(reports)


def test_redact_removes_the_tracking_host_in_any_form():
    """A connection error names the host without a URL; the PR comment must not."""
    error = "ConnectionError: HTTPSConnectionPool(host='MLflow.corp.internal', port=443): Max retries exceeded"
    redacted = redact(error, "https://mlflow.corp.internal/")
    assert "corp.internal" not in redacted.lower()
    assert "HTTPSConnectionPool(host='<tracking-server>', port=443)" in redacted
    assert redact(error, "sqlite:///mlflow.db") == error  # no host: nothing else to hide


def test_a_gate_that_stopped_early_shows_no_empty_values():
    report = GateReport(
        decision="error", reason="GateError: reports/train.json missing", model_name="m", metric="accuracy",
        candidate_model="m-candidates",
    )  # fmt: skip
    markdown = render_markdown(report)
    assert "None" not in markdown and "(0 %)" not in markdown
    assert "| Candidate | `m-candidates`: n/a |" in markdown and "| Eval set | n/a |" in markdown
