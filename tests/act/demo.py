"""Render a project and run its ci.yml for a push to main under act, then say what happened.

    python tests/act/demo.py [--output-dir build/demo] [--event push|pull_request]

The same machinery as tests/test_workflows_act.py (see README.md here): every job runs on
this machine in host mode with this interpreter's packages, MLflow records to a SQLite file
in the output directory, and the third-party actions are the local stand-ins.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import mlflow
import yaml
from cookiecutter.main import cookiecutter
from harness import COOKIECUTTER, TEMPLATE_DIR, ActRunner, git_init, pull_request_event, push_event
from mlflow.exceptions import MlflowException

JOB_ORDER = [
    "validate/validate",
    "test/test",
    "train/train",
    "gate/gate",
    "gate/comment",
    "gate/promote",
    "image/image",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", type=Path, default=TEMPLATE_DIR / "build" / "demo")
    parser.add_argument("--event", choices=["push", "pull_request"], default="push")
    args = parser.parse_args(argv)

    output = args.output_dir.resolve()
    shutil.rmtree(output, ignore_errors=True)
    output.mkdir(parents=True)
    project = Path(cookiecutter(str(TEMPLATE_DIR), no_input=True, output_dir=str(output)))
    repository = f"acme/{project.name}"
    sha = git_init(project, repository)

    uri = f"sqlite:///{output / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_experiment(project.name, artifact_location=(output / "mlartifacts").as_uri())
    model = yaml.safe_load((project / "params.yaml").read_text())["model"]["name"]

    labels = json.loads(COOKIECUTTER["gpu_runner_labels"])
    runner = ActRunner(project=project, workdir=output / "act", labels=labels, repository=repository)
    event = push_event(repository, sha) if args.event == "push" else pull_request_event(repository, sha)
    print(f"act {args.event} on {project}/.github/workflows/ci.yml (host mode, stand-in actions) ...", flush=True)
    result = runner.run(
        args.event,
        event,
        secrets={"MLFLOW_TRACKING_URI": uri, "GITHUB_TOKEN": "act-fake-token"},
        variables={"REQUIRE_GPU": "false"},
    )

    print(f"\nact exited {result.returncode} after {result.seconds:.0f} s; jobs:")
    for job in JOB_ORDER:
        print(f"  {job:<20} {result.jobs.get(job, 'did not run')}")
    gate = result.outputs("gate/gate")
    train = result.outputs("train/train")
    print(f"\ncandidate: {train.get('model-name', '?')} version {train.get('model-version', '?')}")
    print(f"gate decision: {gate.get('decision', 'none (the gate did not run)')}")
    try:
        champion = client.get_model_version_by_alias(model, "champion").version
    except MlflowException:
        champion = None
    print(f"champion after the run: {champion or 'none'}")
    for build in result.standin_calls("docker/build-push-action"):
        print(f"image (stand-in build, push={build['inputs']['push']}): {' '.join(build['inputs']['tags'].split())}")
    print(f"\nfull log: {output / 'act' / 'run' / 'act.log'}; registry: {uri}")
    if result.returncode != 0:
        print(result.describe(), file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
