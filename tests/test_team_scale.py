"""A team's setup: MLflow server on PostgreSQL, outages, concurrent promotions, torchrun."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from mlflow import MlflowClient

from support.commands import PYTHON, gate_cli, make, params_variant, read_report, tool_env
from support.services import MlflowServer, Postgres
from support.template import DEFAULT_PACKAGE, render

pytestmark = pytest.mark.slow
RACE_ROUNDS = 20


@pytest.fixture(scope="module")
def tracking_server(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    artifacts = tmp_path_factory.mktemp("server") / "artifacts"
    artifacts.mkdir()
    server = MlflowServer(postgres.uri, artifacts)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server_env(tracking_server: MlflowServer, request: pytest.FixtureRequest) -> dict[str, str]:
    return tool_env(MLFLOW_TRACKING_URI=tracking_server.uri, MODEL_NAME=request.node.name[:60])


def _client(env: dict[str, str]) -> MlflowClient:
    return MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])


def _champion(env: dict[str, str]) -> str | None:
    """The production model's champion; None before the first promotion creates that model."""
    models = _client(env).search_registered_models(f"name='{env['MODEL_NAME']}'")
    aliases = models[0].aliases if models else {}
    return str(aliases["champion"]) if "champion" in aliases else None


def test_pipeline_runs_unchanged_against_a_postgres_backed_server(
    tmp_path: Path, server_env: dict[str, str], tracking_server: MlflowServer
):
    project = render(tmp_path)
    make(project, "validate", "train", "gate", "promote", env=server_env)
    assert read_report(project, "gate.json")["decision"] == "promote"
    assert _champion(server_env) == "1"
    assert any(tracking_server.artifacts.rglob("served/model.onnx")), "artifacts were not proxied to the server's store"


def test_gate_fails_closed_while_the_server_is_down_and_recovers(
    tmp_path: Path, server_env: dict[str, str], tracking_server: MlflowServer
):
    project = render(tmp_path)
    make(project, "validate", "train", env=server_env)
    tracking_server.stop()
    try:
        down = gate_cli(project, server_env)
    finally:
        tracking_server.start()
    assert down.returncode == 2
    assert read_report(project, "gate.json")["decision"] == "error"
    assert make(project, "promote", env=server_env, check=False).returncode != 0
    assert _champion(server_env) is None
    assert gate_cli(project, server_env).returncode == 0


def test_training_fails_clearly_when_postgres_stops_and_a_rerun_succeeds(
    tmp_path: Path, server_env: dict[str, str], postgres: Postgres
):
    project = render(tmp_path)
    make(project, "validate", env=server_env)
    slow = params_variant(project, "slow.yaml", train={"epochs": 400})
    checkpoint = project / "checkpoints" / server_env["MODEL_NAME"] / "last.pt"
    command = [PYTHON, "-m", DEFAULT_PACKAGE, "--params", slow, "train"]
    process = subprocess.Popen(command, cwd=project, env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (checkpoint.exists() and torch.load(checkpoint, weights_only=True)["epoch"] >= 2):
        assert time.monotonic() < deadline and process.poll() is None, "training never reached epoch 2"
        time.sleep(0.2)
    postgres.stop()
    try:
        _, stderr = process.communicate(timeout=300)
    finally:
        postgres.start()
    assert process.returncode == 1
    assert "tracking server failed" in stderr.decode()
    assert "RESUME=1" in stderr.decode()
    candidates = f"name='{server_env['MODEL_NAME']}-candidates'"
    assert _client(server_env).search_model_versions(candidates) == []

    make(project, "train", env=server_env, PARAMS=slow, RESUME="1")
    versions = _client(server_env).search_model_versions(candidates)
    assert [(str(version.version), version.status) for version in versions] == [("1", "READY")]


# One long-lived process per contender (imports paid once): each round it gates its candidate,
# then waits at a shared starting line and promotes at the same moment as the other.
RACER = """
import os, sys, time
from pathlib import Path
from {package}.config import load_params
from {package}.paths import Reports
from {package}.promotion.gate import run_gate
from {package}.promotion.promote import PromotionRefused, promote

sync, me, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

def signal(path, text):
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)  # appears whole: a reader never sees it half-written

def wait(path):
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {{path}}")
        time.sleep(0.005)
    return path.read_text()

for number in range(rounds):
    os.environ["MODEL_NAME"] = wait(sync / f"round-{{number}}")
    params = load_params()
    signal(sync / f"gated-{{number}}-{{me}}", run_gate(params, Reports()).decision)
    wait(sync / f"go-{{number}}")
    try:
        outcome = "won:" + promote(params, Reports())
    except PromotionRefused as error:
        outcome = f"refused: {{error}}"
    signal(sync / f"outcome-{{number}}-{{me}}", outcome)
"""


def _signal(path: Path, text: str) -> None:
    """Write a file that appears whole: a racer polling for it never reads it half-written
    (an empty round file would make it gate the default model)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def _wait_for(path: Path, racers: list[subprocess.Popen]) -> str:
    """The file's text once a racer writes it; fails fast when a racer crashed. A racer that exited
    0 has finished its rounds (it writes its last outcome, then exits, possibly before this looks)."""
    deadline = time.monotonic() + 120
    while not path.exists():
        assert time.monotonic() < deadline, f"no {path.name}"
        assert all(racer.poll() in (None, 0) for racer in racers), [racer.communicate() for racer in racers]
        time.sleep(0.01)
    return path.read_text()


def test_concurrent_promotions_never_lose_an_update(tmp_path: Path, server_env: dict[str, str]):
    """Two gated candidates promoted at the same moment, 20 times: exactly one wins each time."""
    base = render(tmp_path / "base")
    make(base, "validate", "train", env=server_env)
    trained = read_report(base, "train.json")
    client = _client(server_env)
    base_version = client.get_model_version(trained["model_name"], trained["model_version"])
    copy_of_base = {"source": base_version.source, "run_id": base_version.run_id}  # the run's served bundle

    sync = tmp_path / "sync"
    sync.mkdir()
    (tmp_path / "racer.py").write_text(RACER.format(package=DEFAULT_PACKAGE))
    contenders, racers = {}, []
    for name in ("a", "b"):
        contenders[name] = tmp_path / name
        shutil.copytree(base, contenders[name], ignore=shutil.ignore_patterns("checkpoints"))
        command = [PYTHON, str(tmp_path / "racer.py"), str(sync), name, str(RACE_ROUNDS)]
        racers.append(
            subprocess.Popen(command, cwd=contenders[name], env=server_env, stderr=subprocess.PIPE, text=True)
        )

    for number in range(RACE_ROUNDS):
        model_name = f"{server_env['MODEL_NAME'][:50]}-race{number}"
        candidates = f"{model_name}-candidates"  # params.yaml's default for this MODEL_NAME
        client.create_registered_model(candidates)
        for contender in contenders.values():
            tags = {"eval_data_hash": trained["eval_data_hash"], "model.digest": trained["model_digest"]}
            version = client.create_model_version(candidates, tags=tags, **copy_of_base)
            report = {**trained, "model_name": candidates, "model_version": str(version.version)}
            (contender / "reports" / "train.json").write_text(json.dumps(report))
        _signal(sync / f"round-{number}", model_name)
        assert [_wait_for(sync / f"gated-{number}-{name}", racers) for name in contenders] == ["promote", "promote"]
        _signal(sync / f"go-{number}", "")
        outcomes = {name: _wait_for(sync / f"outcome-{number}-{name}", racers) for name in contenders}
        winners = [outcome.removeprefix("won:") for outcome in outcomes.values() if outcome.startswith("won:")]
        assert len(winners) == 1, outcomes
        assert any("champion changed since the gate scored it" in outcome for outcome in outcomes.values()), outcomes
        assert _champion({**server_env, "MODEL_NAME": model_name}) == winners[0]
    for racer in racers:
        assert racer.wait(timeout=60) == 0, racer.stderr.read()


def test_torchrun_with_two_processes_registers_one_normal_candidate(tmp_path: Path, mlflow_db: str):
    env = tool_env(MLFLOW_TRACKING_URI=mlflow_db, MODEL_NAME="torchrun-two-processes")
    project = render(tmp_path)
    make(project, "validate", env=env)
    trained = make(project, "train", env=env, NPROC="2")  # fails unless both ranks exit 0
    # Rank 1 once died of SIGABRT here, after its last epoch: both ranks now leave together
    assert "terminate called" not in trained.stdout + trained.stderr
    train = read_report(project, "train.json")
    client = MlflowClient(tracking_uri=mlflow_db)
    run = client.get_run(train["run_id"])
    assert run.data.params["train.processes"] == "2"
    assert len(client.search_runs([run.info.experiment_id], f"tags.eval_data_hash = '{train['eval_data_hash']}'")) >= 1
    versions = client.search_model_versions("name='torchrun-two-processes-candidates'")
    assert [str(version.version) for version in versions] == ["1"]
    assert make(project, "gate", env=env).returncode == 0


VALIDATION_MEMORY_BOUND_MIB = 2560  # docs/scaling.md: 10M rows x 7 columns validate within 2.5 GiB


def test_validating_ten_million_rows_stays_within_the_memory_bound(tmp_path: Path):
    project = render(tmp_path)
    big = tmp_path / "big.parquet"
    make_big = (
        "import pandas as pd; frame = pd.read_csv('data/penguins.csv');"
        f"frame.sample(10_000_000, replace=True, random_state=0).to_parquet({str(big)!r}, index=False)"
    )
    subprocess.run([PYTHON, "-c", make_big], cwd=project, check=True)
    measure = (
        "from pathlib import Path; from bench_validation import validate_peak_rss;"
        f"print(*validate_peak_rss(Path('params.yaml'), Path({str(big)!r})))"
    )
    env = tool_env(PYTHONPATH="src:scripts")
    result = subprocess.run([PYTHON, "-c", measure], cwd=project, env=env, capture_output=True, text=True, check=True)
    seconds, peak_mib = result.stdout.split()
    print(f"validate 10M rows: {float(seconds):.1f}s, peak RSS {peak_mib} MiB")
    assert int(peak_mib) <= VALIDATION_MEMORY_BOUND_MIB
    assert json.loads((project / "reports" / "validation.json").read_text())["rows"] == 10_000_000
