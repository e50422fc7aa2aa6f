"""`make validate`: the data file against the committed suite, recorded so training can check it.

One run gives three things: an exit status for CI (False on any failed critical expectation),
`reports/validation.json` for machines (the train stage refuses data whose hash it does not
list as passed), and one line per problem for people, naming the column and what is wrong.
This module imports no GX itself: training calls `validation_passed_for` without loading it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.data import DataError, file_sha256, read_table, split, split_problems, target_problems
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.validation.checks import DATA_DOCS_INDEX, check_frame, problem
from << cookiecutter.package >>.validation.suite import suite_path

HINT = "run `make validate`"


def _finish(report: dict, reports: Reports) -> bool:
    reports.write(reports.validation, json.dumps(report, indent=2) + "\n")
    verdict = "PASSED" if report["success"] else "FAILED"
    rows = "unreadable" if report["rows"] is None else f"{report['rows']} rows"
    print(
        f"validation {verdict}: {report['data_path']} against suite {report['suite']!r} "
        f"({rows}, {len(report['failures'])} failure(s), {len(report['warnings'])} warning(s))"
    )
    for failure in report["failures"]:
        print(f"  FAIL {failure['message']}")
    for warning in report["warnings"]:
        print(f"  WARN {warning['message']}")
    where = f"; Data Docs: {report['data_docs']}" if report["data_docs"] else ""
    print(f"report: {reports.validation}{where}")
    return report["success"]


def _target_checks(frame: pd.DataFrame, params: Params) -> list[dict]:
    """The target as something the task (data.task) can learn, checked here so bad data stops before training."""
    found = target_problems(frame, params.data)
    if not found:
        train, evaluation = split(frame, params.data)
        found = split_problems(train, evaluation, params.data)
    return [problem("learnable_target", params.data.target, found.message, found.critical) for found in found]


def run_validation(params: Params, reports: Reports, data_path: Path | None = None) -> bool:
    """Validate the training data (or `data_path`); False when any critical expectation fails."""
    path = Path(data_path or params.data.path)
    suite = params.validation.suite
    report = {
        "success": False,
        "data_path": path.as_posix(),
        "data_hash": None,
        "suite": suite,
        "suite_hash": None,
        "rows": None,
        "failures": [],
        "warnings": [],
        "data_docs": None,
    }
    if not suite_path(suite).is_file():
        message = f"suite {suite_path(suite)} not found: run `make expectations` and commit it"
        report["failures"].append(problem("suite_file", None, message))
        return _finish(report, reports)
    try:
        frame = read_table(path, params.data.na_values)
    except DataError as error:
        report["data_hash"] = file_sha256(path) if path.is_file() else None
        report["failures"].append(problem("readable_file", None, str(error)))
        return _finish(report, reports)
    problems = check_frame(frame, suite, params.data.target, na_values=params.data.na_values) + _target_checks(
        frame, params
    )
    report.update(
        data_hash=file_sha256(path),
        suite_hash=file_sha256(suite_path(suite)),
        rows=len(frame),
        failures=[problem for problem in problems if problem["critical"]],
        warnings=[problem for problem in problems if not problem["critical"]],
        data_docs=DATA_DOCS_INDEX.as_posix(),
    )
    report["success"] = not report["failures"]
    return _finish(report, reports)


def validation_passed_for(data_path: Path, suite_name: str, reports: Reports) -> tuple[bool, str]:
    """Whether this exact file (by content hash) passed the configured suite as it is now; the
    message says why not."""
    report_file = reports.validation
    data_path = Path(data_path)
    try:
        report = json.loads(report_file.read_text())
    except FileNotFoundError:
        return False, f"no validation report ({report_file}): {HINT} before training"
    except (OSError, ValueError) as error:
        return False, f"{report_file} is unreadable ({error}): {HINT}"
    if not data_path.is_file():
        return False, f"data file {data_path} not found"
    if report.get("data_hash") != file_sha256(data_path):
        last = report.get("data_path")
        return False, f"{data_path} has changed or was never validated (last validated: {last}): {HINT}"
    if not report.get("success"):
        return False, f"{data_path} failed validation ({len(report.get('failures', []))} failure(s), see {report_file})"
    if report.get("suite") != suite_name:
        return (
            False,
            f"{data_path} was validated against suite {report.get('suite')!r}, params name {suite_name!r}: {HINT}",
        )
    suite = suite_path(suite_name)
    if not suite.is_file() or report.get("suite_hash") != file_sha256(suite):
        return False, f"the suite {suite} changed since {data_path} was validated: {HINT}"
    return True, f"{data_path} passed validation against suite {report['suite']!r}"
