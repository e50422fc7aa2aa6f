"""`make promote` and `make rollback`: the only writers of the production model.

Promotion copies the gated version of the candidates model into the production model and
points `champion` at the copy, and does so only for the files the gate scored: the candidate
is downloaded again and its digest must equal the one in gate.json. The alias move is
compare-and-set under a registry lock: it re-reads the champion and refuses when it is no
longer the baseline the gate scored, so of two concurrent promotions exactly one wins.
The replaced champion keeps the `previous-champion` alias for a one-command rollback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.digest import DIGEST_TAG
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.promotion.lock import alias_lock
from << cookiecutter.package >>.promotion.registry import (
    CHAMPION,
    PREVIOUS_CHAMPION,
    DigestMismatch,
    RegistryError,
    alias_version,
    fetch_model,
)
from << cookiecutter.package >>.promotion.report import GateReport
from << cookiecutter.package >>.tracking import connect

IMAGE_DIGEST_TAG = "image.digest"  # the serving image built from a production version


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


def _verified_digest(client: MlflowClient, report: GateReport) -> tuple[str, ModelVersion]:
    """The candidate's digest now, refused unless it is the one the gate scored, and its version."""
    model, version = report.candidate_model, report.candidate_version
    source = client.get_model_version(model, version)
    tags = source.tags or {}
    if tags.get("gate.decision") != "promote" or tags.get("gate.eval_data_hash") != report.eval_data_hash:
        raise PromotionRefused(f"the registry has no passing gate for {model} version {version}; run `make gate` again")
    try:
        digest = fetch_model(client, model, version).digest
    except DigestMismatch as error:
        raise PromotionRefused(f"{error}; run `make train` and `make gate` again") from None
    if digest != report.candidate_digest:
        raise PromotionRefused(
            f"{model} version {version} changed since the gate scored it: the gate scored {report.candidate_digest}, "
            f"the registry now gives {digest}; nothing promoted"
        )
    return digest, source


def promote(params: Params, reports: Reports, image_digest: str | None = None) -> str:
    """Copy the gated candidate into the production model and make the copy the champion; return
    the production version. `image_digest` (the staged serving image) is recorded on it."""
    report = _gate_report(params, reports)
    name, scored_baseline = params.model.name, report.baseline_version
    client = connect(params)
    digest, source = _verified_digest(client, report)
    with alias_lock(client, name):
        current = alias_version(client, name, CHAMPION)
        if current != scored_baseline:
            raise PromotionRefused(
                f"the champion changed since the gate scored it (it compared with {scored_baseline or 'no champion'}, "
                f"now {current}); run `make gate` again"
            )
        copy = client.copy_model_version(f"models:/{report.candidate_model}/{report.candidate_version}", name)
        version = str(copy.version)
        lineage = {
            DIGEST_TAG: digest,
            "source.model": report.candidate_model,
            "source.version": str(report.candidate_version),
            "source.run_id": source.run_id,
            "eval_data_hash": report.eval_data_hash,
            "gate.decision": report.decision,
            "gate.metric": report.metric,
            "gate.candidate_value": f"{report.candidate_value:.6f}",
            "gate.baseline_version": scored_baseline or "",
            "gate.baseline_value": f"{report.baseline_value:.6f}",
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        if image_digest:
            lineage[IMAGE_DIGEST_TAG] = image_digest
        for key, value in lineage.items():
            client.set_model_version_tag(name, version, key, value)
        if current:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, current)
        client.set_registered_model_alias(name, CHAMPION, version)
        _verify_aliases(client, name, {CHAMPION: version, PREVIOUS_CHAMPION: current})
    record = {
        "model_name": name,
        "champion": version,
        "previous_champion": current,
        "candidate_model": report.candidate_model,
        "candidate_version": str(report.candidate_version),
        "model_digest": digest,
        "image_digest": image_digest,
    }
    reports.write(reports.promotion, json.dumps(record, indent=2) + "\n")
    _tag_candidate(client, report, version)
    print(
        f"{name}: champion is now version {version}, a copy of {report.candidate_model} version "
        f"{report.candidate_version} ({digest})" + (f"; previous-champion: {current}" if current else "")
    )
    return version


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
