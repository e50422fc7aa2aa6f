"""Static checks of every workflow: the template's reusable ones and those of each rendered project.

Linters (actionlint, zizmor offline with the auditor persona, GitHub's JSON schemas via
check-jsonschema) plus the template's own rules that no linter checks: SHA pins with a
version comment, `permissions: {}` at the top and write scopes only where needed, no
`${{ }}` in `run:`, timeouts and step summaries on every job, Python versions as strings, and
callers that pass only the inputs and secrets the reusable workflows declare. The rendered
projects are the rows of the one option matrix (support/template.py), shared with test_render.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pin_setup_project import stale_pins

from ci_local.harness import STANDINS_DIR, local_repositories, third_party_actions
from support import github_rules
from support.commands import run
from support.template import COOKIECUTTER_JSON, REUSABLE_WORKFLOWS, TEMPLATE_DIR

TEMPLATE_GITHUB = TEMPLATE_DIR / ".github"
# The auditor persona reports everything, low-confidence findings included.
ZIZMOR = ["zizmor", "--offline", "--no-progress", "--persona", "auditor"]
TEMPLATE_WORKFLOWS = sorted((TEMPLATE_GITHUB / "workflows").glob("*.yml"))
TEMPLATE_ACTIONS = sorted((TEMPLATE_GITHUB / "actions").glob("*/action.yml"))
REUSABLE = REUSABLE_WORKFLOWS
DEFAULT_REPO, DEFAULT_REF = COOKIECUTTER_JSON["workflows_repo"], COOKIECUTTER_JSON["workflows_ref"]
# The trust boundary: the candidate credential (repository secrets) for train, gate and image;
# the production credential (environment secrets of the production environment) for the jobs
# that move the production model, which declare that environment.
CANDIDATE_SECRETS = {"MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
PROMOTE_SECRETS = {"MLFLOW_PROMOTE_USERNAME", "MLFLOW_PROMOTE_PASSWORD"}
PRODUCTION_WORKFLOWS = {"promote.yml", "rollback.yml"}

# Write scopes allowed, by (workflow file, job): everything else gets read access at most.
ALLOWED_WRITES = {
    ("gate.yml", "comment"): {"pull-requests"},
    ("image.yml", "image"): {"packages", "id-token", "attestations"},
    # pushing the release image (champion, prod); signing the production bundle keyless
    ("promote.yml", "promote"): {"packages", "id-token"},
    ("rollback.yml", "rollback"): {"packages"},  # the reusable one and the generated caller
    ("ci.yml", "gate"): {"pull-requests"},
    ("ci.yml", "image"): {"packages", "id-token", "attestations"},
    ("ci.yml", "promote"): {"packages", "id-token"},
    ("retrain.yml", "image"): {"packages", "id-token", "attestations"},
    ("retrain.yml", "promote"): {"packages", "id-token"},
    # GitHub checks a callee's job permissions against the caller's when the run starts, even
    # for jobs that will be skipped (gate.yml's comment job runs for pull requests only).
    ("retrain.yml", "gate"): {"pull-requests"},
    # starting retrain.yml by workflow_dispatch when drift is found
    ("drift.yml", "retrain"): {"actions"},
    ("monitor.yml", "drift"): {"actions"},
    # (release.yml writes nothing with its GITHUB_TOKEN: the release App's token moves the tag)
}


_load, _on = github_rules.load, github_rules.triggers


def _steps(document: dict) -> list[tuple[str, dict]]:
    """(job id, step) of a workflow, or ("", step) of a composite action."""
    if "runs" in document:
        return [("", step) for step in document["runs"].get("steps", [])]
    return [(job_id, step) for job_id, job in document["jobs"].items() for step in job.get("steps", [])]


def _project_files(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def _all_workflow_files(all_rendered) -> list[tuple[Path, str, str]]:
    """(file, expected workflows repo, expected ref) for the template and every render."""
    files = [(path, DEFAULT_REPO, DEFAULT_REF) for path in [*TEMPLATE_WORKFLOWS, *TEMPLATE_ACTIONS]]
    for answers, project in all_rendered:
        repo, ref = answers.get("workflows_repo", DEFAULT_REPO), answers["workflows_ref"]
        files += [(path, repo, ref) for path in _project_files(project)]
    return files


# --- linters ---------------------------------------------------------------------------


def test_template_workflows_pass_actionlint():
    result = run(["actionlint", *map(str, TEMPLATE_WORKFLOWS)], cwd=TEMPLATE_DIR, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_workflows_pass_zizmor():
    result = run([*ZIZMOR, str(TEMPLATE_GITHUB)], cwd=TEMPLATE_DIR, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_template_files_match_github_schemas():
    checks = {
        "vendor.github-workflows": TEMPLATE_WORKFLOWS,
        "vendor.github-actions": [*TEMPLATE_ACTIONS, *sorted(STANDINS_DIR.glob("*/*/action.yml"))],
        "vendor.dependabot": [TEMPLATE_GITHUB / "dependabot.yml"],
    }
    for schema, files in checks.items():
        result = run(["check-jsonschema", "--builtin-schema", schema, *map(str, files)], cwd=TEMPLATE_DIR, check=False)
        assert result.returncode == 0, f"{schema}\n{result.stdout}{result.stderr}"


def test_rendered_workflows_pass_linters_and_schemas(rendered):
    _, project = rendered
    github = project / ".github"
    workflows = [str(path) for path in _project_files(project)]
    assert {Path(path).name for path in workflows} >= {"ci.yml", "retrain.yml"}
    lint = run(["actionlint", "-config-file", str(github / "actionlint.yaml"), *workflows], cwd=project, check=False)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    zizmor = run([*ZIZMOR, str(github)], cwd=project, check=False)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    assert "No findings to report" in zizmor.stdout + zizmor.stderr
    for schema, files in {
        "vendor.github-workflows": workflows,
        "vendor.dependabot": [str(github / "dependabot.yml")],
    }.items():
        result = run(["check-jsonschema", "--builtin-schema", schema, *files], cwd=project, check=False)
        assert result.returncode == 0, f"{schema}\n{result.stdout}{result.stderr}"


def test_rendered_actionlint_config_declares_the_runner_labels(all_rendered):
    for answers, project in all_rendered:
        config = _load(project / ".github" / "actionlint.yaml")
        assert config["self-hosted-runner"]["labels"] == json.loads(answers["gpu_runner_labels"])


# --- rules no linter checks ------------------------------------------------------------

_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")


def test_every_action_is_pinned_to_a_commit_sha(all_rendered):
    """Third-party actions: a full 40-hex SHA plus `# vX.Y.Z`; this repository's workflows: the
    answered repo and ref; its setup-project action: a full SHA (checked further below)."""
    for path, repo, ref in _all_workflow_files(all_rendered):
        for line in path.read_text().splitlines():
            match = _USES.match(line)
            if not match or match["ref"].startswith("./"):
                continue
            uses = match["ref"]
            if uses.startswith(f"{repo}/.github/actions/"):
                assert re.search(r"@[0-9a-f]{40}$", uses), f"{path}: {uses} is not pinned to a commit SHA"
                continue
            if uses.startswith(f"{repo}/"):
                assert uses.endswith(f"@{ref}"), f"{path}: {uses} should use ref {ref}"
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", uses), f"{path}: {uses} is not pinned to a commit SHA"
            assert re.fullmatch(r"\s*# v\d+(\.\d+){0,2}\s*", match["comment"]), (
                f"{path}: {uses} lacks a '# vX.Y.Z' comment"
            )


def test_every_pinned_action_has_one_version_and_an_act_stand_in(default_project):
    pins: dict[str, set[str]] = {}
    for path in [*TEMPLATE_WORKFLOWS, *TEMPLATE_ACTIONS]:
        for line in path.read_text().splitlines():
            match = _USES.match(line)
            if match and "@" in match["ref"] and not match["ref"].startswith(DEFAULT_REPO):
                action, sha = match["ref"].split("@")
                pins.setdefault(action, set()).add(sha)
    assert {action: shas for action, shas in pins.items() if len(shas) > 1} == {}
    assert set(third_party_actions(TEMPLATE_DIR)) == {"/".join(action.split("/")[:2]) for action in pins}
    local_repositories(default_project, TEMPLATE_DIR, Path("/nonexistent"))  # raises when a stand-in is missing


def test_reusable_workflows_load_setup_project_at_one_current_commit_sha():
    """Not by tag: a project pinning the workflows to a SHA must not run whatever `v1` is now."""
    zizmor = _load(TEMPLATE_GITHUB / "zizmor.yml")
    assert zizmor["rules"]["unpinned-uses"]["config"]["policies"] == {"*": "hash-pin"}
    loads = set()
    for path in REUSABLE.values():
        if path.name == "merge-check.yml":
            continue  # it reads its caller's results only: no checkout, no project
        own = [
            m["ref"] for line in path.read_text().splitlines() if (m := _USES.match(line)) and "/actions/" in m["ref"]
        ]
        assert own, f"{path.name} does not use the setup-project action"
        loads |= set(own)
    assert len(loads) == 1, loads
    assert re.fullmatch(rf"{DEFAULT_REPO}/\.github/actions/setup-project@[0-9a-f]{{40}}", loads.pop())
    assert stale_pins(TEMPLATE_DIR) == []


def test_permissions_empty_at_top_and_writes_only_where_needed(all_rendered):
    for path, _, _ in _all_workflow_files(all_rendered):
        if path.name == "action.yml":
            continue
        workflow = _load(path)
        assert workflow.get("permissions") == {}, f"{path}: top-level permissions must be {{}}"
        for job_id, job in workflow["jobs"].items():
            assert "permissions" in job, f"{path}: job {job_id} has no explicit permissions"
            writes = {scope for scope, access in (job["permissions"] or {}).items() if access == "write"}
            allowed = ALLOWED_WRITES.get((path.name, job_id), set())
            assert writes <= allowed, f"{path}: job {job_id} may not write {writes - allowed}"


def test_no_expressions_inside_run_blocks(all_rendered):
    for path, _, _ in _all_workflow_files(all_rendered):
        for job_id, step in _steps(_load(path)):
            assert "${{" not in step.get("run", ""), (
                f"{path}: job {job_id or '-'} step {step.get('name')}: pass it via env:"
            )


def test_no_dangerous_triggers(all_rendered):
    for path, _, _ in _all_workflow_files(all_rendered):
        if path.name != "action.yml":
            assert "pull_request_target" not in _on(_load(path)), path
            assert "workflow_run" not in _on(_load(path)), path


def test_checkout_never_persists_credentials(all_rendered):
    for path, _, _ in _all_workflow_files(all_rendered):
        for _, step in _steps(_load(path)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, path


def test_every_job_has_a_timeout_and_writes_a_summary(all_rendered):
    """Jobs with steps; a job that calls a reusable workflow takes the callee's jobs' timeouts."""
    for path, _, _ in _all_workflow_files(all_rendered):
        if path.name == "action.yml":
            continue
        for job_id, job in _load(path)["jobs"].items():
            if "uses" in job:
                continue
            assert "timeout-minutes" in job, f"{path}: job {job_id} has no timeout-minutes"
            runs = "\n".join(step.get("run", "") for step in job["steps"])
            assert "GITHUB_STEP_SUMMARY" in runs, f"{path}: job {job_id} writes no step summary"


def test_python_versions_are_strings(all_rendered):
    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and key.startswith("python-version"):
                    if isinstance(value, dict):  # a workflow_call input: its default
                        value = value.get("default", "")
                    assert isinstance(value, str), f"{where}: {key}: {value!r} is not a string"
                    if key == "python-versions":
                        assert all(isinstance(v, str) for v in json.loads(value)), f"{where}: {value}"
                    if re.fullmatch(r"3\.\d+", value):
                        assert value in ("3.10", "3.11", "3.12", "3.13", "3.14"), f"{where}: {value}"
                walk(value, where)
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for path, _, _ in _all_workflow_files(all_rendered):
        walk(_load(path), path)
    for answers, project in all_rendered:
        text = (project / ".github" / "workflows" / "ci.yml").read_text()
        assert f'python-version: "{answers["python_version"]}"' in text


# --- the reusable workflows' interface, and the callers that use it ---------------------


def _callee(uses: str, repo: str) -> dict:
    name = uses.split("@")[0].removeprefix(f"{repo}/.github/workflows/")
    return _load(REUSABLE[name])


def test_reusable_workflows_declare_described_inputs_optional_secrets_and_outputs():
    """(Input types: test_github_rules.py.)"""
    for name, path in REUSABLE.items():
        triggers = _on(_load(path))
        assert set(triggers) == {"workflow_call"}, f"{name} must only be callable"
        call = triggers["workflow_call"]
        for input_name, spec in call.get("inputs", {}).items():
            assert spec.get("description"), f"{name}: input {input_name} has no description"
        secrets = call.get("secrets", {})
        assert all(spec.get("required") is False for spec in secrets.values()), name
        if name in PRODUCTION_WORKFLOWS:  # the production credential, never the candidate one
            assert {"MLFLOW_TRACKING_URI", *PROMOTE_SECRETS} <= set(secrets), name
            assert not set(secrets) & CANDIDATE_SECRETS, f"{name} must not accept the candidate credential"
        elif name not in ("test.yml", "data-validation.yml", "drift.yml", "lint.yml", "merge-check.yml"):  # MLflow
            assert {"MLFLOW_TRACKING_URI", *CANDIDATE_SECRETS} <= set(secrets), name
            assert not set(secrets) & PROMOTE_SECRETS, f"{name} must not accept the production credential"
    outputs = {name: set(_on(_load(path))["workflow_call"].get("outputs", {})) for name, path in REUSABLE.items()}
    assert outputs["train.yml"] >= {"run-id", "model-version"}
    assert outputs["gate.yml"] >= {"decision", "merge"}
    assert outputs["promote.yml"] >= {"promoted", "production-version"}
    assert outputs["rollback.yml"] >= {"production-version", "image-digest"}
    assert outputs["image.yml"] >= {"digest", "tags"}
    assert outputs["data-validation.yml"] >= {"passed", "report-artifact"}


def test_train_never_runs_for_fork_pull_requests_and_reads_labels_from_json():
    job = _load(REUSABLE["train.yml"])["jobs"]["train"]
    assert job["if"] == (
        "github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository"
    )
    assert job["runs-on"] == "${{ fromJSON(inputs.runner-labels) }}"
    inputs = _on(_load(REUSABLE["train.yml"]))["workflow_call"]["inputs"]
    assert json.loads(inputs["runner-labels"]["default"]) == json.loads(COOKIECUTTER_JSON["gpu_runner_labels"])


def test_train_job_container_runs_as_root():
    """A job container must write the runner's mounted workspace (actions/checkout): the
    project's train image runs as 10001 for `docker run`, so train.yml starts it as root."""
    container = _load(REUSABLE["train.yml"])["jobs"]["train"]["container"]
    assert container["options"] == "--user root ${{ inputs.container-options }}"
    dockerfile = (TEMPLATE_DIR / "<<cookiecutter.project>>" / "Dockerfile").read_text()
    train_stage = dockerfile[dockerfile.index(" AS train\n") :]
    assert "USER 10001:10001" in train_stage, "the train image's own user changed: revisit train.yml's --user root"


def test_promotion_is_serialised_per_model_and_only_on_the_default_branch():
    jobs = _load(REUSABLE["promote.yml"])["jobs"]
    assert set(jobs) == {"promote"}
    concurrency = {"group": "promote-${{ github.repository }}-${{ inputs.model-name }}", "cancel-in-progress": False}
    assert jobs["promote"]["concurrency"] == concurrency
    assert _load(REUSABLE["rollback.yml"])["jobs"]["rollback"]["concurrency"] == concurrency
    assert "github.event_name != 'pull_request'" in jobs["promote"]["if"]
    assert "github.event.repository.default_branch" in jobs["promote"]["if"]
    gate = _load(REUSABLE["gate.yml"])["jobs"]
    assert set(gate) == {"gate", "comment"}
    assert "github.event_name == 'pull_request'" in gate["comment"]["if"]


def test_gate_is_the_pull_request_check_and_promotion_releases_the_staged_image():
    """gate.yml fails pull requests on a regression (merge-check, on by default); promote.yml
    checks the staged image's model digest, then pushes the release image (the staged one by
    digest plus the signature) and records it; rollback.yml re-tags by digest, never rebuilds."""
    gate = _load(REUSABLE["gate.yml"])
    inputs = _on(gate)["workflow_call"]["inputs"]
    assert (inputs["merge-check"]["type"], inputs["merge-check"]["default"]) == ("boolean", True)
    assert inputs["fail-on-reject"]["default"] is False
    step = next(s for s in gate["jobs"]["gate"]["steps"] if s.get("id") == "gate")
    assert 'make gate CANDIDATE="$CANDIDATE" PROPOSED="$PROPOSED" ${BASE_SHA:+GIT_SHA="$BASE_SHA"}' in step["run"]
    merge_gated = '[[ "$EVENT" =~ ^(pull_request|merge_group)$ ]] && [ "$MERGE_CHECK" = true ] && [ "$merge" != pass ]'
    assert merge_gated in step["run"]
    # the base commit's rules: the project the gate runs in is the base's tree when base-sha is given
    assert step["working-directory"] == "${{ steps.rules.outputs.project }}"
    rules = next(s for s in gate["jobs"]["gate"]["steps"] if s.get("id") == "rules")["run"]
    assert 'git archive "$BASE_SHA"' in rules
    comment = next(s for s in gate["jobs"]["comment"]["steps"] if s.get("name") == "Write the comment")["run"]
    assert "would promote" in comment and "would not promote" in comment and "Merge check" in comment
    rollback = "\n".join(step.get("run", "") for step in _load(REUSABLE["rollback.yml"])["jobs"]["rollback"]["steps"])
    assert 'docker buildx imagetools create --tag "$IMAGE:champion" --tag "$IMAGE:prod" "$IMAGE@$DIGEST"' in rollback
    assert "build-push-action" not in str(_load(REUSABLE["rollback.yml"]))
    steps = _load(REUSABLE["promote.yml"])["jobs"]["promote"]["steps"]
    promote_run = "\n".join(step.get("run", "") for step in steps)
    assert 'make promote IMAGE_MODEL_DIGEST="$MODEL_DIGEST"' in promote_run
    assert 'make record-image IMAGE_DIGEST="$DIGEST"' in promote_run
    release = next(step["with"] for step in steps if step.get("id") == "release")
    assert release["target"] == "release" and release["push"] is True
    assert "STAGED_IMAGE=${{ inputs.image }}@${{ inputs.image-digest }}" in release["build-args"]
    assert {"${{ inputs.image }}:champion", "${{ inputs.image }}:prod"} <= set(release["tags"].splitlines())
    image = _load(REUSABLE["image.yml"])
    runs = "\n".join(step.get("run", "") for step in image["jobs"]["image"]["steps"])
    assert 'make image-context CANDIDATE="$VERSION"' in runs
    meta = next(s for s in image["jobs"]["image"]["steps"] if s.get("id") == "meta")["with"]
    assert meta["tags"].splitlines() == ["type=raw,value=model-${{ inputs.model-version }}"], "tag model-<version> only"
    assert "ai.mlflow.model.digest=${{ steps.model.outputs.digest }}" in meta["labels"]


def test_attestation_is_optional_and_promotion_never_depends_on_it(all_rendered):
    """Artifact attestations fail on private/internal repositories outside GitHub Enterprise
    Cloud: image.yml attests only with `attest` on (the default), no output and no later job
    reads the attestation step, and the generated callers turn it off with ATTEST_IMAGES=false."""
    image = _load(REUSABLE["image.yml"])
    attest = _on(image)["workflow_call"]["inputs"]["attest"]
    assert (attest["type"], attest["default"]) == ("boolean", True)
    assert "Enterprise Cloud" in attest["description"]
    steps = image["jobs"]["image"]["steps"]
    (step,) = [s for s in steps if s.get("uses", "").startswith("actions/attest-build-provenance@")]
    assert step["if"] == "steps.name.outputs.push == 'true' && inputs.attest"
    # The attestation is a side effect only: no output of image.yml (what promote.yml receives)
    # and no other step reads it, so a run without it promotes the same digest.
    assert "id" not in step or f"steps.{step['id']}." not in json.dumps([image["jobs"]["image"]["outputs"], steps])
    assert "attest" not in json.dumps(_on(image)["workflow_call"]["outputs"])
    assert "attest" not in (TEMPLATE_GITHUB / "workflows" / "promote.yml").read_text()
    for _, project in all_rendered:
        for workflow in ("ci.yml", "retrain.yml"):
            job = _load(project / ".github" / "workflows" / workflow)["jobs"]["image"]
            assert job["with"]["attest"] == "${{ vars.ATTEST_IMAGES != 'false' }}", workflow


# (workflow, job, whether an empty version is allowed): the jobs that use inputs.model-version.
VERSION_INPUT_JOBS = [("gate.yml", "gate", True), ("image.yml", "image", False), ("promote.yml", "promote", True)]


@pytest.mark.parametrize(("workflow", "job", "empty_allowed"), VERSION_INPUT_JOBS)
def test_version_inputs_are_validated_in_the_first_step(workflow, job, empty_allowed, tmp_path):
    """A version reaches make and labels only as digits: the job's first step runs the check,
    and the check refuses anything else (run here with bash) with an ::error, before any other
    check of that step."""
    first = _load(REUSABLE[workflow])["jobs"][job]["steps"][0]
    variables = [name for name, value in first.get("env", {}).items() if value == "${{ inputs.model-version }}"]
    assert variables, f"{workflow}: the first step of job {job} does not check inputs.model-version"
    marker = tmp_path / "PWNED"
    for value, valid in [
        ("12", True),
        ("", empty_allowed),
        (f"7; touch {marker}", False),
        (f"$(touch {marker})", False),
        ("1 2", False),
        ("v1", False),
        ("7\n", False),
    ]:
        result = run(["bash", "-e", "-c", first["run"]], cwd=tmp_path, env={variables[0]: value}, check=False)
        refused = "::error title=Model version::input model-version is not a version number" in result.stdout
        assert refused != valid, f"{workflow}: model-version {value!r}"
        assert valid or result.returncode != 0
    assert not marker.exists()


def _secret_refs(node) -> set[str]:
    """Names of the secrets a workflow fragment references (`secrets.NAME`)."""
    return set(re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", json.dumps(node)))


def test_reusable_workflows_keep_the_production_credential_in_the_environment_jobs():
    """Only jobs that declare `environment:` read MLFLOW_PROMOTE_*, and they map it (not the
    candidate credential) into MLflow's variables, checking it first (fail closed)."""
    for name, path in REUSABLE.items():
        for job_id, job in _load(path)["jobs"].items():
            refs = _secret_refs(job)
            if refs & PROMOTE_SECRETS:
                assert job.get("environment") == "${{ inputs.environment }}", f"{name}/{job_id}: no environment"
                assert not refs & CANDIDATE_SECRETS, f"{name}/{job_id} reads the candidate credential too"
                for step in job["steps"]:
                    for part in ("USERNAME", "PASSWORD"):
                        mapped = step.get("env", {}).get(f"MLFLOW_TRACKING_{part}")
                        assert mapped in (None, f"${{{{ secrets.MLFLOW_PROMOTE_{part} }}}}"), f"{name}/{job_id}"
                first = job["steps"][0]
                assert "Production credential" in first["run"] and "exit 1" in first["run"], f"{name}/{job_id}"
            elif name in PRODUCTION_WORKFLOWS:
                pytest.fail(f"{name}/{job_id} does not use the production credential")
    environments = {
        name: _on(_load(REUSABLE[name]))["workflow_call"]["inputs"]["environment"]["default"]
        for name in ("promote.yml", "rollback.yml", "image.yml")
    }
    assert environments == {"promote.yml": "production", "rollback.yml": "production", "image.yml": "staging"}
    assert _load(REUSABLE["image.yml"])["jobs"]["image"]["environment"] == "${{ inputs.environment }}"


def test_mlflow_credentials_reach_only_the_steps_that_talk_to_the_tracking_server():
    """Secrets are step-scoped: no job or workflow `env:` holds one (third-party actions and
    `make install`, which runs package build code, would see it), and the MLflow credential is
    in the env of steps that run `make` against the registry or check the credential itself."""
    for name, path in REUSABLE.items():
        workflow = _load(path)
        assert not _secret_refs(workflow.get("env", {})), f"{name}: secrets in the workflow env"
        for job_id, job in workflow["jobs"].items():
            assert not _secret_refs(job.get("env", {})), f"{name}/{job_id}: secrets in the job env"
            for step in job.get("steps", []):
                holds = {key for key, value in step.get("env", {}).items() if "secrets.MLFLOW_" in value}
                if not holds:
                    continue
                command = step.get("run", "")
                registry_step = re.search(
                    r"\bmake (train|gate|promote|rollback|image-context|export|record-image)\b", command
                )
                checks_it = all(f"${key}" in command for key in holds)
                assert registry_step or checks_it, f"{name}/{job_id}/{step['name']}: holds {sorted(holds)}"
                assert "uses" not in step, f"{name}/{job_id}/{step['name']}: an action gets the credential"


def _uploads() -> list[tuple[str, dict, dict]]:
    """(workflow, job, upload-artifact step) of every reusable workflow."""
    return [
        (name, job, step)
        for name, path in REUSABLE.items()
        for job in _load(path)["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses", "").startswith("actions/upload-artifact@")
    ]


def test_every_uploaded_artifact_is_named_from_an_input():
    """Artifact names are unique within a workflow run, and a second upload of one fails (409
    Conflict): a reusable workflow called twice in one run must be able to name its artifacts
    apart. So every upload's name reads an input, directly or through the step that computes it
    (its env), and in a matrix job also the matrix, so the legs differ."""
    uploads = _uploads()
    assert len(uploads) >= 6
    for name, job, step in uploads:
        artifact = str(step["with"]["name"])
        steps = {s["id"]: s for s in job["steps"] if "id" in s}
        sources = [artifact]
        for ref in re.findall(r"steps\.([\w-]+)\.outputs\.", artifact):
            sources += [str(value) for value in steps[ref].get("env", {}).values()]
        assert any("inputs." in source for source in sources), f"{name}: artifact name {artifact!r} reads no input"
        if "matrix" in job.get("strategy", {}):
            assert any("matrix." in source for source in sources), f"{name}: {artifact!r} is one for every leg"


@pytest.mark.parametrize(
    ("workflow", "inputs", "expected"),
    [
        ("test.yml", {"artifact-prefix": "test-report", "working-directory": "."}, "test-report-3.12"),
        (
            "test.yml",
            {"artifact-prefix": "test-report", "working-directory": "./models/penguins/"},
            "test-report-models-penguins-3.12",
        ),
        ("test.yml", {"artifact-prefix": "gpu-tests", "working-directory": "."}, "gpu-tests-3.12"),
        ("drift.yml", {"artifact-name": "", "working-directory": "."}, "drift-report"),
        ("drift.yml", {"artifact-name": "", "working-directory": "models/eu west"}, "drift-report-models-eu-west"),
        ("drift.yml", {"artifact-name": "drift-eu", "working-directory": "models/eu"}, "drift-eu"),
    ],
)
def test_default_artifact_names_differ_per_project_directory(tmp_path, workflow, inputs, expected):
    """Two calls for two projects of one repository get two names without setting any."""
    (job,) = [job for name, job, _ in _uploads() if name == workflow]
    step = next(s for s in job["steps"] if s.get("id") == "artifact")
    values = {**inputs, "matrix.python-version": "3.12"}
    env = {}
    for key, value in step["env"].items():
        (expression,) = re.fullmatch(r"\$\{\{ (inputs\.[\w-]+|matrix\.[\w-]+) \}\}", value).groups()
        env[key] = values[expression.removeprefix("inputs.")]
    output = tmp_path / "output"
    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]  # GitHub's `shell: bash`
    run(bash, cwd=tmp_path, env={**env, "GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"})
    assert output.read_text() == f"name={expected}\n"


def test_jobs_that_publish_or_promote_restore_no_cache():
    """A cache written by another run (unreviewed code on another branch) must not feed an image
    that is pushed or a job that holds the production credential: no uv cache, no layer cache."""
    for name in ("image.yml", *sorted(PRODUCTION_WORKFLOWS)):
        for job_id, job in _load(REUSABLE[name])["jobs"].items():
            for step in job["steps"]:
                uses, inputs = step.get("uses", ""), step.get("with", {})
                if "setup-project" in uses:
                    assert inputs.get("cache") == "false", f"{name}/{job_id}: uv cache restored"
                if uses.startswith("docker/build-push-action"):
                    assert not {"cache-from", "cache-to"} & set(inputs), f"{name}/{job_id}: layer cache"
                    assert inputs.get("no-cache") is True, f"{name}/{job_id}: builds on cached layers"
                assert not uses.startswith("actions/cache"), f"{name}/{job_id}: {uses}"
    setup = _load(TEMPLATE_GITHUB / "actions" / "setup-project" / "action.yml")
    (python,) = [step for step in setup["runs"]["steps"] if step.get("uses", "").startswith("actions/setup-python")]
    assert "cache" not in python["with"], "setup-python restores a cache of its own"
    (cache,) = [step for step in setup["runs"]["steps"] if step.get("uses", "").startswith("actions/cache@")]
    assert "inputs.cache == 'true'" in cache["if"]
    assert "hashFiles(format('{0}/uv.lock', inputs.working-directory))" in cache["with"]["key"]
    assert "steps.python.outputs.python-version" in cache["with"]["key"]


def test_generated_callers_pass_the_production_credential_only_to_promote_and_rollback(all_rendered):
    """In ci.yml, retrain.yml and rollback.yml only the jobs calling promote.yml / rollback.yml
    pass MLFLOW_PROMOTE_*, each from the secret of the same name (never the candidate one);
    the image job runs in the staging environment, promote and rollback in production; train
    is skipped for Dependabot pull requests."""
    for answers, project in all_rendered:
        production = answers.get("production_environment", COOKIECUTTER_JSON["production_environment"])
        staging = answers.get("staging_environment", COOKIECUTTER_JSON["staging_environment"])
        for workflow in ("ci.yml", "retrain.yml", "rollback.yml"):
            for job_id, job in _load(project / ".github" / "workflows" / workflow)["jobs"].items():
                callee = job["uses"].split("@")[0].rsplit("/", 1)[-1]
                secrets = job.get("secrets", {})
                if callee in PRODUCTION_WORKFLOWS:
                    assert {name: secrets.get(name) for name in PROMOTE_SECRETS} == {
                        name: f"${{{{ secrets.{name} }}}}" for name in PROMOTE_SECRETS
                    }, f"{workflow}/{job_id}"
                    assert not set(secrets) & CANDIDATE_SECRETS, f"{workflow}/{job_id} gets the candidate credential"
                    assert job["with"]["environment"] == production, f"{workflow}/{job_id}"
                else:
                    assert not _secret_refs(job) & PROMOTE_SECRETS, (
                        f"{workflow}/{job_id} gets the production credential"
                    )
                if callee == "image.yml":
                    assert job["with"]["environment"] == staging, f"{workflow}/{job_id}"
        ci = _load(project / ".github" / "workflows" / "ci.yml")["jobs"]
        assert ci["train"]["if"] == "github.event.pull_request.user.login != 'dependabot[bot]'"
        assert set(_on(_load(project / ".github" / "workflows" / "rollback.yml"))) == {"workflow_dispatch"}


@pytest.mark.parametrize("workflow", ["ci.yml", "retrain.yml", "rollback.yml", "lint.yml"])
def test_callers_pass_only_declared_inputs_and_secrets(all_rendered, workflow):
    """actionlint cannot read remote reusable workflows: check the calls against the template's
    (the permissions they grant: test_github_rules.py)."""
    for answers, project in all_rendered:
        repo = answers.get("workflows_repo", DEFAULT_REPO)
        for job_id, job in _load(project / ".github" / "workflows" / workflow)["jobs"].items():
            callee = _callee(job["uses"], repo)
            call = _on(callee)["workflow_call"]
            declared = call.get("inputs", {})
            given = job.get("with", {})
            assert set(given) <= set(declared), f"{workflow}/{job_id}: unknown inputs {set(given) - set(declared)}"
            missing = {name for name, spec in declared.items() if spec.get("required") and name not in given}
            assert not missing, f"{workflow}/{job_id}: required inputs {missing} not passed"
            for name, value in given.items():
                if declared[name]["type"] == "string" and not str(value).startswith("${{"):
                    assert isinstance(value, str), f"{workflow}/{job_id}: {name}={value!r} must be a string"
            assert set(job.get("secrets", {})) <= set(call.get("secrets", {})), f"{workflow}/{job_id}"


def test_generated_ci_graph_and_gate_settings(all_rendered):
    """The job graph of ci.yml; the gate's metric, margin and mode come from params.yaml alone,
    and a pull request's or merge group's base commit judges it; merge-check always reports."""
    gate_settings = {"metric", "min-improvement", "improvement-mode"}
    base_sha = "${{ github.event.pull_request.base.sha || github.event.merge_group.base_sha }}"
    for answers, project in all_rendered:
        jobs = _load(project / ".github" / "workflows" / "ci.yml")["jobs"]
        assert set(jobs) == {"validate", "test", "train", "gate", "image", "promote", "merge-check"}
        assert jobs["validate"]["with"]["base-sha"] == base_sha
        assert jobs["gate"]["with"]["base-sha"] == base_sha
        assert jobs["gate"]["with"]["merge-check"] is False, "merge-check.yml, not the gate job, fails a regression"
        merge_check = jobs["merge-check"]
        assert set(merge_check["needs"]) == {"validate", "test", "train", "gate"}
        assert merge_check["if"] == "always()", "a check that can be skipped stays 'Expected' and blocks merges"
        assert merge_check["permissions"] == {}
        assert merge_check["uses"].split("@")[0].endswith("/merge-check.yml")
        assert set(jobs["train"]["needs"]) == {"validate", "test"}
        assert jobs["gate"]["needs"] == "train"
        assert jobs["gate"]["uses"].split("@")[0].endswith("/gate.yml")
        for condition in (
            "needs.gate.outputs.decision == 'promote'",
            "github.event_name != 'pull_request'",
            "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)",
        ):
            assert condition in jobs["image"]["if"]
        assert set(jobs["promote"]["needs"]) >= {"gate", "image"}
        assert jobs["promote"]["uses"].split("@")[0].endswith("/promote.yml")
        assert jobs["promote"]["with"]["image-digest"] == "${{ needs.image.outputs.digest }}"
        retrain = _load(project / ".github" / "workflows" / "retrain.yml")["jobs"]
        assert set(retrain) == {"validate", "train", "gate", "image", "promote"}
        assert "needs.gate.outputs.decision == 'promote'" in retrain["image"]["if"]
        assert jobs["train"]["with"]["runner-labels"] == answers["gpu_runner_labels"]
        for workflow in ("ci.yml", "retrain.yml"):
            gate = _load(project / ".github" / "workflows" / workflow)["jobs"]["gate"]["with"]
            assert gate_settings & set(gate) == set(), f"{workflow} repeats gate settings that params.yaml holds"
        params = _load(project / "params.yaml")["gate"]
        assert (params["metric"], params["min_improvement"], params["mode"]) == (
            answers["primary_metric"],
            float(answers["min_improvement"]),
            answers["improvement_mode"],
        )
        triggers = _on(_load(project / ".github" / "workflows" / "ci.yml"))
        assert set(triggers) == {"pull_request", "merge_group", "push", "workflow_dispatch"}
        assert not (triggers["pull_request"] or {}).get("paths-ignore"), "a filtered required check never reports"
        retrain = _on(_load(project / ".github" / "workflows" / "retrain.yml"))
        assert set(retrain) == {"schedule", "workflow_dispatch"}


def test_docs_describe_every_input_and_output():
    """docs/workflows.md documents each reusable workflow's interface; keep it in step."""
    docs = (TEMPLATE_DIR / "docs" / "workflows.md").read_text()
    for name, path in REUSABLE.items():
        start = docs.index(f"### `{name}`")
        section = docs[start : docs.find("\n### ", start + 1)]
        call = _on(_load(path))["workflow_call"]
        for item in [*call.get("inputs", {}), *call.get("outputs", {})]:
            assert f"`{item}`" in section, f"docs/workflows.md: {name} does not mention `{item}`"
