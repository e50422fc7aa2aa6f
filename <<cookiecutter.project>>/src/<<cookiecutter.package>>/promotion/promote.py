"""`make promote` and `make rollback`: move the `champion` alias, only as the gate decided.

Promotion is compare-and-set under a registry lock: it re-reads the champion and refuses
when it is no longer the baseline the gate scored, so of two concurrent promotions exactly
one wins and the other is refused, never silently overwritten.
The replaced champion keeps the `previous-champion` alias for a one-command rollback.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.promotion.lock import alias_lock
from << cookiecutter.package >>.promotion.registry import CHAMPION, PREVIOUS_CHAMPION, alias_version
from << cookiecutter.package >>.promotion.report import GateReport
from << cookiecutter.package >>.tracking import connect


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
    if report.model_name != params.model.name:
        raise PromotionRefused(f"{reports.gate} is for model {report.model_name!r}, not {params.model.name!r}")
    return report


def promote(params: Params, reports: Reports) -> str:
    """Make the gated candidate the champion; return its version."""
    report = _gate_report(params, reports)
    name, candidate, scored_baseline = params.model.name, report.candidate_version, report.baseline_version
    client = connect(params)
    tags = client.get_model_version(name, candidate).tags or {}
    if tags.get("gate.decision") != "promote" or tags.get("gate.eval_data_hash") != report.eval_data_hash:
        raise PromotionRefused(
            f"the registry has no passing gate for version {candidate} matching {reports.gate}; run `make gate` again"
        )
    with alias_lock(client, name):
        current = alias_version(client, name, CHAMPION)
        if current != scored_baseline:
            raise PromotionRefused(
                f"the champion changed since the gate scored it (it compared with {scored_baseline or 'no champion'}, "
                f"now {current}); run `make gate` again"
            )
        if current:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, current)
        client.set_registered_model_alias(name, CHAMPION, candidate)
    client.set_model_version_tag(name, candidate, "promoted_at", datetime.now(UTC).isoformat(timespec="seconds"))
    record = {"model_name": name, "champion": candidate, "previous_champion": current}
    reports.write(reports.promotion, json.dumps(record, indent=2) + "\n")
    print(f"{name}: champion is now version {candidate}" + (f" (previous-champion: {current})" if current else ""))
    return candidate


def rollback(params: Params) -> str:
    """Swap champion and previous-champion (running it twice undoes it); return the new champion."""
    name = params.model.name
    client = connect(params)
    with alias_lock(client, name):
        previous, current = alias_version(client, name, PREVIOUS_CHAMPION), alias_version(client, name, CHAMPION)
        if previous is None:
            raise PromotionRefused(f"{name} has no {PREVIOUS_CHAMPION!r} alias: nothing to roll back to")
        client.set_registered_model_alias(name, CHAMPION, previous)
        if current:
            client.set_registered_model_alias(name, PREVIOUS_CHAMPION, current)
    print(f"{name}: champion rolled back to version {previous} (previous-champion: {current or 'none'})")
    return previous
