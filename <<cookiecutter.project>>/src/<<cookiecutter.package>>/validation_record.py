"""The link between `make validate` and the stages after it: `reports/validation.json`.

Training refuses data whose exact content (SHA-256) has not passed validation, so a file
edited after `make validate` cannot slip into a model.
"""

from __future__ import annotations

import json
from pathlib import Path

from << cookiecutter.package >>.data import file_sha256

VALIDATION_REPORT = "validation.json"


class NotValidatedError(RuntimeError):
    """The data about to be used has no passing validation on record."""


def require_validated(data_path: Path, reports_dir: Path = Path("reports")) -> None:
    """Raise unless the recorded validation passed for exactly this file's content."""
    report_file = Path(reports_dir) / VALIDATION_REPORT
    fix = f"run `make validate` on {data_path} first"
    if not report_file.is_file():
        raise NotValidatedError(f"no validation on record ({report_file} missing): {fix}")
    report = json.loads(report_file.read_text())
    if report.get("data_hash") != file_sha256(data_path):
        raise NotValidatedError(f"{data_path} changed since it was last validated: {fix}")
    if report.get("success") is not True:
        raise NotValidatedError(f"{data_path} failed validation (see {report_file}); fix the data and {fix}")
