"""Show the generated CI at work: render the default project and run its ci.yml under act, twice.

    python scripts/demo.py [--output-dir build/demo]        (this is `make demo`)

1. A push to main: validate ∥ test → train → gate → image → promote. The registry is empty, so
   the gate compares candidate 1 with a naive baseline and says promote: the image job builds
   the gated bytes into the staged image (tag model-1), and promote, with the production
   credential, signs them, makes them production version 1, the champion, and pushes the
   release image (the staged image plus the signature) as release-1, champion and prod.
2. A pull request whose head commit weakens the model (one epoch at a tenth of the learning
   rate), with the candidate credential only: the gate scores the new candidate against
   champion 1, finds a regression and FAILS (the PR check that blocks the merge); image and
   promote do not run and the champion stays version 1.

Both runs share one MLflow registry, a SQLite file in the output directory. act runs every job
on this machine (host mode) with this interpreter's packages, and stand-ins for the
third-party actions such as the image build and push (tests/support/act/README.md). For each
scenario the demo prints the job graph with each job's result, the gate's report and a
verdict; it exits 0 only when both scenarios went as expected.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.act.harness import ActResult, git_init, pull_request_event, push_event
from support.act.scenarios import (
    CI_JOBS,
    REPOSITORY,
    REPOSITORY_VARIABLES,
    WEAKER_MODEL,
    Registry,
    job_graph,
    runner,
    weaken_model,
)
from support.commands import BIN_DIR
from support.template import DEFAULT_PROJECT, TEMPLATE_DIR

Checks = dict[str, tuple[object, object]]  # what: (seen, expected)


def gate_report(result: ActResult) -> dict:
    """reports/gate.json as the gate job uploaded it (the gate-report artifact); {} without one."""
    path = result.artifact("gate-report") / "gate.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def gate_markdown(result: ActResult) -> str:
    """reports/gate.md, the table the gate job put in its step summary (and on pull requests)."""
    path = result.artifact("gate-report") / "gate.md"
    return path.read_text().strip() if path.is_file() else "(the gate job wrote no report)"


def push_checks(result: ActResult, registry: Registry) -> Checks:
    gate = gate_report(result)
    every_job = {
        CI_JOBS[name]: "success" for name in ("validate", "test", "train", "gate", "image", "promote", "merge-check")
    }
    digest = result.outputs(CI_JOBS["image"]).get("digest")
    tags = result.image_registry()
    image_tags = {tag.rsplit(":", 1)[1]: value for tag, value in tags.items()}
    release = image_tags.get("release-1")
    return {
        "jobs": (result.jobs, every_job),
        "gate decision": (result.outputs(CI_JOBS["gate"]).get("decision"), "promote"),
        "gate baseline": (gate.get("baseline_kind"), "naive"),
        "champion": (registry.champion(), "1"),
        "staged image model-1; the signed release image as release-1, champion and prod": (
            image_tags,
            {"model-1": digest, **dict.fromkeys(("release-1", "champion", "prod"), release)},
        ),
        "the champion is signed and names its release image": (
            (registry.champion_tags().get("model.signature"), registry.champion_tags().get("image.digest")),
            ("key", release),
        ),
    }


def scored_worse(gate: dict) -> bool:
    """Whether the gate scored the candidate worse than the baseline."""
    if "candidate_value" not in gate:
        return False
    candidate, baseline = gate["candidate_value"], gate["baseline_value"]
    return candidate < baseline if gate["greater_is_better"] else candidate > baseline


def pull_request_checks(result: ActResult, registry: Registry, main_sha: str) -> Checks:
    gate = gate_report(result)
    before_gate = [CI_JOBS[name] for name in ("validate", "test", "train")]
    return {
        "validate, test, train": ([result.jobs.get(job) for job in before_gate], ["success"] * 3),
        "gate job (reports the verdict)": (result.jobs.get(CI_JOBS["gate"]), "success"),
        "merge-check (the PR's required check)": (result.jobs.get(CI_JOBS["merge-check"]), "failure"),
        "merge check": (result.outputs(CI_JOBS["gate"]).get("merge"), "regression"),
        "rules of the base commit decided": (gate.get("policy_commit"), main_sha),
        "the PR's rule change is listed": (len(gate.get("rule_changes", [])) > 0, True),
        "gate decision": (result.outputs(CI_JOBS["gate"]).get("decision"), "reject"),
        "gate baseline": ((gate.get("baseline_kind"), str(gate.get("baseline_version"))), ("champion", "1")),
        "candidate scored worse than the champion": (scored_worse(gate), True),
        "promote or image ran": (sorted({CI_JOBS["promote"], CI_JOBS["image"]} & set(result.jobs)), []),
        "champion": (registry.champion(), "1"),
    }


def show(result: ActResult, checks: Checks, expected: str, pull_request: bool) -> bool:
    """Print the job graph, the gate's report and the verdict; True when every check held."""
    print(f"act exited {result.returncode} after {result.seconds:.0f} s\n")
    print(job_graph(result.jobs, pull_request=pull_request) + "\n")
    print(gate_markdown(result) + "\n")
    wrong = [f"{what}: {seen!r}, expected {wanted!r}" for what, (seen, wanted) in checks.items() if seen != wanted]
    if wrong:
        print("verdict: UNEXPECTED: " + "; ".join(wrong))
        print(result.describe(), file=sys.stderr)
        return False
    print(f"verdict: as expected: {expected}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=TEMPLATE_DIR / "build" / "demo")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds allowed for each act run")
    args = parser.parse_args(argv)

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its database set-up notes are not the demo
    output = args.output_dir.resolve()
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    quiet = subprocess.run(  # as a user renders it, without the next-steps message
        [BIN_DIR / "cookiecutter", "--no-input", TEMPLATE_DIR, "--output-dir", output], capture_output=True, text=True
    )
    if quiet.returncode != 0:
        print(quiet.stdout + quiet.stderr, file=sys.stderr)
        return 1
    project = output / DEFAULT_PROJECT
    main_sha = git_init(project, REPOSITORY)
    registry = Registry(output / "mlflow.db").add_experiment(output / "mlartifacts")
    act = runner(project, output / "act")
    print(f"project: {project} (default answers, committed on main)")
    print(f"MLflow registry shared by both runs: {registry.uri}\n")

    print("== 1. push to main, empty registry", flush=True)
    push = act.run(
        "push", push_event(REPOSITORY, main_sha), secrets=registry.promote_secrets(), variables=REPOSITORY_VARIABLES,
        name="push", timeout=args.timeout,
    )  # fmt: skip
    expected = (
        "the candidate beat the naive baseline; its image was built, then promoted: version 1 is the"
        " champion and its image digest is tagged champion and prod"
    )
    if not show(push, push_checks(push, registry), expected, pull_request=False):
        print("\nscenario 2 needs champion 1 from scenario 1: not run")
        return 1

    branch = "weaker-model"
    weak_sha = weaken_model(project, branch)
    change = ", ".join(
        f"{section}.{key}: {value}" for section, values in WEAKER_MODEL.items() for key, value in values.items()
    )
    print(f"\n== 2. pull request from {branch} ({weak_sha[:7]}: {change}), champion 1", flush=True)
    pull_request = act.run(
        "pull_request", pull_request_event(REPOSITORY, weak_sha, branch=branch, base_sha=main_sha),
        secrets=registry.secrets(),
        variables=REPOSITORY_VARIABLES, name="pull-request", timeout=args.timeout,
    )  # fmt: skip
    gate = gate_report(pull_request)
    expected = (
        f"candidate {gate.get('candidate_version')} ({gate.get('metric')} {gate.get('candidate_value', 0):.4f}) scored"
        f" worse than champion 1 ({gate.get('baseline_value', 0):.4f}) under main's gate policy, whatever the PR's"
        " params.yaml says: the required check merge-check / merge-check failed (merge check: regression);"
        " nothing promoted or built"
    )
    passed = show(pull_request, pull_request_checks(pull_request, registry, main_sha), expected, pull_request=True)
    print(f"\nact logs: {output / 'act' / 'push' / 'act.log'}, {output / 'act' / 'pull-request' / 'act.log'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
