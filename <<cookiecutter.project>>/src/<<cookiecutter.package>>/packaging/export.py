"""`make export`: a registered version's served bundle into `build/model`, byte for byte.

Nothing is converted here: the bundle was exported and parity-checked against torch when it was
trained, and these are the bytes the gate scored. A candidate (CI builds its image before
promoting it) is exported only when its bytes' digest equals the gate report's
`candidate_digest`: the registry's tags are writable by every branch's credential, the gate's
report is not. A production version's bytes must match the digest promotion recorded on it, and
its signature is exported beside them (`build/model.sig`) and verified when a trusted signer is
configured (signing.py), so the image build refuses altered or unsigned production bytes.
Beside the bundle, `build/model.release.json` says which version it is; it is not part of the
bundle, so it changes neither the digest nor the signature.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mlflow import MlflowClient

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.paths import BUNDLE_FILES, MODEL_DIR, Reports, release_file, signature_file
from << cookiecutter.package >>.promotion.registry import CHAMPION, alias_version, download_signature, fetched_bundle
from << cookiecutter.package >>.promotion.report import GateReport
from << cookiecutter.package >>.signing import trust_configured, verify_bundle
from << cookiecutter.package >>.tracking import connect


class ExportError(RuntimeError):
    """The version cannot be exported: missing, not gated, or not the bytes that were gated."""


def gated_digest(params: Params, reports: Reports, candidate: str) -> str:
    """The digest the gate scored for `candidate`, from its report: the only bytes that may ship."""
    try:
        report = GateReport.read(reports)
    except ValueError as error:
        raise ExportError(str(error)) from None
    if report is None:
        raise ExportError(f"{reports.gate} missing: run `make gate CANDIDATE={candidate}` before exporting a candidate")
    gated = (report.candidate_model, str(report.candidate_version))
    if gated != (params.model.candidates, str(candidate)) or not report.candidate_digest:
        raise ExportError(
            f"{reports.gate} gates {gated[0]} version {gated[1]}, not {params.model.candidates} version {candidate}: "
            f"run `make gate CANDIDATE={candidate}` first"
        )
    if report.decision != "promote":
        raise ExportError(
            f"the gate said {report.decision!r} for version {candidate} ({report.reason}); nothing exported"
        )
    return report.candidate_digest


def export_model(
    params: Params,
    reports: Reports,
    version: str | None = None,
    candidate: str | None = None,
    directory: Path = MODEL_DIR,
) -> str:
    """Export `version` of the production model (default: its champion), or `candidate`, a
    version of the candidates model that the gate passed; return the bundle's digest."""
    client = connect(params)
    expected = gated_digest(params, reports, candidate) if candidate else None
    if candidate:
        name, version = params.model.candidates, candidate
    else:
        name = params.model.name
        version = version or alias_version(client, name, CHAMPION)
    if version is None:
        raise ExportError(f"model {name!r} has no {CHAMPION!r}: run `make promote` first, or pass MODEL_VERSION=")
    registered = client.get_model_version(name, version)
    # Build beside the target and swap in only when every check passed: whatever fails on the way,
    # `make image` never finds a half-written, unchecked or mismatched bundle and signature.
    staging = directory.with_name(f".{directory.name}.partial")
    try:
        digest = _stage(client, name, version, expected, staging, signed=not candidate)
        for old in (signature_file(directory), release_file(directory)):
            old.unlink(missing_ok=True)
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)
        if signature_file(staging).is_file():
            signature_file(staging).rename(signature_file(directory))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        signature_file(staging).unlink(missing_ok=True)
    release = {
        "model_name": name,
        "model_version": str(version),
        # The candidates version this model was trained as: the number in its image tag, the
        # same before and after promotion (production versions record theirs).
        "candidate_version": str(version) if candidate else (registered.tags or {}).get("source.version"),
        "run_id": (registered.tags or {}).get("source.run_id", registered.run_id),  # the training run
        "model_digest": digest,
    }
    release_file(directory).write_text(json.dumps(release, indent=2) + "\n")
    print(f"exported {name} version {version} ({digest}, run {registered.run_id}) to {directory}")
    return digest


def _stage(client: MlflowClient, name: str, version: str, expected: str | None, staging: Path, signed: bool) -> str:
    """The version's bundle in `staging` (and, `signed`, its signature beside it, verified when a
    signer is configured); refused unless its digest is `expected` (when given). Its digest."""
    shutil.rmtree(staging, ignore_errors=True)
    with fetched_bundle(client, name, version) as bundle:
        if expected is not None and bundle.digest != expected:
            raise ExportError(
                f"{name} version {version} now gives {bundle.digest}, but the gate scored {expected}: "
                "its files changed after the gate; nothing exported"
            )
        staging.mkdir(parents=True)
        for file in BUNDLE_FILES:
            shutil.copyfile(bundle.directory / file, staging / file)
    if signed:  # production versions are signed by promotion: the signature travels with them
        download_signature(client, name, version, signature_file(staging))
        if trust_configured():
            print(f"signature verified: {verify_bundle(staging, signature_file(staging))}")
    return bundle.digest
