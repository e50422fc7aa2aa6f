"""Command line of the pipeline: parses arguments and dispatches; the stages live in their modules.

Exit statuses follow the Make contract: validate 1 on bad data; gate 0 promote, 1 reject,
2 error; drift 0 none, 1 drift, 2 no verdict; every other failure 1 with a one-line reason.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

from << cookiecutter.package >>.config import Params, load_params

REPORTS_DIR = Path("reports")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="<< cookiecutter.project >>", description=__doc__)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="settings file")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("expectations", "validate"):
        command = commands.add_parser(name)
        command.add_argument("--data", type=Path, help="data file (default: data.path in params)")
    commands.add_parser("train").add_argument("--resume", action="store_true", help="continue from the checkpoint")
    commands.add_parser("gate").add_argument("--candidate-version", help="default: the version in reports/train.json")
    commands.add_parser("drift").add_argument("--sample", type=Path, help="recent inputs (default: drift.sample_path)")
    commands.add_parser("promote")
    commands.add_parser("rollback")
    export = commands.add_parser("export", help="the champion (or --version) as the server's files in build/model")
    export.add_argument("--version", help="registered version (default: the champion)")
    image = commands.add_parser("image", help="build the serving image around build/model")
    image.add_argument("--name", required=True, help="image name; the tag is model-<version>")
    image.add_argument("--engine", help="docker or buildah (default: docker if its engine answers, else buildah)")
    image.add_argument("--base-image", help="PYTHON_IMAGE build arg (default: the Dockerfile's)")
    image.add_argument("--revision", default="unknown", help="git commit of the sources (OCI label)")
    image.add_argument("--source-url", default="", help="repository URL (OCI label)")
    image.add_argument("--build-flags", type=shlex.split, default=[], help="extra flags for the engine's build")
    return parser


# One handler per command; each imports its stage only when run, so `validate` never loads
# torch and `drift` never loads MLflow.
def _expectations(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.expectations import build_suite

    print(f"wrote {build_suite(params, args.data)}")
    return 0


def _validate(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.validate import run_validation

    return 0 if run_validation(params, args.data, REPORTS_DIR) else 1


def _train(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.train import train

    train(params, resume=args.resume, reports_dir=REPORTS_DIR)
    return 0


def _gate(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.gate import run_gate

    report = run_gate(params, REPORTS_DIR, args.candidate_version)
    print(f"gate: {report.decision}: {report.reason}")
    return report.exit_code


def _promote(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.promote import promote

    promote(params, REPORTS_DIR)
    return 0


def _rollback(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.promote import rollback

    rollback(params)
    return 0


def _drift(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.drift import run_drift

    return 1 if run_drift(params, args.sample, REPORTS_DIR) else 0


def _export(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.export import export_model

    export_model(params, args.version)
    return 0


def _image(params: Params, args: argparse.Namespace) -> int:
    from << cookiecutter.package >>.image import build_image, detect_engine

    engine = detect_engine(args.engine)
    build_image(Path(), args.name, engine, args.base_image, args.revision, args.source_url, args.build_flags)
    return 0


COMMANDS: dict[str, Callable[[Params, argparse.Namespace], int]] = {
    "expectations": _expectations,
    "validate": _validate,
    "train": _train,
    "gate": _gate,
    "promote": _promote,
    "rollback": _rollback,
    "drift": _drift,
    "export": _export,
    "image": _image,
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](load_params(args.params), args)
    except Exception as error:  # noqa: BLE001 - one clear line instead of a traceback for expected failures
        print(f"error: {type(error).__name__}: {error}", file=sys.stderr)
        return 2 if args.command in {"gate", "drift"} else 1  # no decision is not a "reject"/"no drift"
