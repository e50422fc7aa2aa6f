"""Alerts and the dashboard name only metrics the server and the drift check export, and fire when they should."""

import json
import re
import shutil
import subprocess

import pytest
import yaml

from << cookiecutter.package >>.monitoring.drift import run_drift
from << cookiecutter.package >>.paths import Reports
from tests.helpers import PROJECT_ROOT, call, records

PROMQL_WORDS = {"by", "without", "on", "ignoring", "and", "or", "unless", "bool", "le", "time", "inf"}


def _metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or labels."""
    expression = re.sub(r"\{[^}]*\}", "", expression)  # label matchers
    expression = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expression)  # label lists
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expression))
    return {name for name in names if name.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhd]?", name)}


@pytest.mark.slow
def test_alerts_and_dashboard_use_only_metrics_that_are_exported(server, features, params, tmp_path):
    """Scrape the running server (and run the drift check) and compare with every expression."""
    call(f"{server}/predict", records(features, 2))
    exported = {
        line.split("{")[0].split(" ")[0] for line in call(f"{server}/metrics")[1].splitlines() if line[:1] != "#"
    }
    sample = tmp_path / "recent.csv"
    features.sample(150, replace=True, random_state=0).to_csv(sample, index=False)
    reports = Reports(tmp_path)
    run_drift(params, reports, sample)
    exported |= {
        line.split("{")[0].split(" ")[0] for line in reports.drift_metrics.read_text().splitlines() if line[:1] != "#"
    }

    monitoring = PROJECT_ROOT / "monitoring"
    rules = yaml.safe_load((monitoring / "alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((monitoring / "dashboard.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set().union(*(_metric_names(expression) for expression in expressions))
    assert used >= {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "model_predictions_total",
        "model_drift_psi",
    }
    assert used <= exported, f"not exported: {sorted(used - exported)}"


def test_alert_rules_fire_when_they_should():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    monitoring = PROJECT_ROOT / "monitoring"
    subprocess.run([promtool, "check", "rules", "alerts.yml"], cwd=monitoring, check=True, capture_output=True)
    result = subprocess.run(
        [promtool, "test", "rules", "alerts.test.yml"], cwd=monitoring, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
