"""The HTTP app for real (uvicorn on loopback): predictions, refused input, metrics, the prediction log."""

import json
from pathlib import Path

import pytest

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.data import features_of, read_table
from << cookiecutter.package >>.digest import bundle_digest
from << cookiecutter.package >>.monitoring.prediction_log import ClientQuota, PredictionLog
from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.serving import app as server_module
from << cookiecutter.package >>.serving.app import RequestLimits, create_app
from << cookiecutter.package >>.training.model import build_bundle
from tests.helpers import call, exported_bundle, records, running, send_raw


def test_server_predicts_checks_input_and_counts(server, exported, features):
    status, body = call(f"{server}/health")
    health = json.loads(body)
    assert status == 200
    assert (health["status"], health["model_name"], health["model_version"]) == ("ready", "test-model", "7")
    assert health["model_digest"] == bundle_digest(exported), "the digest of the bytes the server loaded"
    assert health["signature"].startswith("unverified"), "no trusted signer is configured in this test"
    status, body = call(f"{server}/predict", records(features, 3))
    assert status == 200
    result = json.loads(body)
    assert len(result["predictions"]) == len(result["probabilities"]) == 3
    assert result["model_version"] == "7"

    missing = {key: value for key, value in records(features, 1)[0].items() if key != "island"}
    for payload in ([missing], {"records": []}, b"not json", [{}] * 1001):
        status, body = call(f"{server}/predict", payload)
        assert status == 422, body
    assert json.loads(call(f"{server}/predict", [missing])[1])["detail"][0]["field"] == "island"

    status, metrics = call(f"{server}/metrics")
    assert status == 200
    assert 'http_requests_total{path="/predict",status="200"} 1.0' in metrics
    assert 'http_requests_total{path="/predict",status="422"} 5.0' in metrics
    counted = sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("model_predictions_total{")
    )
    assert counted == 3
    info = next(line for line in metrics.splitlines() if line.startswith("model_info{"))
    assert all(label in info for label in ('model_name="test-model"', 'model_version="7"', 'run_id="abc"'))


def test_checked_requests_are_logged_for_the_drift_check(server, features, prediction_log_path):
    before = len(prediction_log_path.read_text().splitlines()) if prediction_log_path.exists() else 0
    status, body = call(f"{server}/predict", records(features, 4))
    assert status == 200
    assert call(f"{server}/predict", [{"island": "Biscoe"}])[0] == 422  # refused input is not logged
    lines = [json.loads(line) for line in prediction_log_path.read_text().splitlines()[before:]]
    assert [line["prediction"] for line in lines] == json.loads(body)["predictions"]
    assert set(lines[0]["features"]) == set(features.columns)
    assert lines[0]["model_version"] == "7"


def test_hostile_bodies_get_422_and_the_server_stays_up(server, features):
    record = records(features, 1)[0]
    hostile = [
        [{**record, "bill_length_mm": 10**400}],  # beyond float range
        b"\xff\xfe not utf-8",
        b"[" * 100_000,  # nested past the parser's recursion limit
    ]
    for payload in hostile:
        status, body = call(f"{server}/predict", payload)
        assert status == 422, body[:200]
    assert call(f"{server}/health")[0] == 200


def test_a_failing_prediction_log_does_not_fail_the_request(exported, features):
    """/dev/full answers every write with ENOSPC, as a full disk does."""
    with running(create_app(exported, PredictionLog(Path("/dev/full")))) as url:
        status, _ = call(f"{url}/predict", records(features, 2))
        metrics = call(f"{url}/metrics")[1]
    assert status == 200
    assert "prediction_log_failures_total 1.0" in metrics
    assert 'http_requests_total{path="/predict",status="200"} 1.0' in metrics


def test_an_oversized_body_is_refused_at_once_without_reading_it(server):
    """Only the headers are sent: a server that waited for (or drained) the body would never answer."""
    status, response = send_raw(server, "POST /predict HTTP/1.1\nHost: x\nContent-Length: 100000000\n")
    assert status == 413, response
    assert "connection: close" in response.lower()
    chunked = "POST /predict HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n"
    status, response = send_raw(server, chunked, b"50000\r\n" + b"[" * 0x50000 + b"\r\n")  # no last chunk
    assert status in (413, 0), response  # 413, or reset with the rest of the body unread: never drained
    assert call(f"{server}/health")[0] == 200


def test_a_body_that_never_arrives_is_refused(exported):
    with running(create_app(exported, limits=RequestLimits(body_timeout_s=0.2))) as url:
        status, response = send_raw(url, "POST /predict HTTP/1.1\nHost: x\nContent-Length: 100\n", b"[{")
    assert status == 408, response


def test_one_client_cannot_fill_the_prediction_log(exported, features, tmp_path):
    path = tmp_path / "predictions.jsonl"
    with running(create_app(exported, PredictionLog(path, quota=ClientQuota(rows=5, window_s=3600)))) as url:
        for _ in range(3):
            assert call(f"{url}/predict", records(features, 4))[0] == 200
    assert len(path.read_text().splitlines()) == 5


def test_the_entry_point_takes_its_limits_from_the_environment(monkeypatch: pytest.MonkeyPatch, exported):
    """The image is configured by environment variables; uvicorn gets the connection limits."""
    started = {}
    monkeypatch.setattr(server_module.uvicorn, "run", lambda app, **options: started.update(options))
    monkeypatch.setenv("SERVE_LIMIT_CONCURRENCY", "7")
    monkeypatch.setenv("SERVE_TIMEOUT_KEEP_ALIVE_S", "3")
    monkeypatch.setenv("SERVE_MAX_HEADER_BYTES", "4096")
    server_module.main(["--model-dir", str(exported), "--prediction-log", ""])
    assert started["limit_concurrency"] == 7
    assert started["timeout_keep_alive"] == 3
    assert started["h11_max_incomplete_event_size"] == 4096
    assert started["http"] == "h11"  # httptools does not bound the headers


@pytest.mark.slow
def test_a_regression_model_answers_numbers_in_target_units(regression: Params, tmp_path: Path):
    features = features_of(read_table(regression.data.path), regression.data)
    bundle = build_bundle(Preprocessor.fit(features), [], regression.model, "regression", (4200.0, 800.0))
    log_path = tmp_path / "predictions.jsonl"
    with running(create_app(exported_bundle(bundle, tmp_path / "model"), PredictionLog(log_path))) as url:
        status, body = call(f"{url}/predict", records(features, 4))
        metrics = call(f"{url}/metrics")[1]
    assert status == 200, body
    assert 'model_predictions_total{predicted_class="number"} 4.0' in metrics  # the no-predictions alert's count
    result = json.loads(body)
    assert set(result) == {"model_name", "model_version", "predictions"}
    assert all(isinstance(value, float) for value in result["predictions"])
    expected = bundle.predict_outputs(features.head(4))[:, 0]
    assert result["predictions"] == pytest.approx(expected.tolist(), rel=1e-5)
    logged = [json.loads(line)["prediction"] for line in log_path.read_text().splitlines()]
    assert logged == pytest.approx(result["predictions"])
