"""The ONNX export and the model server (parity with torch, the HTTP contract, bad input, metrics),
and the parts of the image builder that need no container engine."""

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import uvicorn
import yaml

from << cookiecutter.package >>.config import load_params
from << cookiecutter.package >>.data import class_names, read_table, to_dataset
from << cookiecutter.package >>.drift import run_drift
from << cookiecutter.package >>.export import PARITY_TOLERANCE, export_bundle, parity
from << cookiecutter.package >>.image import ImageError, detect_engine, parse_size
from << cookiecutter.package >>.model import Preprocessor, build_bundle
from << cookiecutter.package >>.prediction_log import PredictionLog
from << cookiecutter.package >>.serve import InvalidInput, ServedModel
from << cookiecutter.package >>.server import create_app

PROJECT_ROOT = Path(__file__).resolve().parents[1]
METADATA = {"model_name": "test-model", "model_version": "7", "run_id": "abc"}


@pytest.fixture(scope="module")
def features():
    params = load_params(PROJECT_ROOT / "params.yaml", environ={})
    frame = read_table(PROJECT_ROOT / params.data.path)
    return to_dataset(frame, params.data, class_names(frame, params.data)).features


@pytest.fixture(scope="module")
def bundle(features):
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    return build_bundle(Preprocessor.fit(features), classes, [16, 8], 0.1)


@pytest.fixture(scope="module")
def exported(bundle, tmp_path_factory) -> Path:
    return export_bundle(bundle, tmp_path_factory.mktemp("model"), METADATA)


@pytest.fixture(scope="module")
def prediction_log_path(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs") / "predictions.jsonl"


@contextmanager
def _running(app) -> Iterator[str]:
    """The real server (uvicorn + the app) on a free loopback port, in a thread; yields its URL."""
    app_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=app_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not app_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = app_server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    app_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(exported, prediction_log_path):
    with _running(create_app(exported, PredictionLog(prediction_log_path))) as url:
        yield url


def _records(features, rows: int) -> list[dict]:
    frame = features.head(rows).astype(object)
    return frame.where(frame.notna(), None).to_dict(orient="records")


def _call(url: str, payload: object | None = None) -> tuple[int, str]:
    data = None if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_onnx_export_predicts_what_torch_predicts(bundle, exported, features):
    difference = parity(bundle, exported, features)
    print(f"ONNX Runtime vs torch on {len(features)} rows: max |probability difference| = {difference:.2e}")
    assert difference <= PARITY_TOLERANCE
    metadata = json.loads((exported / "metadata.json").read_text())
    assert metadata == {**METADATA, "classes": bundle.classes}


def test_served_model_treats_null_as_missing_like_torch(exported, features, bundle):
    model = ServedModel.load(exported)
    numeric, categorical = next(iter(model.preprocessor.numeric)), next(iter(model.preprocessor.categorical))
    frame = features.head(20).copy()
    frame.loc[0, numeric], frame.loc[1, categorical] = np.nan, np.nan
    records = _records(frame, 20)
    assert records[0][numeric] is None and records[1][categorical] is None
    result = model.predict_columns(model.columns({"dataframe_records": records}))
    expected = bundle.predict_proba(frame)
    np.testing.assert_allclose(result["probabilities"], expected, atol=PARITY_TOLERANCE)
    assert result["predictions"] == [bundle.classes[index] for index in expected.argmax(axis=1)]


def test_invalid_input_names_the_record_and_field(exported, features):
    model = ServedModel.load(exported)
    good = _records(features, 1)[0]
    numeric, categorical = next(iter(model.preprocessor.numeric)), next(iter(model.preprocessor.categorical))
    with pytest.raises(InvalidInput) as raised:
        model.columns([good, {**good, numeric: "12", categorical: 3, "extra": 1}])
    assert {(error["record"], error["field"]) for error in raised.value.errors} == {
        (1, numeric),
        (1, categorical),
        (1, "extra"),
    }
    assert f"records.1.{numeric}" in str(raised.value)


def test_server_predicts_checks_input_and_counts(server, features):
    status, body = _call(f"{server}/health")
    assert (status, json.loads(body)) == (200, {"status": "ready", "model_name": "test-model", "model_version": "7"})
    status, body = _call(f"{server}/predict", _records(features, 3))
    assert status == 200
    result = json.loads(body)
    assert len(result["predictions"]) == len(result["probabilities"]) == 3
    assert result["model_version"] == "7"

    missing = {key: value for key, value in _records(features, 1)[0].items() if key != "island"}
    for payload in ([missing], {"records": []}, b"not json", [{}] * 1001):
        status, body = _call(f"{server}/predict", payload)
        assert status == 422, body
    assert json.loads(_call(f"{server}/predict", [missing])[1])["detail"][0]["field"] == "island"

    status, metrics = _call(f"{server}/metrics")
    assert status == 200
    assert 'http_requests_total{path="/predict",status="200"} 1.0' in metrics
    assert 'http_requests_total{path="/predict",status="422"} 5.0' in metrics
    counted = sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("model_predictions_total{")
    )
    assert counted == 3
    assert 'model_info{model_name="test-model",model_version="7",run_id="abc"} 1.0' in metrics


def test_image_engine_choice_and_size_parsing():
    with pytest.raises(ImageError, match="unknown container engine 'podman'"):
        detect_engine("podman")
    assert detect_engine("buildah") == "buildah"
    assert parse_size("307 MB") == 307_000_000
    assert parse_size("1.25GB") == 1_250_000_000


def test_checked_requests_are_logged_for_the_drift_check(server, features, prediction_log_path):
    before = len(prediction_log_path.read_text().splitlines()) if prediction_log_path.exists() else 0
    status, body = _call(f"{server}/predict", _records(features, 4))
    assert status == 200
    assert _call(f"{server}/predict", [{"island": "Biscoe"}])[0] == 422  # refused input is not logged
    lines = [json.loads(line) for line in prediction_log_path.read_text().splitlines()[before:]]
    assert [line["prediction"] for line in lines] == json.loads(body)["predictions"]
    assert set(lines[0]["features"]) == set(features.columns)
    assert lines[0]["model_version"] == "7"


PROMQL_WORDS = {"by", "without", "on", "ignoring", "and", "or", "unless", "bool", "le", "time", "inf"}


def _metric_names(expression: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or labels."""
    expression = re.sub(r"\{[^}]*\}", "", expression)  # label matchers
    expression = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expression)  # label lists
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", expression))
    return {name for name in names if name.lower() not in PROMQL_WORDS and not re.fullmatch(r"\d+[smhd]?", name)}


def test_alerts_and_dashboard_use_only_metrics_that_are_exported(server, features, params, tmp_path):
    """Scrape the running server (and run the drift check) and compare with every expression."""
    _call(f"{server}/predict", _records(features, 2))
    exported = {
        line.split("{")[0].split(" ")[0] for line in _call(f"{server}/metrics")[1].splitlines() if line[:1] != "#"
    }
    sample = tmp_path / "recent.csv"
    features.sample(150, replace=True, random_state=0).to_csv(sample, index=False)
    run_drift(params, sample, tmp_path)
    exported |= {
        line.split("{")[0].split(" ")[0]
        for line in (tmp_path / "drift.prom").read_text().splitlines()
        if line[:1] != "#"
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


def test_hostile_bodies_get_422_and_the_server_stays_up(server, features):
    record = _records(features, 1)[0]
    hostile = [
        [{**record, "bill_length_mm": 10**400}],  # beyond float range
        b"\xff\xfe not utf-8",
        b"[" * 100_000,  # nested past the parser's recursion limit
        b"[" + b'"x",' * 1_500_000 + b'"x"]',  # over the body size limit
    ]
    for payload in hostile:
        status, body = _call(f"{server}/predict", payload)
        assert status == 422, body[:200]
    assert _call(f"{server}/health")[0] == 200


def test_a_failing_prediction_log_does_not_fail_the_request(exported, features):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    with _running(create_app(exported, PredictionLog(Path("/dev/full")))) as url:
        status, _ = _call(f"{url}/predict", _records(features, 2))
        metrics = _call(f"{url}/metrics")[1]
    assert status == 200
    assert "prediction_log_failures_total 1.0" in metrics
    assert 'http_requests_total{path="/predict",status="200"} 1.0' in metrics
