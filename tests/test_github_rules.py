"""GitHub's rules that act does not enforce, on the template's reusable workflows and every render.

act runs a workflow without GitHub's limits, its check names, its artifact store or its fork
policy, so a workflow can pass under act and still be refused, or leak, on GitHub. Each rule
is a checker in support/github_rules.py, cited here by the section of GitHub's documentation
that states it; each is run on every render (and the template's reusable workflows), where it
must find nothing, and on a small bad workflow, where it must report the problem.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from support import github_rules as rules
from support.template import COOKIECUTTER_JSON, REUSABLE_WORKFLOWS, TEMPLATE_DIR

TEMPLATE_WORKFLOWS = TEMPLATE_DIR / ".github" / "workflows"
REUSABLE = REUSABLE_WORKFLOWS
DEFAULT_REPO = COOKIECUTTER_JSON["workflows_repo"]


def _workflows(project: Path) -> dict[str, dict]:
    return {path.name: rules.load(path) for path in sorted((project / ".github" / "workflows").glob("*.yml"))}


def _resolve(answers: dict[str, str], project: Path) -> rules.Resolver:
    repo = answers.get("workflows_repo", DEFAULT_REPO)
    return rules.resolver(repo, REUSABLE, project / ".github" / "workflows")


def _template_resolve() -> rules.Resolver:
    return rules.resolver(DEFAULT_REPO, REUSABLE, TEMPLATE_WORKFLOWS)


def _bad(tmp_path: Path, text: str) -> dict:
    """A bad workflow as a file (what the checkers read in the renders), loaded back."""
    path = tmp_path / "bad.yml"
    path.write_text(text)
    return rules.load(path)


def _resolve_in(tmp_path: Path, **workflows: str) -> rules.Resolver:
    """A resolver for `./.github/workflows/<name>.yml` calls to the given YAML texts."""
    directory = tmp_path / "called"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in workflows.items():
        (directory / f"{name}.yml").write_text(text)
    return rules.resolver("nobody/nothing", {}, directory)


# --- 1. required check names --------------------------------------------------------------
# docs.github.com, "Workflow syntax for GitHub Actions" > jobs.<job_id>.name (a job's check is
# named by `name`, else its id) and "About protected branches" > "Require status checks before
# merging" (a required check that no job reports stays "Expected" and blocks every merge). The
# check of a called workflow's job is "<caller job> / <called job>", the form the Actions UI and
# the checks API show; no reference section spells it out, so it is encoded here.


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    level = heading.split(" ")[0]
    end = re.search(rf"^#{{1,{len(level)}}} ", markdown[start + len(heading) :], re.MULTILINE)
    return markdown[start : start + len(heading) + end.start()] if end else markdown[start:]


def _required_checks(project: Path) -> set[str]:
    readme = _section((project / "README.md").read_text(), "### Require the checks")
    named = rules.documented_checks(readme) | set(re.findall(r'"context":\s*"([^"]+)"', readme))
    return named | rules.documented_checks((TEMPLATE_DIR / "docs" / "workflows.md").read_text())


def test_required_checks_in_the_docs_are_checks_the_workflows_report(all_rendered):
    for answers, project in all_rendered:
        required = _required_checks(project)
        assert "merge-check / merge-check" in required, "the README names the one check to require"
        workflows = [w for w in _workflows(project).values() if "pull_request" in rules.triggers(w)]
        assert rules.required_check_problems(required, workflows, _resolve(answers, project)) == [], project


def test_a_required_check_no_job_reports_is_found(tmp_path):
    caller = _bad(tmp_path, "on: pull_request\njobs:\n  checks:\n    uses: ./.github/workflows/callee.yml\n")
    resolve = _resolve_in(tmp_path, callee="on: workflow_call\njobs:\n  verdict:\n    name: merge-check\n")
    assert rules.check_names(caller, resolve) == {"checks / merge-check"}
    problems = rules.required_check_problems({"merge-check / merge-check"}, [caller], resolve)
    assert len(problems) == 1 and "'merge-check / merge-check'" in problems[0]


# --- 2. artifact names unique per call ----------------------------------------------------
# docs.github.com, "Storing workflow data as artifacts", and actions/upload-artifact's README
# ("(Not) Uploading to the same artifact") and docs/MIGRATION.md for v4: an artifact is
# immutable and its name unique in a workflow run; a second upload of the same name fails the
# job (409 Conflict). Two calls of one reusable workflow in a run must be able to differ, so a
# matrix value alone is not enough: two calls with the same matrix would collide.


@pytest.mark.parametrize("name", list(REUSABLE))
def test_reusable_workflows_name_artifacts_after_an_input(name):
    assert rules.artifact_name_problems(rules.load(REUSABLE[name])) == []


def test_an_artifact_name_two_calls_share_is_found(tmp_path):
    workflow = _bad(
        tmp_path,
        """
on: workflow_call
jobs:
  report:
    strategy:
      matrix:
        python: ["3.11", "3.12"]
    steps:
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: report
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: report-${{ inputs.prefix }}-${{ matrix.python }}
""",
    )
    problems = rules.artifact_name_problems(workflow)
    assert len(problems) == 2
    assert "'report' names no input" in problems[0] and "'report' names no matrix value" in problems[1]


# --- 3. input types -----------------------------------------------------------------------
# docs.github.com, "Workflow syntax for GitHub Actions" > on.workflow_call.inputs.<input_id>.type:
# one of boolean, number or string (choice and environment are workflow_dispatch's only).


def test_reusable_workflow_inputs_are_string_number_or_boolean():
    for name, path in REUSABLE.items():
        assert rules.input_type_problems(rules.load(path)) == [], name


def test_an_input_of_another_type_is_found(tmp_path):
    workflow = _bad(
        tmp_path,
        """
on:
  workflow_call:
    inputs:
      level: {type: choice, options: [a, b]}
      labels: {description: no type}
      ok: {type: string}
jobs: {}
""",
    )
    assert rules.input_type_problems(workflow) == [
        "input level: type 'choice' is not one of ('boolean', 'number', 'string')",
        "input labels: type None is not one of ('boolean', 'number', 'string')",
    ]


# --- 4. nesting, count and matrix limits --------------------------------------------------
# docs.github.com, "Reusing workflows" > "Limitations": "You can connect up to four levels of
# workflows" and "You can call a maximum of 20 unique reusable workflows from a single
# workflow file" (nested trees included). "Using jobs in a workflow" > "Running variations of
# jobs in a workflow": "A matrix will generate a maximum of 256 jobs per workflow run."


def test_workflows_stay_within_githubs_nesting_count_and_matrix_limits(all_rendered):
    resolve = _template_resolve()
    for path in sorted(TEMPLATE_WORKFLOWS.glob("*.yml")):
        workflow = rules.load(path)
        assert rules.nesting_problems(workflow, resolve) + rules.called_matrix_problems(workflow, resolve) == [], path
    for answers, project in all_rendered:
        resolve = _resolve(answers, project)
        for name, workflow in _workflows(project).items():
            depth, _ = rules.call_tree(workflow, resolve)
            assert depth <= 2, f"{project}/{name}: the reusable workflows call no others"
            problems = rules.nesting_problems(workflow, resolve) + rules.called_matrix_problems(workflow, resolve)
            assert problems == [], f"{project}/{name}"


def test_too_deep_a_nesting_is_found(tmp_path):
    call = "on: workflow_call\njobs:\n  next:\n    uses: ./.github/workflows/{}.yml\n"
    resolve = _resolve_in(
        tmp_path, one=call.format("two"), two=call.format("three"), three=call.format("four"), four="jobs: {}\n"
    )
    top = _bad(tmp_path, "on: push\njobs:\n  first:\n    uses: ./.github/workflows/one.yml\n")
    assert rules.call_tree(top, resolve)[0] == 5
    assert rules.nesting_problems(top, resolve) == ["5 levels of workflows: GitHub connects at most 4"]


def test_too_many_called_workflows_are_found(tmp_path):
    call = "  call{0}:\n    uses: acme/workflows/.github/workflows/w{0}.yml@v1\n"
    jobs = "".join(call.format(index) for index in range(21))
    top = _bad(tmp_path, f"on: push\njobs:\n{jobs}")
    assert rules.nesting_problems(top, lambda uses: None) == ["21 unique reusable workflows called: GitHub allows 20"]


def test_too_large_a_matrix_is_found(tmp_path):
    workflow = _bad(
        tmp_path,
        """
on:
  workflow_call:
    inputs:
      versions: {type: string, default: '["3.11", "3.12"]'}
jobs:
  test:
    strategy:
      matrix:
        python: ${{ fromJSON(inputs.versions) }}
        shard: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
        seed: [1, 2, 3, 4, 5, 6, 7, 8]
        exclude:
          - {python: "3.11", shard: 1}
        include:
          - {python: "3.13", shard: 1, seed: 1}
    steps: []
""",
    )
    assert rules.matrix_problems(workflow) == ["job test: its matrix makes 265 jobs, GitHub allows 256"]
    assert rules.matrix_problems(workflow, {"versions": '["3.12"]'}) == []
    caller = _bad(
        tmp_path, "on: push\njobs:\n  t:\n    uses: ./.github/workflows/t.yml\n    with:\n      versions: '[1, 2, 3]'\n"
    )
    (problem,) = rules.called_matrix_problems(caller, _resolve_in(tmp_path, t=yaml.safe_dump(workflow)))
    assert problem.startswith("job t: job test: its matrix makes 409 jobs")


# --- 5. fork pull requests reach no secret and no environment -----------------------------
# docs.github.com, "Using secrets in GitHub Actions" / "Events that trigger workflows" >
# pull_request, "Workflows in forked repositories": "With the exception of GITHUB_TOKEN,
# secrets are not passed to the runner when a workflow is triggered from a forked repository",
# and "Automatic token authentication" > "Permissions for the GITHUB_TOKEN": a fork's token is
# read-only. A job that reads a secret or declares an environment must not run there at all:
# it would fail without its credential, or run fork code beside one.


def test_no_job_with_secrets_or_an_environment_runs_for_a_fork_pull_request(all_rendered):
    for path in sorted(TEMPLATE_WORKFLOWS.glob("*.yml")):  # the template's own CI too
        assert rules.fork_problems(rules.load(path), _template_resolve()) == [], path
    for answers, project in all_rendered:
        resolve = _resolve(answers, project)
        for name, workflow in _workflows(project).items():
            assert rules.fork_problems(workflow, resolve) == [], f"{project}/{name}"
        # what the fork run does: validate, test and merge-check run; train's job is skipped by
        # its fork guard, so gate (no model version), image and promote never start
        may_run, jobs = rules.simulate(_workflows(project)["ci.yml"], resolve, rules.fork_pull_request())
        assert {path for path, _ in may_run} == {"validate / validate", "test / test", "merge-check / merge-check"}
        assert {job_id for job_id, (result, _) in jobs.items() if result == "skipped"} == {"gate", "image", "promote"}


def test_the_evaluator_reads_the_conditions_the_workflows_use():
    github = rules.fork_pull_request()
    context = {"github": github, "needs": {"train": {"result": "skipped", "outputs": {"model-version": ""}}}}
    fork_guard = (
        "github.event_name != 'pull_request' || github.event.pull_request.head.repo.full_name == github.repository"
    )
    cases = {
        fork_guard: False,
        "github.event.pull_request.user.login != 'dependabot[bot]'": True,
        "needs.train.outputs.model-version != ''": False,
        "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)": False,
        "!(github.event_name == 'PULL_REQUEST')": False,
        "vars.REQUIRE_GPU != 'false'": rules.UNKNOWN,
        "vars.X == 'a' && github.event_name == 'push'": False,
        "vars.X == 'a' || github.event_name == 'pull_request'": rules.UNKNOWN,
    }
    for expression, expected in cases.items():
        assert rules.evaluate(expression, context) is expected, expression


def test_a_secret_or_environment_job_reachable_from_a_fork_is_found(tmp_path):
    callee = """
on:
  workflow_call:
    outputs:
      version: {value: "${{ jobs.train.outputs.version }}"}
jobs:
  train:
    if: GUARD
    steps:
      - run: make train
        env:
          TOKEN: ${{ secrets.MLFLOW_TRACKING_PASSWORD }}
"""
    caller = """
on: pull_request
jobs:
  train:
    uses: ./.github/workflows/train.yml
    secrets:
      MLFLOW_TRACKING_PASSWORD: ${{ secrets.MLFLOW_TRACKING_PASSWORD }}
  gate:
    needs: train
    if: needs.train.outputs.version != ''
    environment: production
    steps:
      - run: make gate
  comment:
    steps:
      - run: gh pr comment
        env:
          GH_TOKEN: ${{ secrets.GITHUB_TOKEN }}
"""
    workflow = _bad(tmp_path, caller)
    fork_guard = "github.event.pull_request.head.repo.full_name == github.repository"
    guarded = _resolve_in(tmp_path / "guarded", train=callee.replace("GUARD", fork_guard))
    assert rules.fork_problems(workflow, guarded) == []
    unguarded = _resolve_in(tmp_path, train=callee.replace("GUARD", "github.event.pull_request.user.login != 'x'"))
    assert rules.fork_problems(workflow, unguarded) == [
        "job train / train uses secrets and can run on a pull request from a fork",
        "job gate uses environment and can run on a pull request from a fork",
    ]


# --- 6. a called job's permissions never exceed its caller's grant -------------------------
# docs.github.com, "Reusing workflows" > "Access and permissions for nested workflows" /
# "Supported keywords for jobs that call a reusable workflow" > permissions: "The
# GITHUB_TOKEN permissions passed from the caller workflow can be only downgraded (not
# elevated) by the called workflow"; a run whose called job asks for more fails to start.


def test_called_jobs_ask_for_no_more_than_their_caller_grants(all_rendered):
    for path in sorted(TEMPLATE_WORKFLOWS.glob("*.yml")):
        assert rules.permission_problems(rules.load(path), _template_resolve()) == [], path
    for answers, project in all_rendered:
        resolve = _resolve(answers, project)
        for name, workflow in _workflows(project).items():
            assert rules.permission_problems(workflow, resolve) == [], f"{project}/{name}"


def test_a_called_job_asking_for_more_than_its_caller_grants_is_found(tmp_path):
    resolve = _resolve_in(
        tmp_path,
        gate="""
on: workflow_call
permissions: {}
jobs:
  gate:
    permissions: {contents: read}
  comment:
    permissions: {contents: read, pull-requests: write}
""",
    )
    caller = _bad(
        tmp_path,
        "on: pull_request\npermissions: {}\njobs:\n  gate:\n    uses: ./.github/workflows/gate.yml\n"
        "    permissions:\n      contents: read\n      pull-requests: read\n",
    )
    assert rules.permission_problems(caller, resolve) == [
        "job gate grants pull-requests: read, its called job comment asks for write"
    ]
    caller["jobs"]["gate"]["permissions"] = "read-all"
    assert len(rules.permission_problems(caller, resolve)) == 1
    caller["jobs"]["gate"]["permissions"] = "write-all"
    assert rules.permission_problems(caller, resolve) == []
