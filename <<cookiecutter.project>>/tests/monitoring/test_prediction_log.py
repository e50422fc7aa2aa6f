"""The server's sample of its traffic: bounded, rotated, sampled at the requested rate."""

import json

import pytest

from << cookiecutter.package >>.monitoring.prediction_log import ClientQuota, PredictionLog, rotated

COLUMNS = {"island": ["Biscoe", "Dream"], "bill_length_mm": [40.1, 38.2]}


def test_log_rotates_and_stays_bounded(tmp_path):
    path = tmp_path / "logs" / "predictions.jsonl"
    log = PredictionLog(path, max_bytes=2_000)
    for _ in range(100):
        log.record(COLUMNS, ["Adelie", "Gentoo"], "3")
    log.close()
    assert rotated(path).is_file()
    assert path.stat().st_size < 2_000 + 500  # rotated as soon as it passed the bound
    assert rotated(path).stat().st_size < 2_000 + 500
    line = json.loads(rotated(path).read_text().splitlines()[0])  # the current file may have just rotated
    assert line["features"] in (
        {"island": "Biscoe", "bill_length_mm": 40.1},
        {"island": "Dream", "bill_length_mm": 38.2},
    )
    assert line["model_version"] == "3"


def test_sampling_keeps_about_the_requested_share(tmp_path):
    log = PredictionLog(tmp_path / "p.jsonl", sample_rate=0.1)
    for _ in range(1000):
        log.record(COLUMNS, ["Adelie", "Gentoo"], "3")
    log.close()
    kept = len((tmp_path / "p.jsonl").read_text().splitlines())
    assert 120 < kept < 290  # 2000 rows at 10 %: far outside this only by a broken sampler


def test_sample_rate_is_checked(tmp_path):
    with pytest.raises(ValueError, match="sample rate"):
        PredictionLog(tmp_path / "p.jsonl", sample_rate=2)


def test_each_client_logs_at_most_its_quota_per_window(tmp_path):
    now = [0.0]
    log = PredictionLog(tmp_path / "p.jsonl", quota=ClientQuota(rows=3, window_s=60, clock=lambda: now[0]))
    for client in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
        log.record(COLUMNS, ["Adelie", "Gentoo"], "3", client)
    now[0] = 61.0  # a new window: the first client may log again
    log.record(COLUMNS, ["Adelie", "Gentoo"], "3", "10.0.0.1")
    log.close()
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 3 + 2 + 2
