"""`make promote` and `make rollback`: the only writers of the production model.

Promotion takes the bytes the gate scored (the candidate is downloaded again and its digest must
equal gate.json's, and so must the staged image's model digest), signs them, and uploads them
into the production experiment, which only the production credential can write. The production
version is registered from that copy with lineage tags written here alone: nothing the
candidate credential can do afterwards changes a byte production serves or a later gate scores.
The alias move is compare-and-set under the promotion lock: it re-reads the champion and refuses
when it is no longer the baseline the gate scored, so of two concurrent promotions exactly one
wins. The replaced champion keeps `previous-champion` for a one-command rollback.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.digest import DIGEST_TAG
from << cookiecutter.package >>.paths import LOCAL_SIGNING_KEY, SERVED_ARTIFACT, Reports, signature_file
from << cookiecutter.package >>.promotion.lock import alias_lock
from << cookiecutter.package >>.promotion.registry import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    DigestMismatch,
    RegistryError,
    alias_version,
    fetched_bundle,
)
from << cookiecutter.package >>.promotion.report import GateReport
from << cookiecutter.package >>.signing import sign_bundle
from << cookiecutter.package >>.tracking import connect, ensure_registered_model, is_local

IMAGE_DIGEST_TAG = "image.digest"  # the release image of a production version (make record-image)
SIGNATURE_TAG = "model.signature"  # who signed the bundle: "key", or the keyless signer's identity


class PromotionRefused(RuntimeError):
    """Promotion would go against (or without) the gate; nothing was changed."""


def _gate_report(params: Params, reports: Reports) -> GateReport:
    try:
        report = GateReport.read(reports)
    except ValueError as error:
        raise PromotionRefused(str(error)) from None
    if report is None:
        raise PromotionRefused(f"{reports.gate} missing: run `make gate` first")
    if report.decision != "promote":
        raise PromotionRefused(f"the gate said {report.decision!r} ({report.reason}); nothing promoted")
    if (report.model_name, report.candidate_model) != (params.model.name, params.model.candidates):
        raise PromotionRefused(
            f"{reports.gate} gates {report.candidate_model!r} into {report.model_name!r}, "
            f"not {params.model.candidates!r} into {params.model.name!r}"
        )
    return report


def _check_candidate_tags(client: MlflowClient, report: GateReport) -> str:
    """The candidate's run, refused when the registry has no passing gate for it (a consistency
    check: the bytes are checked against gate.json's digest, never against these tags)."""
    model, version = report.candidate_model, report.candidate_version
    source = client.get_model_version(model, version)
    tags = source.tags or {}
    if tags.get("gate.decision") != "promote" or tags.get("gate.eval_data_hash") != report.eval_data_hash:
        raise PromotionRefused(f"the registry has no passing gate for {model} version {version}; run `make gate` again")
    return source.run_id


def _check_image(report: GateReport, image_digest: str | None, image_model_digest: str | None) -> None:
    """A staged image is promoted only when the model inside it is the one the gate scored."""
    if image_digest and not image_model_digest:
        raise PromotionRefused(
            "IMAGE_DIGEST given without IMAGE_MODEL_DIGEST (the image's ai.mlflow.model.digest label): "
            "promotion must check which model the image holds"
        )
    if image_model_digest and image_model_digest != report.candidate_digest:
        raise PromotionRefused(
            f"the image holds model {image_model_digest}, but the gate scored {report.candidate_digest}: "
            "it was built from other bytes; nothing promoted"
        )


def _production_experiment(client: MlflowClient, params: Params) -> str:
    """The production experiment's id; created on first use in a local registry (a team's admin
    creates it beforehand and lets only the production credential write it)."""
    name = params.mlflow.production_experiment
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException as error:  # a concurrent first promotion created it a moment ago
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


def _upload(client: MlflowClient, params: Params, bundle_dir: Path, signature: Path, run_name: str) -> str:
    """The bundle and its signature into a run of the production experiment; its artifact URI."""
    run = client.create_run(_production_experiment(client, params), run_name=run_name)
    client.log_artifacts(run.info.run_id, str(bundle_dir), SERVED_ARTIFACT)
    client.log_artifact(run.info.run_id, str(signature))
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def promote(
    params: Params, reports: Reports, image_digest: str | None = None, image_model_digest: str | None = None
) -> str:
    """Sign the gated candidate's bytes, copy them into production storage, register them as a
    production version and make it the champion; return that version. `image_digest` (the
    staged serving image, whose model digest must be the gated one) is recorded on it."""
    report = _gate_report(params, reports)
    _check_image(report, image_digest, image_model_digest)
    client = connect(params)
    source_run = _check_candidate_tags(client, report)
    lineage = {
        DIGEST_TAG: report.candidate_digest,
        "source.model": report.candidate_model,
        "source.version": str(report.candidate_version),
        "source.run_id": source_run,
        "eval_data_hash": report.eval_data_hash,
        "gate.decision": report.decision,
        "gate.metric": report.metric,
        "gate.candidate_value": f"{report.candidate_value:.6f}",
        "gate.baseline_version": report.baseline_version or "",
        "gate.baseline_value": f"{report.baseline_value:.6f}",
    }
    if image_digest:
        lineage[IMAGE_DIGEST_TAG] = image_digest
    try:
        with fetched_bundle(client, report.candidate_model, report.candidate_version) as bundle:
            if bundle.digest != report.candidate_digest:
                raise PromotionRefused(
                    f"{report.candidate_model} version {report.candidate_version} changed since the gate scored "
                    f"it: the gate scored {report.candidate_digest}, the registry now gives {bundle.digest}; "
                    "nothing promoted"
                )
            run_name = f"{report.candidate_model}-v{report.candidate_version}"
            published = publish(client, params, bundle.directory, lineage, report.baseline_version, run_name)
    except DigestMismatch as error:
        raise PromotionRefused(f"{error}; run `make train` and `make gate` again") from None
    name, digest = params.model.name, report.candidate_digest
    record = {
        "model_name": name,
        "champion": published.version,
        "previous_champion": published.previous,
        "candidate_model": report.candidate_model,
        "candidate_version": str(report.candidate_version),
        "model_digest": digest,
        "image_digest": image_digest,
        "signed_with": published.signed_with,
    }
    reports.write(reports.promotion, json.dumps(record, indent=2) + "\n")
    _tag_candidate(client, report, published.version)
    previous = f"; previous-champion: {published.previous}" if published.previous else ""
    print(
        f"{name}: champion is now version {published.version}, a signed copy of {report.candidate_model} version "
        f"{report.candidate_version} ({digest}){previous}"
    )
    return published.version


@dataclass(frozen=True)
class Published:
    version: str  # the new production version, now the champion
    previous: str | None  # the champion it replaced, now previous-champion
    signed_with: str  # "key", or the keyless signer's identity


def publish(
    client: MlflowClient, params: Params, bundle_dir: Path, lineage: dict[str, str], expected: str | None, run_name: str
) -> Published:
    """Sign `bundle_dir`, upload it with its signature into the production experiment, register
    it as a production version carrying `lineage` (and nothing else) and make it the champion,
    compare-and-set: refused when the champion is no longer `expected`."""
    name = params.model.name
    with tempfile.TemporaryDirectory() as scratch:
        signature = signature_file(Path(scratch) / SERVED_ARTIFACT)  # served.sig, beside served/
        local_key = LOCAL_SIGNING_KEY if is_local(params.mlflow.tracking_uri) else None
        signed_with = sign_bundle(bundle_dir, signature, local_key=local_key)
        production_run = _upload(client, params, bundle_dir, signature, run_name)
    tags = {**lineage, SIGNATURE_TAG: signed_with, "promoted_at": datetime.now(UTC).isoformat(timespec="seconds")}
    source = f"{client.get_run(production_run).info.artifact_uri}/{SERVED_ARTIFACT}"
    ensure_registered_model(client, name)
    with alias_lock(client, name):
        current = alias_version(client, name, CHAMPION)
        if current != expected:
            raise PromotionRefused(
                f"the champion changed since the gate scored it (it compared with {expected or 'no champion'}, "
                f"now {current}); run `make gate` again"
            )
        version = str(client.create_model_version(name, source=source, run_id=production_run, tags=tags).version)
        with fetched_bundle(client, name, version):  # the copy reads back as the signed digest, or nothing moves
            pass
        if current:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, current)
        client.set_registered_model_alias(name, CHAMPION, version)
        _verify_aliases(client, name, {CHAMPION: version, PREVIOUS_CHAMPION: current})
    return Published(version, current, signed_with)


def record_image(params: Params, reports: Reports, image_digest: str) -> None:
    """Record the release image of the version `make promote` just made champion (promote.json),
    so that `make rollback` re-tags that very image; production-side, like every production tag."""
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", image_digest):
        raise PromotionRefused(f"image digest {image_digest!r} is not sha256:<64 hex digits>; nothing recorded")
    if not reports.promotion.is_file():
        raise PromotionRefused(f"{reports.promotion} missing: run `make promote` first")
    record = json.loads(reports.promotion.read_text())
    client = connect(params)
    client.set_model_version_tag(record["model_name"], record["champion"], IMAGE_DIGEST_TAG, image_digest)
    reports.write(reports.promotion, json.dumps({**record, "image_digest": image_digest}, indent=2) + "\n")
    print(f"{record['model_name']} version {record['champion']}: release image {image_digest}")


def _verify_aliases(client: MlflowClient, name: str, expected: dict[str, str | None]) -> None:
    """Read the aliases back after moving them: alias writes are not compare-and-set, so a writer
    outside the lock (or a broken lock) would otherwise go unnoticed until serving the wrong model."""
    found = {alias: alias_version(client, name, alias) for alias, version in expected.items() if version}
    wanted = {alias: version for alias, version in expected.items() if version}
    if found != wanted:
        raise RegistryError(
            f"{name}: after the promotion the aliases are {found}, not {wanted}: another writer moved them; "
            "check the registry and `make rollback` or promote again"
        )


def _tag_candidate(client: MlflowClient, report: GateReport, version: str) -> None:
    """The lineage's other direction: which production version a candidate became.

    A convenience beside the production version's `source.*` tags, written after the promotion
    took effect: a failure here is reported, never turned into a failed promotion.
    """
    tags = {"promoted.model": report.model_name, "promoted.version": version}
    try:
        for key, value in tags.items():
            client.set_model_version_tag(report.candidate_model, report.candidate_version, key, value)
    except MlflowException as error:
        print(
            f"warning: promoted, but could not tag {report.candidate_model} version {report.candidate_version}: {error}"
        )


def rollback(params: Params, reports: Reports) -> str:
    """Swap champion and previous-champion (running it twice undoes it); return the new champion.

    reports/rollback.json names the new champion's serving image, which CI re-tags instead of
    rebuilding it.
    """
    name = params.model.name
    client = connect(params)
    with alias_lock(client, name):
        previous, current = alias_version(client, name, PREVIOUS_CHAMPION), alias_version(client, name, CHAMPION)
        if previous is None:
            raise PromotionRefused(f"{name} has no {PREVIOUS_CHAMPION!r} alias: nothing to roll back to")
        client.set_registered_model_alias(name, CHAMPION, previous)
        if current:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, current)
    tags = client.get_model_version(name, previous).tags or {}
    record = {
        "model_name": name,
        "champion": previous,
        "previous_champion": current,
        "model_digest": tags.get(DIGEST_TAG),
        "image_digest": tags.get(IMAGE_DIGEST_TAG),
    }
    reports.write(reports.rollback, json.dumps(record, indent=2) + "\n")
    print(f"{name}: champion rolled back to version {previous} (previous-champion: {current or 'none'})")
    return previous
