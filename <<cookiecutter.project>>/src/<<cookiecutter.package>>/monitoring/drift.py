"""`make drift`: has the traffic moved away from the data the model was trained on?

Compares a sample of recent inputs (recorded by the server, or any CSV/Parquet/JSONL file)
with the training split, per feature and for the predictions:
- numeric features, and a regression model's predictions (against the training target's
  distribution): Kolmogorov-Smirnov statistic and PSI over ten reference-quantile bins;
- categorical features and a classifier's predicted-class mix: PSI over the categories.
Drift is declared when any score reaches its threshold in `params.yaml` (`drift:`).
The scores are also written in Prometheus' text format (reports/drift.prom) for the
node-exporter textfile collector or a Pushgateway; monitoring/alerts.yml alerts on them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.data import DataError, feature_columns, read_table, split
from << cookiecutter.package >>.monitoring.prediction_log import rotated
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.preprocessing import NUMERIC_KINDS

_EPS = 1e-4  # floor for empty bins, so PSI stays finite


@dataclass
class FeatureDrift:
    column: str
    kind: str  # numeric | categorical | prediction
    psi: float
    ks: float | None
    drifted: bool


def population_stability_index(expected: np.ndarray, actual: np.ndarray) -> float:
    """PSI between two distributions given as counts (or shares) over the same bins."""
    expected = np.maximum(expected / expected.sum(), _EPS)
    actual = np.maximum(actual / max(actual.sum(), 1), _EPS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_statistic(reference: np.ndarray, recent: np.ndarray) -> float:
    """Largest distance between the two empirical CDFs."""
    grid = np.sort(np.concatenate([reference, recent]))
    reference_cdf = np.searchsorted(np.sort(reference), grid, side="right") / len(reference)
    recent_cdf = np.searchsorted(np.sort(recent), grid, side="right") / len(recent)
    return float(np.max(np.abs(reference_cdf - recent_cdf)))


def numeric_psi(reference: np.ndarray, recent: np.ndarray, bins: int = 10) -> float:
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    return population_stability_index(
        np.bincount(np.searchsorted(edges, reference), minlength=len(edges) + 1).astype(float),
        np.bincount(np.searchsorted(edges, recent), minlength=len(edges) + 1).astype(float),
    )


def categorical_psi(reference: pd.Series, recent: pd.Series) -> float:
    categories = sorted(set(reference.astype(str)) | set(recent.astype(str)))
    reference_counts = reference.astype(str).value_counts().reindex(categories, fill_value=0)
    recent_counts = recent.astype(str).value_counts().reindex(categories, fill_value=0)
    return population_stability_index(reference_counts.to_numpy(float), recent_counts.to_numpy(float))


def read_sample(path: Path, na_values: Sequence[str] = ()) -> pd.DataFrame:
    """Recent inputs: the server's JSONL log (`{"features": {...}, "prediction": ...}` per line) or a
    table, read with the training data's missing markers."""
    path = Path(path)
    if path.suffix != ".jsonl":
        return read_table(path, na_values)
    if not path.is_file():
        raise DataError(f"sample {path} not found: point drift.sample_path (or SAMPLE=) at the server's log")
    files = [rotated(path), path] if rotated(path).is_file() else [path]  # the server rotates its log
    rows, torn = [], 0
    for line in (line for file in files for line in file.read_text().splitlines() if line.strip()):
        try:
            record = json.loads(line)
            rows.append({**record["features"], "prediction": record.get("prediction")})
        except (ValueError, KeyError, TypeError):  # a line cut short by a crash or a full disk
            torn += 1
    if torn:
        print(f"skipped {torn} unreadable line(s) of {path}")
    return pd.DataFrame(rows)


def compare(params: Params, sample: pd.DataFrame) -> list[FeatureDrift]:
    settings, target = params.drift, params.data.target
    if len(sample) < settings.min_rows:
        raise DataError(f"the sample has {len(sample)} rows; drift needs at least {settings.min_rows} (drift.min_rows)")
    reference, _ = split(read_table(params.data.path, params.data.na_values), params.data)
    results = []
    for column in feature_columns(reference, params.data):  # what the model reads, as the server logs it
        if column not in sample.columns:
            raise DataError(f"the sample has no column {column!r}: it must hold the model's input features")
        if reference[column].dtype.kind in NUMERIC_KINDS:  # as the model's preprocessing decides
            recent = pd.to_numeric(sample[column], errors="coerce").dropna().to_numpy(float)
            base = reference[column].dropna().to_numpy(float)  # NaN edges would zero every PSI
            psi, ks = numeric_psi(base, recent), ks_statistic(base, recent)
            drifted = psi >= settings.psi_threshold or ks >= settings.ks_threshold
            results.append(FeatureDrift(column, "numeric", psi, ks, drifted))
        else:
            psi = categorical_psi(reference[column], sample[column])
            results.append(FeatureDrift(column, "categorical", psi, None, psi >= settings.psi_threshold))
    if "prediction" in sample.columns and sample["prediction"].notna().any():
        if params.data.task == "regression":  # the distribution of predicted numbers vs the training target's
            recent = pd.to_numeric(sample["prediction"], errors="coerce").dropna().to_numpy(float)
            base = reference[target].dropna().to_numpy(float)
            psi, ks = numeric_psi(base, recent), ks_statistic(base, recent)
            drifted = psi >= settings.psi_threshold or ks >= settings.ks_threshold
            results.append(FeatureDrift("prediction", "prediction", psi, ks, drifted))
        else:
            psi = categorical_psi(reference[target], sample["prediction"].dropna())
            results.append(FeatureDrift("prediction", "prediction", psi, None, psi >= settings.psi_threshold))
    return results


def render_markdown(results: list[FeatureDrift], rows: int, drifted: bool) -> str:
    lines = [f"### Drift check: {'DRIFT' if drifted else 'no drift'} ({rows} recent rows)", ""]
    lines += ["| feature | kind | PSI | KS | drifted |", "|---|---|---|---|---|"]
    for result in sorted(results, key=lambda item: -item.psi):
        ks = "" if result.ks is None else f"{result.ks:.3f}"
        lines.append(
            f"| `{result.column}` | {result.kind} | {result.psi:.3f} | {ks} | {'yes' if result.drifted else ''} |"
        )
    return "\n".join(lines) + "\n"


def render_prometheus(results: list[FeatureDrift], drifted: bool, checked_at: float) -> str:
    lines = [
        "# HELP model_drift_psi Population stability index of a feature (or the prediction mix) vs the training data",
        "# TYPE model_drift_psi gauge",
        *[f'model_drift_psi{{feature="{result.column}"}} {result.psi:.6f}' for result in results],
        "# HELP model_drift_detected 1 when the last drift check passed a threshold",
        "# TYPE model_drift_detected gauge",
        f"model_drift_detected {int(drifted)}",
        "# HELP model_drift_check_timestamp_seconds When the last drift check ran",
        "# TYPE model_drift_check_timestamp_seconds gauge",
        f"model_drift_check_timestamp_seconds {checked_at:.0f}",
    ]
    return "\n".join(lines) + "\n"


def run_drift(params: Params, reports: Reports, sample_path: Path | None = None) -> bool:
    """Write the drift reports (JSON, Markdown, Prometheus text); True when drift passes a threshold."""
    path = Path(sample_path or params.drift.sample_path)
    sample = read_sample(path, params.data.na_values)
    results = compare(params, sample)
    drifted = any(result.drifted for result in results)
    report = {
        "drift": drifted,
        "sample": str(path),
        "rows": len(sample),
        "psi_threshold": params.drift.psi_threshold,
        "ks_threshold": params.drift.ks_threshold,
        "max_psi": max(result.psi for result in results),
        "features": [asdict(result) for result in results],
    }
    reports.write(reports.drift, json.dumps(report, indent=2) + "\n")
    reports.write(reports.drift_markdown, render_markdown(results, len(sample), drifted))
    reports.write(reports.drift_metrics, render_prometheus(results, drifted, time.time()))
    for result in results:
        if result.drifted:
            print(f"DRIFT {result.column}: PSI {result.psi:.3f}" + (f", KS {result.ks:.3f}" if result.ks else ""))
    print(f"drift: {'yes' if drifted else 'no'} ({len(sample)} rows; report {reports.drift_markdown})")
    return drifted
