"""Helpers the tests share: run the app for real, call it, build payloads, vary settings."""

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import uvicorn
from starlette.applications import Starlette

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.metrics import task_metrics
from << cookiecutter.package >>.paths import release_file
from << cookiecutter.package >>.training.model import ModelBundle
from << cookiecutter.package >>.training.onnx_export import export_bundle

PROJECT_ROOT = Path(__file__).resolve().parents[1]
METADATA: dict[str, str] = {}  # in the test export's metadata.json beside task and classes, as training writes it
RELEASE = {"model_name": "test-model", "model_version": "7", "run_id": "abc"}  # beside it, as `make export` writes it
PASSWORD = "hunter2-not-for-logs"  # noqa: S105 - made up; the redaction tests look for it in what is printed


def exported_bundle(bundle: ModelBundle, directory: Path) -> Path:
    """The served bundle of `bundle` in `directory`, with the release file `make export` writes beside it."""
    export_bundle(bundle, directory, METADATA)
    release_file(directory).write_text(json.dumps(RELEASE))
    return directory


@contextmanager
def running(app: Starlette) -> Iterator[str]:
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


def records(features: pd.DataFrame, rows: int) -> list[dict]:
    """The first `rows` rows as JSON records; a missing value is null."""
    frame = features.head(rows).astype(object)
    return frame.where(frame.notna(), None).to_dict(orient="records")


def call(url: str, payload: object | None = None) -> tuple[int, str]:
    """GET `url`, or POST `payload` (JSON, or raw bytes) to it; (status, body) even for errors."""
    data = None if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def send_raw(url: str, head: str, body: bytes = b"") -> tuple[int, str]:
    """Send a request's `head` (request line and headers) and `body` as they are, then read the
    answer until the server closes the connection: how a test sees that the server answered
    without waiting for (or draining) the body it was promised. (status, whole response).

    A server that closes while body bytes are still unread makes the kernel reset the
    connection, which can discard its answer before it is read: that is status 0.
    """
    host, port = url.removeprefix("http://").split(":")
    response = b""
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        try:
            connection.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
            while chunk := connection.recv(65536):
                response += chunk
        except ConnectionResetError:
            if not response:
                return 0, "connection reset by the server"
    return int(response.split(b" ", 2)[1]), response.decode(errors="replace")


_PROBE = """
import importlib, json, sys
for module in sys.argv[1:]:
    importlib.import_module(module)
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after_import(*modules: str) -> set[str]:
    """Every module a fresh interpreter holds after importing `modules` (this checkout's src first)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules],
        cwd=PROJECT_ROOT,
        env={"PYTHONPATH": str(PROJECT_ROOT / "src"), "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout))


def with_settings(params: Params, section: str, **values: object) -> Params:
    """`params` with some keys of one section replaced."""
    return params.model_copy(update={section: getattr(params, section).model_copy(update=values)})


# The shipped data's target for each task: the species, or the body mass (a number).
TARGETS = {"classification": "species", "regression": "body_mass_g"}


def as_task(params: Params, task: str) -> Params:
    """`params` set up for `task` on the shipped data: its target, and the rendered gate metric
    where it fits the task (else the task's default), so the tests of both tasks run in every
    project, whichever task params.yaml names."""
    metric = params.gate.metric if params.gate.metric in task_metrics(task) else task_metrics(task)[0]
    params = with_settings(params, "data", task=task, target=TARGETS[task])
    return with_settings(params, "gate", metric=metric)
