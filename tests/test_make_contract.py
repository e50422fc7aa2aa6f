"""The Make contract of a rendered project as a user runs it: targets, variables and exit statuses.

`make install validate train gate promote` on real GX, torch and MLflow (SQLite); a retrain that
is not better is refused; bad data via DATA= / PARAMS= is refused; the gate fails closed when the
tracking server is unreachable; a killed training resumes with RESUME=1; `make install` builds
its own environment in which `make test` passes and `make lint` needs no network. The
pipeline's own rules (a weak candidate, a
forged gate report) are the generated project's own tests.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from ci_local.harness import git_init
from support.act.scenarios import REPOSITORY
from support.commands import (
    PYTHON,
    gate_cli,
    lint_offline,
    make,
    params_variant,
    read_report,
    run,
    tool_env,
    torch_swap,
)
from support.template import DEFAULT_PACKAGE, default_package, render

pytestmark = pytest.mark.slow


@pytest.fixture
def pipeline_env(mlflow_db: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """Shared tracking DB and a model name of this test's own."""
    return tool_env(MLFLOW_TRACKING_URI=mlflow_db, MODEL_NAME=request.node.name[:60])


def _aliases(env: dict[str, str]) -> dict[str, str]:
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    return {alias: str(version) for alias, version in client.get_registered_model(env["MODEL_NAME"]).aliases.items()}


def test_install_validate_train_gate_promote_then_identical_retrain_is_rejected(
    tmp_path: Path, pipeline_env: dict[str, str]
):
    project = render(tmp_path)
    make(project, "install", env=pipeline_env)
    make(project, "validate", "train", "gate", "promote", env=pipeline_env)
    gate = read_report(project, "gate.json")
    assert (gate["decision"], gate["baseline_kind"], gate["baseline_version"]) == ("promote", "naive", None)
    assert gate["candidate_value"] >= gate["required_value"]
    assert _aliases(pipeline_env) == {"champion": "1"}

    make(project, "train", env=pipeline_env)
    rejected = make(project, "gate", env=pipeline_env, check=False)
    assert rejected.returncode != 0  # GNU make reports any failed recipe as 2; the CLI keeps 1 vs 2
    assert gate_cli(project, pipeline_env).returncode == 1
    gate = read_report(project, "gate.json")
    assert (gate["decision"], gate["baseline_kind"], gate["candidate_version"]) == ("reject", "champion", "2")
    assert read_report(project, "train.json")["eval_data_hash"] == gate["eval_data_hash"]
    refused = make(project, "promote", env=pipeline_env, check=False)
    assert refused.returncode != 0
    assert "reject" in refused.stderr
    assert _aliases(pipeline_env) == {"champion": "1"}


def test_a_regression_render_promotes_over_the_naive_baseline_exports_and_serves_numbers(
    tmp_path: Path, pipeline_env: dict[str, str]
):
    """`task=regression`: the shipped penguins' body mass, end to end through `make`."""
    project = render(tmp_path, task="regression")
    make(project, "install", env=pipeline_env)
    exported = make(project, "validate", "train", "gate", "promote", "export", env=pipeline_env)
    gate = read_report(project, "gate.json")
    assert (gate["decision"], gate["baseline_kind"], gate["metric"]) == ("promote", "naive", "rmse")
    assert gate["candidate_value"] <= gate["required_value"] < gate["baseline_value"]
    parity = re.search(r"prediction difference\| / target std = (\S+)", exported.stdout)
    assert parity and float(parity.group(1)) <= 1e-5, exported.stdout
    served = run(
        [PYTHON, "-c", SERVE_ONE.format(package=default_package({"task": "regression"}))], cwd=project, env=pipeline_env
    ).stdout.strip()
    predictions = json.loads(served)["predictions"]
    assert len(predictions) == 3 and all(isinstance(value, float) and 2000 < value < 7000 for value in predictions)


# POST three shipped rows to the exported model's /predict: the app for real, on loopback.
SERVE_ONE = """
import json, pandas
from {package}.paths import MODEL_DIR
from {package}.serving.app import create_app
from tests.helpers import call, running
rows = pandas.read_csv("data/penguins.csv").drop(columns=["body_mass_g"]).head(3).to_dict(orient="records")
with running(create_app(MODEL_DIR, None)) as url:
    status, body = call(url + "/predict", rows)
assert status == 200, body
print(body)
"""


def test_bad_data_stops_validation_and_training(tmp_path: Path, pipeline_env: dict[str, str]):
    project = render(tmp_path)
    data = project / "data" / "penguins.csv"
    dropped = tmp_path / "dropped.csv"
    lines = [",".join(line.split(",")[:-1]) for line in data.read_text().splitlines()]  # drop column `sex`
    dropped.write_text("\n".join(lines) + "\n")

    result = make(project, "validate", env=pipeline_env, check=False, DATA=str(dropped))
    assert result.returncode != 0
    assert "sex" in result.stdout + result.stderr

    bad = params_variant(project, "bad.yaml", data={"path": str(dropped), "features": None})
    assert make(project, "validate", env=pipeline_env, check=False, PARAMS=bad).returncode != 0
    refused = make(project, "train", env=pipeline_env, check=False, PARAMS=bad)
    assert refused.returncode != 0
    assert "failed validation" in refused.stderr
    assert not (project / "reports" / "train.json").exists()


def test_gate_fails_closed_when_the_tracking_server_is_unreachable(tmp_path: Path, pipeline_env: dict[str, str]):
    project = render(tmp_path)
    make(project, "validate", "train", env=pipeline_env)
    unreachable = {**pipeline_env, "MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    assert gate_cli(project, unreachable).returncode == 2
    gate = read_report(project, "gate.json")
    assert gate["decision"] == "error"
    assert "127.0.0.1:9" not in gate["reason"]  # redacted: the report may be posted on a public PR
    assert "<url>" in gate["reason"] or "Connection" in gate["reason"]


def test_gate_before_any_training_is_one_clear_line_and_a_clean_error_report(
    tmp_path: Path, pipeline_env: dict[str, str]
):
    """A new user's `make gate` in a fresh render: what to run first, no traceback; the error
    gate.md shows no placeholder of a missing value."""
    project = render(tmp_path)
    refused = make(project, "gate", env=pipeline_env, check=False)
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "Traceback" not in output
    assert "gate: error: GateError: reports/train.json missing: run `make train` first" in output
    markdown = (project / "reports" / "gate.md").read_text()
    assert "run `make train` first" in markdown
    for placeholder in ("vNone", "None rows", "(0 %)"):
        assert placeholder not in markdown, markdown


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path: Path, pipeline_env: dict[str, str]):
    project = render(tmp_path)
    make(project, "validate", env=pipeline_env)
    slow = params_variant(project, "slow.yaml", train={"epochs": 400})
    checkpoint = project / "checkpoints" / pipeline_env["MODEL_NAME"] / "last.pt"
    command = [PYTHON, "-m", DEFAULT_PACKAGE, "--params", slow, "train"]
    process = subprocess.Popen(command, cwd=project, env=pipeline_env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if checkpoint.exists() and torch.load(checkpoint, weights_only=True)["epoch"] >= 3:
            break
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    saved_epoch = torch.load(checkpoint, weights_only=True)["epoch"]

    resumed = make(project, "train", env=pipeline_env, RESUME="1", PARAMS=slow)
    assert f"from epoch {saved_epoch + 1}" in resumed.stdout
    train = read_report(project, "train.json")
    assert train["resumed_from_epoch"] == saved_epoch + 1
    assert train["epochs_run"] == 400 - saved_epoch
    client = MlflowClient(tracking_uri=pipeline_env["MLFLOW_TRACKING_URI"])
    versions = client.search_model_versions(f"name='{pipeline_env['MODEL_NAME']}-candidates'")
    assert [str(version.version) for version in versions] == ["1"]
    run = client.get_run(train["run_id"])
    assert run.info.status == "FINISHED"
    # every epoch logged once at least (one killed between its log and its checkpoint is logged again)
    steps = {metric.step for metric in client.get_metric_history(run.info.run_id, "train_loss")}
    assert steps == set(range(1, 401))
    assert not checkpoint.exists()


def test_make_install_builds_its_own_environment_and_make_test_passes(tmp_path: Path):
    """The README's `make install test` on a fresh render, with no interpreter handed in; then
    `make lint`, the pre-commit hooks on the linters that install brought, with no network."""
    project = render(tmp_path)
    env = tool_env(UV_PYTHON_DOWNLOADS="never")
    swap = [f"{name}={value}" for name, value in torch_swap().items()]  # the CPU wheel of the locked torch
    install = run(["make", "install", *swap], cwd=project, env=env)
    assert (project / ".venv" / "bin" / "python").is_file(), install.stdout
    result = run(["make", "test"], cwd=project, env=env)
    assert " passed" in result.stdout
    assert "failed" not in result.stdout
    git_init(project, REPOSITORY)
    lint = lint_offline(project, tmp_path / "pre-commit-home")
    assert lint.returncode == 0, lint.stdout + lint.stderr
