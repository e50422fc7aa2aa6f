"""What a local CI run shows: ci.yml's job graph with each job's result, the gate's verdicts and
report, the comment a pull request would get, and the end of each failed job's log."""

from __future__ import annotations

import json
from collections.abc import Mapping

from ci_local.harness import ActResult

# Each job of ci.yml as act names it (caller job / job of the called workflow).
CI_JOBS = {
    "validate": "validate/validate",
    "test": "test/test",
    "train": "train/train",
    "gate": "gate/gate",
    "comment": "gate/comment",
    "image": "image/image",
    "promote": "promote/promote",
    "merge-check": "merge-check/merge-check",
}


def job_graph(jobs: Mapping[str, str], pull_request: bool = False) -> str:
    """ci.yml's job graph with each job's result; a job that never started is `skipped`.

    validate (success) ─┐
    test (success) ─────┴─> train (success) ─> gate (success) ─> image (success) ─> promote (success)
                                                              └─> merge-check (success)
    (a pull request's gate also has its comment job; merge-check follows validate, test, train and gate)
    """

    def label(name: str) -> str:
        return f"{name} ({jobs.get(CI_JOBS[name], 'skipped')})"

    first, second = label("validate"), label("test")
    width = max(len(first), len(second)) + 1
    chain = " ─> ".join(label(name) for name in ("train", "gate", "image", "promote"))
    lines = [
        f"{first} {'─' * (width - len(first))}┐",
        f"{second} {'─' * (width - len(second))}┴─> {chain}",
    ]
    column = lines[1].index(label("gate")) + len(label("gate")) + 1
    if pull_request:  # gate.yml's comment job, after the gate
        lines.append(" " * column + "├─> " + label("comment"))
    lines.append(" " * column + "└─> " + label("merge-check"))
    return "\n".join(lines)


def gate_report(result: ActResult) -> dict:
    """reports/gate.json as the gate job uploaded it (the gate-report artifact); {} without one."""
    path = result.artifact("gate-report") / "gate.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def gate_markdown(result: ActResult) -> str:
    """reports/gate.md, the table the gate job put in its step summary (and on pull requests)."""
    path = result.artifact("gate-report") / "gate.md"
    return path.read_text().strip() if path.is_file() else "(the gate job wrote no report)"


def pull_request_comments(result: ActResult) -> list[str]:
    """The sticky comments the run would leave on the pull request (the last body of each)."""
    return [path.read_text().strip() for path in sorted((result.standin_dir / "comments").glob("*.md"))]


def describe(result: ActResult, pull_request: bool) -> str:
    """The whole account of one run, as `make ci-local` prints it."""
    gate = result.outputs(CI_JOBS["gate"])
    verdicts = f"gate: decision {gate.get('decision', '(none)')}, merge check {gate.get('merge', '(none)')}"
    parts = [job_graph(result.jobs, pull_request=pull_request), "", verdicts]
    comments = pull_request_comments(result)
    for comment in comments:  # a pull request's comment holds the gate's report
        parts += ["", "--- the comment this pull request would get", comment]
    if not comments:
        parts += ["", gate_markdown(result)]
    if failures := result.failed_jobs(30):
        parts += ["", *failures]
    return "\n".join(parts)
