"""The command line: each command loads only the stage it runs, and failures keep their exit status.

The import rules are the package's architecture in executable form: a fresh interpreter
imports a command's stage module, as `python -m << cookiecutter.package >> COMMAND` does, and
reports which libraries and which of the package's subpackages it loaded.
"""

import os
import socket
import subprocess
import sys

import pytest

from << cookiecutter.package >>.cli import COMMANDS, main, stage_module
from tests.helpers import PASSWORD, PROJECT_ROOT, loaded_after_import

HEAVY = ("torch", "mlflow", "great_expectations", "onnxruntime", "pandas")
# command -> (heavy libraries it must not load, subpackages it may load)
RULES = {
    "expectations": ({"torch", "mlflow", "great_expectations", "onnxruntime"}, {"validation"}),
    "validate": ({"torch", "mlflow", "onnxruntime"}, {"validation"}),  # GX itself loads when the suite runs
    "train": ({"great_expectations"}, {"training", "validation", "serving"}),  # the served bundle's parity check
    "gate": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
    "promote": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
    "rollback": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
    "drift": ({"torch", "mlflow", "great_expectations", "onnxruntime"}, {"monitoring"}),
    "export": ({"torch", "great_expectations", "onnxruntime"}, {"packaging", "promotion"}),
    "image": (set(HEAVY), {"packaging"}),
    "signer-args": (set(HEAVY), {"packaging"}),
    "record-image": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
    "migrate-champion": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),  # torch when it runs
    "tracking-uri": ({"torch", "great_expectations", "onnxruntime"}, set()),
}
SUBPACKAGES = {"validation", "training", "promotion", "serving", "packaging", "monitoring"}


def test_every_command_has_a_rule():
    assert set(RULES) == set(COMMANDS)


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(RULES))
def test_command_loads_only_its_stage(command):
    forbidden, allowed = RULES[command]
    loaded = loaded_after_import(stage_module(command))
    assert {library for library in HEAVY if library in loaded} & forbidden == set()
    package = stage_module(command).split(".")[0]
    touched = {name.split(".")[1] for name in loaded if name.startswith(f"{package}.")} & SUBPACKAGES
    assert touched <= allowed, f"{command} loads {sorted(touched - allowed)}"


def test_a_failure_is_one_line_and_keeps_the_exit_status(tmp_path, capsys):
    missing = str(tmp_path / "nowhere.yaml")
    assert main(["--params", missing, "validate"]) == 1
    assert main(["--params", missing, "gate"]) == 2  # no decision is never a "reject"
    assert main(["--params", missing, "drift"]) == 2  # nor a "no drift"
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all("nowhere.yaml not found" in line for line in errors)


def test_gate_before_training_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no reports/train.json here
    assert main(["--params", str(PROJECT_ROOT / "params.yaml"), "gate"]) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert captured.out.strip().splitlines() == [
        "gate: error: GateError: reports/train.json missing: run `make train` first (or pass --candidate-version) "
        "(merge check: error)"
    ]


@pytest.mark.slow
def test_a_password_in_the_tracking_uri_never_reaches_the_output(tmp_path):
    """Outside CI the URI may carry credentials: MLflow's error repeats the URI, and the traceback
    kept for an unexpected failure shows it, redacted, with the host that failed."""
    with socket.socket() as probe:  # a port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environ = {name: value for name, value in os.environ.items() if name not in {"CI", "GITHUB_ACTIONS"}}
    environ |= {
        "PYTHONPATH": str(PROJECT_ROOT / "src"),
        "MLFLOW_TRACKING_URI": f"http://ci-user:{PASSWORD}@127.0.0.1:{port}",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    command = ["--params", str(PROJECT_ROOT / "params.yaml"), "gate", "--candidate-version", "1"]
    result = subprocess.run(
        [sys.executable, "-m", "<< cookiecutter.package >>", *command],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" in output and f"http://***@127.0.0.1:{port}/api/" in output
    assert PASSWORD not in output
