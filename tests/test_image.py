"""The serving images, built for real with buildah on a locally made Debian base, then run.

One rendered project goes through `make validate train gate promote image release-image`
(signing with a test key pair); the release image is started with `buildah run` (it shares the
host's network, so the server binds loopback on a free port), verifies its bundle's signature,
and is answered over HTTP like any client would. A flipped byte is refused by the build and by
the server's start. The benchmark runs last, briefly. Only the hadolint check of the Dockerfile
is fast; everything else is marked slow.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name

from support.commands import BIN_DIR, PYTHON, git, make, run
from support.images import buildah, buildah_env, pip_trust_flags, python_base_image, require_buildah
from support.services import free_port
from support.signing import PUBLIC_KEY_PEM, SIGNING_KEY_PEM
from support.template import DEFAULT_PACKAGE, render

IMAGE = "localhost/ml-cicd-template/penguin-classifier"
MODEL_NAME = "image_test_model"
MAX_ADDED_BYTES = 300 * 10**6  # the size budget of the layers over the base image


def test_dockerfile_passes_hadolint(default_project: Path):
    result = run([str(BIN_DIR / "hadolint"), "Dockerfile"], cwd=default_project)
    assert result.stdout == ""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, mlflow_db: str) -> Iterator[dict]:
    """A rendered project (a git repo, so the image gets a revision) with its champion in an image."""
    require_buildah()
    base = python_base_image()
    project = render(tmp_path_factory.mktemp("image"))
    env = buildah_env(
        MLFLOW_TRACKING_URI=mlflow_db,
        MODEL_NAME=MODEL_NAME,
        PYTHONPATH="src",
        MODEL_SIGNING_KEY=SIGNING_KEY_PEM,
        MODEL_SIGNING_PUBLIC_KEY=PUBLIC_KEY_PEM,
    )
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "render")
    make(project, "validate", "train", "gate", "promote", env=env)
    flags = " ".join(pip_trust_flags(tmp_path_factory.mktemp("pip")))
    make(project, "image", env=env, IMAGE=IMAGE, PYTHON_IMAGE=base, BUILD_FLAGS=flags)
    make(project, "release-image", env=env, IMAGE=IMAGE, BUILD_FLAGS=flags)
    release = json.loads((project / "build" / "model.release.json").read_text())
    staged, tag = f"{IMAGE}:model-{release['candidate_version']}", f"{IMAGE}:release-{release['model_version']}"
    yield {"project": project, "env": env, "tag": tag, "staged": staged, "base": base, "flags": flags}
    for image in (tag, staged):
        buildah("rmi", image)  # the base image and the layer cache stay for the next run


@pytest.fixture(scope="module")
def server(built: dict) -> Iterator[str]:
    """The image's own entry point, serving on 127.0.0.1:<free port>; yields the base URL."""
    config = json.loads(buildah("inspect", "--type", "image", built["tag"]))["Docker"]["config"]
    container = buildah("from", built["tag"]).strip()
    port = free_port()
    command = ["buildah", "run", container, "--", *config["Entrypoint"], "--host", "127.0.0.1", "--port", str(port)]
    process = subprocess.Popen(command, env=buildah_env(), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(f"{url}/health")[0] != 200:
            assert process.poll() is None, "the server exited before it was ready"
            assert time.monotonic() < deadline, "not ready after 60 s"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        buildah("rm", container)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback URL of the test
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, ""


def _post(url: str, body: object | bytes) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _features(project: Path) -> pd.DataFrame:
    """The project's data as the model sees it (integers as floats, as `data.to_dataset` does)."""
    frame = pd.read_csv(project / "data" / "penguins.csv").drop(columns="species")
    return frame.astype({column: "float64" for column in frame.select_dtypes("integer").columns})


def _records(features: pd.DataFrame) -> list[dict]:
    """JSON records; a missing value is null."""
    return [
        {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in row.items()}
        for row in features.to_dict(orient="records")
    ]


TORCH_OUTPUTS = """
import json, sys
from pathlib import Path

import mlflow
import pandas as pd

from {package}.training.model import ModelBundle

weights = mlflow.artifacts.download_artifacts(run_id=sys.argv[1], artifact_path="torch")
features = pd.read_json(sys.argv[2], orient="records")
print(json.dumps(ModelBundle.load(Path(weights)).predict_outputs(features).tolist()))
"""


def _torch_outputs(built: dict, run_id: str, features: pd.DataFrame, scratch: Path) -> list[list[float]]:
    """What the trained torch network (the run's weights, kept for fine-tuning) predicts."""
    rows = scratch / "features.json"
    features.to_json(rows, orient="records")
    code = TORCH_OUTPUTS.format(package=DEFAULT_PACKAGE)
    result = run([PYTHON, "-c", code, run_id, str(rows)], cwd=built["project"], env=built["env"])
    return json.loads(result.stdout)


@pytest.mark.slow
def test_image_is_labelled_non_root_and_torch_free(built: dict):
    config = json.loads(buildah("inspect", "--type", "image", built["tag"]))["Docker"]["config"]
    labels = config["Labels"]
    train = json.loads((built["project"] / "reports" / "train.json").read_text())
    head = git(built["project"], "rev-parse", "HEAD")
    assert labels["ai.mlflow.model.name"] == MODEL_NAME
    assert labels["ai.mlflow.model.version"] == train["model_version"]
    assert labels["ai.mlflow.run.id"] == train["run_id"]
    assert labels["ai.mlflow.model.digest"] == train["model_digest"], "the image names the files the gate scored"
    assert labels["org.opencontainers.image.revision"] == head
    assert labels["org.opencontainers.image.base.name"] == built["base"]
    assert config["User"] == "10001:10001"
    assert "/health" in " ".join(config["Healthcheck"]["Test"])

    container = buildah("from", built["tag"]).strip()
    try:
        assert buildah("run", container, "--", "id", "-u").strip() == "10001"
        for absent in ("torch", "mlflow", "pandas"):
            probe = subprocess.run(
                ["buildah", "run", container, "--", "python", "-c", f"import {absent}"],
                env=buildah_env(),
                capture_output=True,
                check=False,
            )
            assert probe.returncode != 0, f"{absent} is in the serving image"
    finally:
        buildah("rm", container)


def _locked_serve_requirements(project: Path) -> dict[str, str]:
    """{name: version} of `make serve-requirements`' export (uv.lock's) that apply to this
    interpreter, the same Debian Python 3.11 on Linux as the base image's."""
    wanted = {}
    for line in (project / "build" / "requirements-serve.txt").read_text().splitlines():
        if line and not line.startswith((" ", "#")):
            requirement, _, marker = line.rstrip(" \\").partition(";")
            if not marker.strip() or Marker(marker).evaluate():
                name, _, version = requirement.strip().partition("==")
                wanted[canonicalize_name(name)] = version
    return wanted


@pytest.mark.slow
def test_image_holds_exactly_the_locked_serve_versions(built: dict):
    """Every package in the image's environment, read from its metadata (the image has no pip),
    is the serve extra's at uv.lock's version, and nothing else is."""
    lock = tomllib.loads((built["project"] / "uv.lock").read_text())
    locked: dict[str, set[str]] = {}
    for package in lock["package"]:
        locked.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    listing = (
        "import importlib.metadata as m, json; print(json.dumps({d.metadata['Name']: d.version "
        "for d in m.distributions() if str(d.locate_file('')).startswith('/opt/venv/')}))"
    )
    container = buildah("from", built["tag"]).strip()
    try:
        in_image = json.loads(buildah("run", container, "--", "python", "-c", listing))
    finally:
        buildah("rm", container)
    in_image = {canonicalize_name(name): version for name, version in in_image.items()}
    assert in_image == _locked_serve_requirements(built["project"])
    assert all(version in locked[name] for name, version in in_image.items())
    assert not {"torch", "mlflow", "pandas", "uv", "pip"} & in_image.keys()


@pytest.mark.slow
def test_health_predict_and_metrics(built: dict, server: str, tmp_path: Path):
    status, body = _get(f"{server}/health")
    assert status == 200
    health = json.loads(body)
    train = json.loads((built["project"] / "reports" / "train.json").read_text())
    assert (health["status"], health["model_name"], health["model_version"]) == ("ready", MODEL_NAME, "1")
    assert health["model_digest"] == train["model_digest"], "the server loaded the bytes the gate scored"
    assert health["signature"].startswith("verified"), health

    features = _features(built["project"])
    status, served = _post(f"{server}/predict", _records(features))
    assert status == 200
    difference = abs(pd.DataFrame(_torch_outputs(built, train["run_id"], features, tmp_path)).to_numpy()
                     - pd.DataFrame(served["probabilities"]).to_numpy()).max()  # fmt: skip
    print(f"image vs the torch network on {len(features)} rows: max |probability difference| = {difference:.2e}")
    assert difference < 1e-5

    status, single = _post(f"{server}/predict", {"dataframe_records": _records(features.head(1))})
    assert (status, single["predictions"]) == (200, served["predictions"][:1])

    status, text = _get(f"{server}/metrics")
    assert status == 200
    assert 'http_requests_total{path="/predict",status="200"}' in text
    assert 'http_request_duration_seconds_bucket{le="0.001",path="/predict"}' in text
    assert f'model_predictions_total{{predicted_class="{served["predictions"][0]}"}}' in text
    assert 'model_version="1"' in text


@pytest.mark.slow
@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ("drop:island", "island", "missing"),
        ("set:bill_length_mm=long", "bill_length_mm", "number"),
        ("set:island=7", "island", "string"),
        ("set:wingspan_cm=3", "wingspan_cm", "unknown"),
        ([], None, "non-empty"),
        ({"rows": []}, None, "list of records"),
        (b"{not json", None, "not valid JSON"),
        ([{}] * 1001, None, "limit"),
    ],
    ids=[
        "missing-field",
        "text-for-number",
        "number-for-category",
        "unknown-field",
        "empty",
        "wrong-shape",
        "not-json",
        "too-many",
    ],
)
def test_bad_payloads_get_422_naming_the_field(built: dict, server: str, payload, field, words):
    if isinstance(payload, str):
        record = _records(_features(built["project"]).head(1))[0]
        action, _, change = payload.partition(":")
        name, _, value = change.partition("=")
        if action == "drop":
            del record[name]
        else:
            record[name] = int(value) if value.isdigit() else value
        payload = [record]
    status, body = _post(f"{server}/predict", payload)
    assert status == 422, body
    errors = body["detail"]
    assert any(words in error["message"] for error in errors), errors
    if field:
        assert [error["field"] for error in errors] == [field]
    assert _get(f"{server}/health")[0] == 200  # still serving


@pytest.mark.slow
def test_benchmark_runs_and_the_image_meets_its_size_budget(built: dict):
    """`make bench-serve` without the rebuild: the script against the image."""
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (Debian: apt-get install wrk)")
    project = built["project"]
    command = [PYTHON, "scripts/bench_serve.py", "--image", IMAGE, "--duration", "2"]
    result = run(command, cwd=project, env=built["env"])
    print(result.stdout)
    report = json.loads((project / "reports" / "serve_bench.json").read_text())
    assert report["image"]["added_bytes"] <= MAX_ADDED_BYTES
    assert set(report["servers"]) == {"image"}, "no registered version is served through MLflow"
    assert {"start_to_ready_s", "c1", "c8", "handler_p99_ms"} <= set(report["servers"]["image"])
    assert "req/s" in result.stdout


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.slow
def test_a_flipped_byte_is_refused_by_the_image_builds_and_the_server(built: dict, tmp_path: Path):
    """Three places a tampered bundle could slip in, each refusing it and naming the file."""
    project = Path(shutil.copytree(built["project"], tmp_path / "project"))
    bundle, cli = project / "build" / "model", [PYTHON, "-m", DEFAULT_PACKAGE]
    _flip_a_byte(bundle / "model.onnx")
    name = f"{IMAGE}-tampered"
    staged_build = [*cli, "image", "--name", name, "--base-image", built["base"], "--build-flags", built["flags"]]

    # The staged build: the bundle is not the bytes it was exported as.
    staged = run(staged_build, cwd=project, env=built["env"], check=False)
    assert staged.returncode != 0 and "it was exported as" in staged.stderr, staged.stderr

    # With the release file forged to match, the staged image builds, but its release build verifies
    # the signature against what the staged image holds and stops.
    release = json.loads((project / "build" / "model.release.json").read_text())
    digest = f"from {DEFAULT_PACKAGE}.digest import bundle_digest; print(bundle_digest(Path('build/model')))"
    forged = run([PYTHON, "-c", f"from pathlib import Path; {digest}"], cwd=project, env=built["env"]).stdout.strip()
    (project / "build" / "model.release.json").write_text(json.dumps({**release, "model_digest": forged}))
    run(staged_build, cwd=project, env=built["env"])
    try:
        signed = run(
            [*cli, "image", "--release", "--name", name, "--build-flags", built["flags"]],
            cwd=project,
            env=built["env"],
            check=False,
        )
        assert signed.returncode != 0, "a release image was built around a tampered bundle"
        assert "model.onnx differs from what was signed" in signed.stdout + signed.stderr, signed.stdout + signed.stderr
    finally:
        buildah("rmi", f"{name}:model-{release['candidate_version']}")

    # The release image itself, with one byte of its bundle flipped inside a container: the server
    # refuses to start.
    container = buildah("from", built["tag"]).strip()
    try:
        flip = "p='/opt/model/model.onnx'; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=1; open(p,'wb').write(b)"
        buildah("run", "--user", "0", container, "--", "python", "-c", flip)
        config = json.loads(buildah("inspect", "--type", "image", built["tag"]))["Docker"]["config"]
        start = subprocess.run(
            ["buildah", "run", container, "--", *config["Entrypoint"], "--port", str(free_port())],
            env=buildah_env(), capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert start.returncode != 0, "the server started on a tampered bundle"
        assert "model.onnx differs from what was signed" in start.stdout + start.stderr, start.stdout + start.stderr
    finally:
        buildah("rm", container)
