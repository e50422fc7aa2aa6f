"""Command line of the pipeline: parses arguments and dispatches to the stage that runs.

Each command names the one stage module it needs and imports it only when it runs, so
`validate` never loads torch and `drift` never loads MLflow; `tests/test_cli.py` holds every
command to that. Exit statuses follow the Make contract: validate 1 on bad data; gate 0
promote, 1 reject, 2 error; drift 0 none, 1 drift, 2 no verdict; every other failure 1 with a
one-line reason. Whatever a command prints, MLflow's log lines and tracebacks included, goes
out with the credentials of any URL in it redacted (`redaction.py`).
"""

from __future__ import annotations

import argparse
import importlib
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from << cookiecutter.package >>.config import Params, load_params
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.redaction import redacted_output

REPORTS = Reports()
NO_DECISION = 2  # gate and drift: "could not decide" must never read as "reject" or "no drift"


Handler = Callable[[ModuleType, Params, argparse.Namespace], int]


@dataclass(frozen=True)
class Command:
    stage: str  # the module under this package that does the work, imported only when it runs
    run: Handler  # (stage module, settings, parsed arguments) -> exit status
    help: str


def _expectations(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    print(f"wrote {stage.build_suite(params, args.data)}")
    return 0


def _validate(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    return 0 if stage.run_validation(params, REPORTS, args.data) else 1


def _train(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    stage.train(params, REPORTS, resume=args.resume)
    return 0


def _gate(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    report = stage.run_gate(params, REPORTS, args.candidate_version, args.policy_commit, args.proposed)
    print(f"gate: {report.decision}: {report.reason} (merge check: {report.merge})")
    for change in report.rule_changes or ():
        print(f"  rule change: {change}")
    return report.exit_code


def _promote(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    stage.promote(params, REPORTS, args.image_digest, args.image_model_digest)
    return 0


def _rollback(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    stage.rollback(params, REPORTS)
    return 0


def _drift(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    return 1 if stage.run_drift(params, REPORTS, args.sample) else 0


def _export(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    stage.export_model(params, REPORTS, version=args.version, candidate=args.candidate)
    return 0


def _signer_args(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    print("\n".join(f"{key}={value}" for key, value in stage.signer_build_args(Path()).items()))
    return 0


def _migrate(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    stage.migrate_champion(params, REPORTS)
    return 0


def _record_image(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    stage.record_image(params, REPORTS, args.image_digest)
    return 0


def _tracking_uri(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    print(stage.absolute_uri(params.mlflow.tracking_uri))
    return 0


def _image(stage: ModuleType, params: Params, args: argparse.Namespace) -> int:
    engine = stage.detect_engine(args.engine)
    if args.release:
        stage.build_release_image(Path(), args.name, engine, args.staged_image, args.build_flags)
    else:
        stage.build_image(Path(), args.name, engine, args.base_image, args.revision, args.source_url, args.build_flags)
    return 0


COMMANDS: dict[str, Command] = {
    "expectations": Command("validation.suite", _expectations, "rebuild the GX suite from the reference data"),
    "validate": Command("validation.report", _validate, "run the suite on the training data; record the result"),
    "train": Command("training.train", _train, "train, log to MLflow and register a candidate"),
    "gate": Command("promotion.gate", _gate, "score champion (or naive baseline) and candidate; decide"),
    "promote": Command("promotion.promote", _promote, "copy the gated candidate into production; move champion"),
    "rollback": Command("promotion.promote", _rollback, "swap champion and previous-champion"),
    "drift": Command("monitoring.drift", _drift, "compare recent inputs with the training data"),
    "export": Command("packaging.export", _export, "the champion (or --version) as the server's files"),
    "image": Command("packaging.image", _image, "build the serving image around the exported model"),
    "signer-args": Command("packaging.image", _signer_args, "the release image's signer build args, KEY=VALUE lines"),
    "record-image": Command("promotion.promote", _record_image, "record the release image's digest on the champion"),
    "migrate-champion": Command("promotion.migrate", _migrate, "publish a champion of torch files as a served bundle"),
    "tracking-uri": Command("tracking", _tracking_uri, "the tracking URI, a local store's path made absolute"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="<< cookiecutter.project >>", description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="settings file")
    commands = parser.add_subparsers(dest="command", required=True)
    parsers = {name: commands.add_parser(name, help=command.help) for name, command in COMMANDS.items()}
    for name in ("expectations", "validate"):
        parsers[name].add_argument("--data", type=Path, help="data file (default: data.path in params)")
    parsers["train"].add_argument("--resume", action="store_true", help="continue from the checkpoint")
    parsers["gate"].add_argument("--candidate-version", help="default: the version in reports/train.json")
    parsers["gate"].add_argument("--policy-commit", help="the commit of this tree, whose rules decide (gate.json)")
    parsers["gate"].add_argument(
        "--proposed", type=Path, help="a project directory whose changes to the rules are listed (a pull request's)"
    )
    parsers["drift"].add_argument("--sample", type=Path, help="recent inputs (default: drift.sample_path)")
    source = parsers["export"].add_mutually_exclusive_group()
    source.add_argument("--version", help="version of the production model (default: the champion)")
    source.add_argument("--candidate", help="version of the candidates model the gate passed (CI stages its image)")
    parsers["promote"].add_argument(
        "--image-digest", help="digest of the staged serving image, recorded on the version"
    )
    parsers["promote"].add_argument(
        "--image-model-digest", help="the model digest inside that image: refused unless it is the gated one"
    )
    image = parsers["image"]
    image.add_argument("--name", required=True, help="image name; the tag is model-<version>")
    image.add_argument("--engine", help="docker or buildah (default: docker if its engine answers, else buildah)")
    image.add_argument("--base-image", help="PYTHON_IMAGE build arg (default: the Dockerfile's)")
    image.add_argument("--revision", default="unknown", help="git commit of the sources (OCI label)")
    image.add_argument("--source-url", default="", help="repository URL (OCI label)")
    image.add_argument("--build-flags", type=shlex.split, default=[], help="extra flags for the engine's build")
    image.add_argument("--release", action="store_true", help="the signed release image on top of the staged one")
    image.add_argument(
        "--staged-image", help="with --release: the staged image (default NAME:model-<candidate version>)"
    )
    parsers["record-image"].add_argument("--image-digest", required=True, help="digest of the pushed release image")
    return parser


def stage_module(command: str) -> str:
    """The fully qualified module a command imports to do its work."""
    return f"{__package__}.{COMMANDS[command].stage}"


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = COMMANDS[args.command]
    with redacted_output():
        try:
            params = load_params(args.params)
            return command.run(importlib.import_module(stage_module(args.command)), params, args)
        except Exception as error:  # noqa: BLE001 - one clear line instead of a traceback for expected failures
            print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
            return NO_DECISION if args.command in {"gate", "drift"} else 1
