"""The hostile-load benchmark, short: its refusals and the server's health, never its timings
(`make bench-hostile` prints those, on a machine of known speed)."""

import json
import subprocess
import sys

import pytest

from tests.helpers import PROJECT_ROOT

pytestmark = pytest.mark.slow


def test_hostile_clients_are_refused_and_the_server_stays_healthy():
    # No --model-dir: the bench exports an untrained network of the project's task itself
    command = [sys.executable, "scripts/bench_hostile.py", "--seconds", "3", "--json"]
    command += ["--max-p99-ms", "inf", "--max-rss-mb", "inf"]  # timings are the benchmark's business
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    outcomes = report["outcomes"]
    assert outcomes.get("huge 413", 0) > 0  # refused at once, not drained
    assert outcomes.get("many-keys 422", 0) > 0  # with at most 21 errors, or it reads "422-unbounded"
    assert outcomes.get("nested 422", 0) > 0
    assert report["unexpected"] == []
    assert report["health_failures"] == 0
    assert report["healthy_after"]
