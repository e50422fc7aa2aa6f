"""Show the generated CI at work: render the default project and run `make ci-local` in it, twice.

    python scripts/demo.py [--output-dir build/demo]        (this is `make demo`)

`make ci-local` is the generated project's own tool: it runs the project's ci.yml under act on
this machine against a local MLflow registry (.ci-local/ in the project). The demo points it at
this checkout for the reusable workflows (WORKFLOWS_DIR) and at this interpreter's packages.

1. On main, a push: validate ∥ test → train → gate → image → promote. The registry is empty,
   so the gate compares candidate 1 with a naive baseline and says promote: the image job
   builds the gated bytes into the staged image (tag model-1), and promote, with the production
   credential, signs them, makes them production version 1, the champion, and pushes the
   release image (the staged image plus the signature) as release-1, champion and prod.
2. On a branch whose commit weakens the model (one epoch at a tenth of the learning rate) and
   loosens the merge tolerance, a pull request with the candidate credential only: the gate
   scores the new candidate against champion 1 under main's rules, finds a regression and the
   required check merge-check FAILS; image and promote do not run and the champion stays 1.

Both runs pass MARKERS=not slow, so their test job runs the project's tests not marked slow
(about 30 s, not 2 to 3 minutes): the demo is about the graph and the gate. `make ci-local`
without it runs the whole suite, as GitHub does; `make test` in the project runs it here.

After each run the demo checks what the run left (job results, the registry, the fake image
registry of the stand-ins) and prints a verdict; it exits 0 only when both went as expected.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "<<cookiecutter.project>>" / "tools")]

from ci_local.harness import ActResult, git_init  # noqa: E402
from ci_local.registry import LocalRegistry  # noqa: E402
from ci_local.report import CI_JOBS, gate_report  # noqa: E402
from support.act.scenarios import QUICK_TESTS, REPOSITORY, WEAKER_MODEL, weaken_model  # noqa: E402
from support.template import DEFAULT_PACKAGE, DEFAULT_PROJECT, TEMPLATE_DIR  # noqa: E402

BIN_DIR = Path(sys.executable).parent
# The demo shows the job graph and the gate's verdicts: the test job runs the act scenarios' quick tests.
QUICK_MAKE_ARGS = [f"{name}={value}" for name, value in QUICK_TESTS.items()]
Checks = dict[str, tuple[object, object]]  # what: (seen, expected)


def ci_local(project: Path, timeout: float, *make_args: str) -> tuple[int, ActResult]:
    """`make ci-local [MAKE_ARGS]` as a user runs it, its output passed through; (exit status, the run it made)."""
    env = os.environ | {"PATH": f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}"}  # act beside this Python
    command = ["make", "--no-print-directory", "ci-local", f"WORKFLOWS_DIR={TEMPLATE_DIR}", f"PYTHON={sys.executable}"]
    command += make_args
    completed = subprocess.run(command, cwd=project, env=env, timeout=timeout, check=False)
    latest = sorted((project / ".ci-local" / "runs").iterdir())[-1]
    return completed.returncode, ActResult.read(latest)


def push_checks(returncode: int, result: ActResult, registry: LocalRegistry) -> Checks:
    every_job = {
        CI_JOBS[name]: "success" for name in ("validate", "test", "train", "gate", "image", "promote", "merge-check")
    }
    digest = result.outputs(CI_JOBS["image"]).get("digest")
    image_tags = {tag.rsplit(":", 1)[1]: value for tag, value in result.image_registry().items()}
    release = image_tags.get("release-1")
    return {
        "make ci-local's exit status": (returncode, 0),
        "jobs": (result.jobs, every_job),
        "gate decision": (result.outputs(CI_JOBS["gate"]).get("decision"), "promote"),
        "gate baseline": (gate_report(result).get("baseline_kind"), "naive"),
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


def pull_request_checks(returncode: int, result: ActResult, registry: LocalRegistry, main_sha: str) -> Checks:
    gate = gate_report(result)
    before_gate = [CI_JOBS[name] for name in ("validate", "test", "train")]
    return {
        "make ci-local's exit status (make reports a failed recipe as 2)": (returncode, 2),
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


def verdict(checks: Checks, expected: str) -> bool:
    """Print the verdict; True when every check held."""
    wrong = [f"{what}: {seen!r}, expected {wanted!r}" for what, (seen, wanted) in checks.items() if seen != wanted]
    print("verdict: " + ("UNEXPECTED: " + "; ".join(wrong) if wrong else f"as expected: {expected}"), flush=True)
    return not wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=TEMPLATE_DIR / "build" / "demo")
    parser.add_argument("--timeout", type=float, default=1200, help="seconds allowed for each run")
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
    registry = LocalRegistry(project / ".ci-local" / "mlflow.db", DEFAULT_PACKAGE)
    print(f"project: {project} (default answers, committed on main)\n", flush=True)

    quick = " ".join(f'{name}="{value}"' for name, value in QUICK_TESTS.items())
    print(f"Both runs are `make ci-local {quick}`: the test job runs the tests not marked slow", flush=True)
    print("(`make ci-local` alone runs them all, as GitHub does)\n", flush=True)
    print("== 1. make ci-local on main: a push, empty registry", flush=True)
    returncode, push = ci_local(project, args.timeout, *QUICK_MAKE_ARGS)
    expected = (
        "the candidate beat the naive baseline; its image was built, then promoted: version 1 is the"
        " champion and its image digest is tagged champion and prod"
    )
    if not verdict(push_checks(returncode, push, registry), expected):
        print("\nscenario 2 needs champion 1 from scenario 1: not run")
        return 1

    branch = "weaker-model"
    weak_sha = weaken_model(project, branch)
    change = ", ".join(
        f"{section}.{key}: {value}" for section, values in WEAKER_MODEL.items() for key, value in values.items()
    )
    print(f"\n== 2. make ci-local on branch {branch} ({weak_sha[:7]}: {change}): a pull request, champion 1")
    returncode, pull_request = ci_local(project, args.timeout, *QUICK_MAKE_ARGS)
    gate = gate_report(pull_request)
    expected = (
        f"candidate {gate.get('candidate_version')} ({gate.get('metric')} {gate.get('candidate_value', 0):.4f}) scored"
        f" worse than champion 1 ({gate.get('baseline_value', 0):.4f}) under main's gate policy, whatever the PR's"
        " params.yaml says: the required check merge-check / merge-check failed (merge check: regression);"
        " nothing promoted or built"
    )
    passed = verdict(pull_request_checks(returncode, pull_request, registry, main_sha), expected)
    print(f"\nthe project and its local CI's registry and logs: {project}, {project / '.ci-local'}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
