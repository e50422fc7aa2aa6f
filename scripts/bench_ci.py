"""How long CI takes: the generated ci.yml under act, with real installs, in several conditions.

    python scripts/bench_ci.py [--output build/bench-ci.json] [--conditions pip,uv-cold,uv-warm,reuse]

(this is `make bench-ci`). Every job runs on this machine (act's host mode, as in the tests),
with `make install` for real, no interpreter handed in:

- `pip`: the install before uv, `pip install -e ".[EXTRAS]"` with torch first (the rendered
  project's `install` recipe replaced by that one; pip's own cache as this machine has it);
- `uv-cold`: `make install` (`uv sync --frozen`) on an empty uv cache;
- `uv-warm`: the same again, on the cache the cold run filled;
- `reuse`: the tests' shortcut, every job reusing this interpreter (`PROJECT_PYTHON`): the floor.

Each condition runs the push-to-main graph (validate ∥ test → train → gate → image → promote) on
an empty registry, then a pull request with champion 1 in the registry; the PR's figure is its
time to the gate decision (act's start to the gate job's `decision` output). Per job it reports
the seconds of the `Set up the project` step (install) and of the rest (work). The torch wheel
is the CPU build of the locked version; where pip is configured with a wheel directory
(`find-links`, e.g. a local disk) it comes from there, which the table says.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "<<cookiecutter.project>>" / "tools")]

from ci_local.harness import ActResult, git_init, pull_request_event, push_event  # noqa: E402
from ci_local.report import CI_JOBS  # noqa: E402
from support.act.scenarios import REPOSITORY, REPOSITORY_VARIABLES, Registry, runner  # noqa: E402
from support.commands import BIN_DIR, PYTHON, git, torch_swap  # noqa: E402
from support.template import DEFAULT_PROJECT, TEMPLATE_DIR  # noqa: E402

CONDITIONS = ("pip", "uv-cold", "uv-warm", "reuse")
INSTALL_STEP = "Set up the project"
# The `install` recipe before uv: a venv, torch first, then the project and its extras with pip.
PIP_INSTALL = """install:
\t@test -x $(PYTHON) || python3 -m venv $(VENV)
\t$(PYTHON) -m pip install --quiet "torch==$(LOCKED_TORCH)"
\t$(PYTHON) -m pip install --quiet -e ".[$$EXTRAS]"
"""


def _time(event: dict) -> float | None:
    stamp = event.get("time")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() if stamp else None


def job_times(result: ActResult) -> dict[str, dict[str, float]]:
    """{job: {"install": s, "work": s, "start": t, "end": t}} from act's timestamped JSON log."""
    spans: dict[str, dict[str, float]] = {}
    install: dict[str, list[float]] = {}
    for event in result.events:
        when, job = _time(event), ActResult._key(event)
        if when is None or not job:
            continue
        span = spans.setdefault(job, {"start": when, "end": when})
        span["start"], span["end"] = min(span["start"], when), max(span["end"], when)
        # its Main stage only: the Post stage (the cache's save) runs at the end of the job
        if event.get("step") == INSTALL_STEP and event.get("stage") == "Main":
            install.setdefault(job, []).append(when)
    times = {}
    for job, span in spans.items():
        if job not in result.jobs:
            continue  # a caller job of ci.yml: its work is the called workflow's job
        setup = install.get(job, [])
        installing = max(setup) - min(setup) if setup else 0.0
        total = span["end"] - span["start"]
        times[job] = {"install": round(installing, 1), "work": round(total - installing, 1), **span}
    return times


def gate_decided_after(result: ActResult) -> float | None:
    """Seconds from act's first event to the gate job's `decision` output."""
    times = [t for event in result.events if (t := _time(event)) is not None]
    decided = [
        _time(event)
        for event in result.events
        if event.get("command") == "set-output" and event.get("name") == "decision"
        and ActResult._key(event) == CI_JOBS["gate"]
    ]  # fmt: skip
    return round(decided[0] - min(times), 1) if decided and decided[0] and times else None


def render(workdir: Path, condition: str) -> tuple[Path, str]:
    quiet = subprocess.run(
        [BIN_DIR / "cookiecutter", "--no-input", TEMPLATE_DIR, "--output-dir", workdir], capture_output=True, text=True
    )
    if quiet.returncode != 0:
        raise SystemExit(quiet.stdout + quiet.stderr)
    project = workdir / DEFAULT_PROJECT
    if condition == "pip":
        makefile = project / "Makefile"
        text = makefile.read_text()
        start = text.index("install: ##")
        end = text.index("\nlock: ##")
        makefile.write_text(text[:start] + PIP_INSTALL + text[end:])
    return project, git_init(project, REPOSITORY)


def summarize(push: ActResult, pull_request: ActResult, logs: list[str]) -> dict:
    jobs = job_times(push)
    return {
        "push": {
            "seconds": round(push.seconds, 1),
            "jobs_ok": all(result == "success" for result in push.jobs.values()),
            "jobs": {
                job: {"install": t["install"], "work": t["work"], "result": push.jobs.get(job)}
                for job, t in jobs.items()
            },
        },
        "pull_request": {
            "seconds": round(pull_request.seconds, 1),
            "gate_decision_after": gate_decided_after(pull_request),
            "decision": pull_request.outputs(CI_JOBS["gate"]).get("decision"),
        },
        "logs": logs,
    }


def from_log(path: Path) -> ActResult:
    """An act run read back from the log the harness kept (its seconds from the log's timestamps)."""
    result = ActResult.read(path.parent)
    times = [t for event in result.events if (t := _time(event)) is not None]
    result.seconds = max(times) - min(times) if times else 0.0
    return result


def run_condition(condition: str, workdir: Path, uv_cache: Path, timeout: float) -> dict:
    project, sha = render(workdir, condition)
    registry = Registry(workdir / "mlflow.db").add_experiment(workdir / "mlartifacts")
    act = runner(project, workdir / "act")
    act.python = PYTHON if condition == "reuse" else ""  # empty: no interpreter reused, make install runs
    environment = {"UV_CACHE_DIR": str(uv_cache), "UV_PYTHON_DOWNLOADS": "never", **torch_swap()}
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)  # act hands its environment to host-mode jobs
    try:
        push = act.run(
            "push", push_event(REPOSITORY, sha), secrets=registry.promote_secrets(), variables=REPOSITORY_VARIABLES,
            name="push", timeout=timeout,
        )  # fmt: skip
        git(project, "checkout", "-q", "-b", "change")
        (project / "CHANGELOG.md").write_text("A change that leaves the model as it is.\n")
        git(project, "add", "-A")
        git(project, "commit", "-qm", "a pull request")
        change = git(project, "rev-parse", "HEAD")
        pull_request = act.run(
            "pull_request", pull_request_event(REPOSITORY, change, branch="change", base_sha=sha),
            secrets=registry.secrets(),
            variables=REPOSITORY_VARIABLES, name="pull-request", timeout=timeout,
        )  # fmt: skip
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    logs = [str(workdir / "act" / name / "act.log") for name in ("push", "pull-request")]
    return summarize(push, pull_request, logs)


def table(results: dict[str, dict]) -> str:
    conditions = list(results)
    jobs = sorted({job for result in results.values() for job in result["push"]["jobs"]})
    header = "| push job | " + " | ".join(f"{c} install s | {c} work s" for c in conditions) + " |"
    lines = [header, "|---" * (1 + 2 * len(conditions)) + "|"]
    for job in jobs:
        cells = []
        for condition in conditions:
            times = results[condition]["push"]["jobs"].get(job, {})
            cells += [str(times.get("install", "-")), str(times.get("work", "-"))]
        lines.append(f"| {job} | " + " | ".join(cells) + " |")
    lines.append(
        "| **whole push graph, s** | " + " | ".join(f"{results[c]['push']['seconds']} | " for c in conditions) + " |"
    )
    lines.append(
        "| **PR: gate decision after, s** | "
        + " | ".join(f"{results[c]['pull_request']['gate_decision_after']} | " for c in conditions)
        + " |"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=TEMPLATE_DIR / "build" / "bench-ci.json")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for each act run")
    parser.add_argument(
        "--from-logs",
        type=Path,
        help="no runs: read CONDITION/push.log and CONDITION/pull-request.log (act's JSON logs) from this folder",
    )
    args = parser.parse_args(argv)
    conditions = [c for c in args.conditions.split(",") if c]
    unknown = set(conditions) - set(CONDITIONS)
    if unknown:
        parser.error(f"unknown conditions {sorted(unknown)}; choose from {', '.join(CONDITIONS)}")
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    results: dict[str, dict] = {}
    workdir = args.output.parent / "bench-ci"  # the renders and act's logs stay for a look afterwards
    if not args.from_logs:
        shutil.rmtree(workdir, ignore_errors=True)
    uv_cache = workdir / "uv-cache"  # empty for uv-cold, then warm for uv-warm
    for condition in conditions:
        if args.from_logs:
            logs = [args.from_logs / condition / f"{name}.log" for name in ("push", "pull-request")]
            results[condition] = summarize(*(from_log(log) for log in logs), [str(log) for log in logs])
            continue
        print(f"== {condition}", flush=True)
        results[condition] = run_condition(condition, workdir / condition, uv_cache, args.timeout)
        print(json.dumps(results[condition]["push"]["jobs"]), flush=True)
    swap = torch_swap()
    report = {
        "machine": {"cpus": os.cpu_count(), "torch_from": swap},
        "note": "torch: the CPU wheel of the locked version, "
        + (
            f"from the local wheel directory {swap['TORCH_FIND_LINKS']}"
            if "TORCH_FIND_LINKS" in swap
            else "from PyTorch's CPU index"
        ),
        "conditions": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    print(report["note"])
    print(f"wrote {args.output}")
    return 0 if all(r["push"]["jobs_ok"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
