"""The README's first hour as a new user runs it: `make validate train gate promote` into a local
SQLite registry, with no signing key of their own, prints what the README shows; then `make serve`,
with no MODEL_DIR=, exports the champion, serves it and answers the README's example; without an
export it says what to run, in one line."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from << cookiecutter.package >>.config import load_params
from << cookiecutter.package >>.data import features_of, read_table
from tests.helpers import PROJECT_ROOT, call, records

pytestmark = pytest.mark.slow

# What a checkout holds that is not the project itself: left out of the copy the pipeline runs in.
NOT_THE_PROJECT = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", "reports", "build", "checkpoints", "logs",
    "mlflow.db", "mlruns", "mlartifacts", "uncommitted",
)  # fmt: skip
QUICK_PARAMS = "quick.yaml"


def _make(*targets: str, **variables: str) -> list[str]:
    """The `make` command line a user types, with this interpreter as the project's Python."""
    assignments = {"PYTHON": sys.executable, "PARAMS": QUICK_PARAMS, **variables}
    return ["make", "--no-print-directory", *targets, *[f"{name}={value}" for name, value in assignments.items()]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        return call(f"{url}/health")[0] == 200
    except OSError:  # not listening yet: `make serve` exports first
        return False


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of this project with a champion in its own SQLite registry, promoted through Make
    on fast settings (8 epochs), as a user does before `make serve`."""
    copy = shutil.copytree(PROJECT_ROOT, tmp_path_factory.mktemp("project") / "project", ignore=NOT_THE_PROJECT)
    settings = yaml.safe_load((copy / "params.yaml").read_text())
    settings["train"]["epochs"] = 8
    (copy / QUICK_PARAMS).write_text(yaml.safe_dump(settings))
    return copy


@pytest.fixture(scope="module")
def make_env(project: Path) -> dict[str, str]:
    """A new user's environment: no signing key set up (promote makes a development one)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MODEL_SIGNING_")}
    return env | {"MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}", "MODEL_DIR": ""}


@pytest.fixture(scope="module")
def pipeline(project: Path, make_env: dict[str, str]) -> str:
    """What `make validate train gate promote` printed; it promoted a champion."""
    completed = subprocess.run(
        _make("validate", "train", "gate", "promote"),
        cwd=project, env=make_env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return completed.stdout + completed.stderr


@pytest.fixture(scope="module")
def served(project: Path, make_env: dict[str, str], pipeline: str) -> Iterator[str]:
    """`make serve` on a free port, started after the pipeline promoted a champion; stopped after the module."""
    port = _free_port()
    server = subprocess.Popen(
        _make("serve", PORT=str(port)),
        cwd=project, env=make_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group: make and the server it started stop together
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while not _healthy(url):
            if server.poll() is not None:
                pytest.fail(f"make serve exited with {server.returncode}:\n{server.stdout.read()}")
            assert time.monotonic() < deadline, "make serve did not answer /health in time"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_the_first_hour_shows_what_the_pipeline_prints(pipeline: str):
    """Each line of the README's "Run the pipeline" output, `...` standing for what varies."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    step = readme[readme.index("2. **Run the pipeline**") : readme.index("3. **Serve the champion**")]
    shown = [line.strip() for line in step.split("```")[1].splitlines()[1:] if line.strip()]
    assert len(shown) >= 4, step
    for line in shown:
        pattern = ".*".join(re.escape(part) for part in line.split("..."))
        assert re.search(pattern, pipeline), f"the README shows {line!r}; the pipeline printed:\n{pipeline}"


def test_make_serve_serves_the_champion_from_build_model(served: str, project: Path):
    params = load_params(project / QUICK_PARAMS, environ={})
    status, body = call(f"{served}/health")
    assert (status, json.loads(body)["model_name"]) == (200, params.model.name), body
    assert (project / "build" / "model" / "model.onnx").is_file()
    features = features_of(read_table(project / params.data.path), params.data)
    status, body = call(f"{served}/predict", records(features, 3))
    assert status == 200, body
    assert len(json.loads(body)["predictions"]) == 3


def test_the_readme_example_is_answered(served: str, project: Path):
    """The README's `curl` example, sent as it is written: the features of this project's task."""
    example = re.search(r"curl -s localhost:8080/predict -d '(.*?)'", (PROJECT_ROOT / "README.md").read_text(), re.S)
    assert example, "README.md has no curl example of /predict"
    status, body = call(f"{served}/predict", json.loads(example.group(1)))
    assert status == 200, body
    [prediction] = json.loads(body)["predictions"]
    if load_params(project / QUICK_PARAMS, environ={}).data.task == "regression":
        assert isinstance(prediction, float)
    else:
        assert prediction in json.loads(body)["classes"]


def test_without_an_export_the_server_says_to_run_make_export(tmp_path: Path):
    """An empty MODEL_DIR (what the Makefile exports when none is given) means build/model."""
    command = [sys.executable, "-m", "<< cookiecutter.package >>.serving.app"]
    env = {**os.environ, "MODEL_DIR": "", "PYTHONPATH": str(PROJECT_ROOT / "src")}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "no exported model in build/model (model.onnx, preprocessor.json, metadata.json missing): run `make export`"
    ]
