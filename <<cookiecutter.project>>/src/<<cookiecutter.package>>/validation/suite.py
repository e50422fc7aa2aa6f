"""The data contract: a Great Expectations suite derived from reference data.

`make expectations` rebuilds the suite from the training table and writes it as sorted, stable
JSON under gx/expectations/, so the contract is reviewed like code: a widened range, a new
category or a new column shows up as a diff in the pull request that introduces it.
This module only writes JSON (no GX import), so rebuilding the suite is fast.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path

import pandas as pd

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.data import read_table
from << cookiecutter.package >>.paths import GX_DIR
from << cookiecutter.package >>.preprocessing import NUMERIC_KINDS

# GX 1.x matches numpy dtypes by name ("int64") but pandas extension dtypes only by class name
# ("Int64Dtype"), and none of pandas 3's `str`, "string" or "category": text and categorical
# columns are handed to GX as pandas' nullable string dtype.
TEXT_TYPE = "StringDtype"
# The quantiles of a regression target the label contract pins, by name.
QUARTILES = {"lower quartile": 0.25, "median": 0.5, "upper quartile": 0.75}
# Stable ids: GX needs ids on a stored suite, and random ones would make every rebuild a diff.
_ID_NAMESPACE = uuid.UUID("6f1c7b52-3f0e-4c55-9d8e-2a7b1c9e4d10")


def suite_path(suite: str) -> Path:
    """Where the committed suite named `suite` lives (GX's expectations store)."""
    return GX_DIR / "expectations" / f"{suite}.json"


def is_text(series: pd.Series) -> bool:
    """Text-like columns: pandas 3 reads text as `str`, pandas 2 as `object`; categoricals count too."""
    return series.dtype == object or isinstance(series.dtype, pd.StringDtype | pd.CategoricalDtype)


def to_gx_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame in the dtypes the suite's type names describe (text as pd.StringDtype)."""
    text = {column: pd.StringDtype() for column in frame.columns if is_text(frame[column])}
    return frame.astype(text) if text else frame


def type_name(series: pd.Series) -> str:
    """The name GX matches against the column's dtype once `to_gx_frame` has converted it."""
    if is_text(series):
        return TEXT_TYPE
    dtype = series.dtype
    return type(dtype).__name__ if isinstance(dtype, pd.api.extensions.ExtensionDtype) else dtype.name


def _expectation(suite: str, kind: str, critical: bool = True, **kwargs: object) -> dict:
    key = f"{suite}/{kind}/{kwargs.get('column', '')}"
    return {
        "id": str(uuid.uuid5(_ID_NAMESPACE, key)),
        "type": kind,
        "kwargs": kwargs,
        "meta": {"critical": critical},
    }


def _widened(low: float, high: float, margin: float, integer: bool) -> tuple[float, float]:
    """Observed range widened by `margin` x span, rounded outwards to a readable precision."""
    pad = margin * (high - low)
    low, high = low - pad, high + pad
    if integer:
        return math.floor(low), math.ceil(high)
    span = high - low
    digits = max(0, 3 - math.floor(math.log10(span))) if span > 0 else 6
    scale = 10**digits
    return math.floor(low * scale) / scale, math.ceil(high * scale) / scale


def _is_label(name: str, params: Params) -> bool:
    return name == params.data.target and params.data.task == "classification"


def _categories(series: pd.Series, params: Params) -> list | None:
    """The sorted values of a category or class column (text as str); None when there are too many
    to list, or the column is a number."""
    if not (is_text(series) or _is_label(str(series.name), params)):
        return None
    values = series.dropna()
    distinct = sorted((values.astype(str) if is_text(series) else values).unique().tolist())
    return distinct if len(distinct) <= params.validation.max_categories else None


def _column_expectations(suite: str, name: str, series: pd.Series, params: Params) -> list[dict]:
    found = [_expectation(suite, "expect_column_values_to_be_in_type_list", column=name, type_list=[type_name(series)])]
    if series.notna().all():
        found.append(_expectation(suite, "expect_column_values_to_not_be_null", column=name))
    values = series.dropna()
    if values.empty:
        return found
    # a class label is a value set that must also be complete; a regression target is a number
    # like any other (a range); `label_contract` adds how either is distributed
    if is_text(series) or _is_label(name, params):
        distinct = _categories(series, params)
        if distinct is not None:
            found.append(_expectation(suite, "expect_column_values_to_be_in_set", column=name, value_set=distinct))
            if _is_label(name, params):
                kind = "expect_column_distinct_values_to_contain_set"
                found.append(_expectation(suite, kind, column=name, value_set=distinct))
    elif series.dtype.kind in NUMERIC_KINDS:
        low, high = _widened(
            float(values.min()), float(values.max()), params.validation.numeric_margin, series.dtype.kind in "iu"
        )
        kind = "expect_column_values_to_be_between"
        found.append(_expectation(suite, kind, column=name, min_value=low, max_value=high))
    return found


def label_contract(frame: pd.DataFrame, params: Params) -> dict | None:
    """How the target is distributed in the reference, and how far that may move: each class's
    share of the labelled rows (classification), or the quartiles of a regression target.

    GX has no per-class share expectation, and GX 1.24's quantile expectation puts numpy booleans
    in its result, which its result store cannot write: the suite's meta holds this part and
    `validation.checks.contract_problems` checks it, next to GX's expectations on the target.
    """
    target = params.data.target
    if target not in frame.columns:
        return None
    values = frame[target].dropna()
    if params.data.task == "classification":
        if values.empty or _categories(frame[target], params) is None:
            return None
        shares = values.astype(str).value_counts(normalize=True)  # classes as data.class_names names them
        return {
            "column": target,
            "class_shares": {label: round(float(share), 4) for label, share in shares.items()},
            "share_tolerance": params.validation.class_share_tolerance,
        }
    if values.empty or values.dtype.kind not in NUMERIC_KINDS:
        return None
    quartiles = values.quantile(list(QUARTILES.values()), interpolation="nearest").tolist()
    tolerance = params.validation.quantile_tolerance * float(values.max() - values.min())
    return {
        "column": target,
        "quartiles": {name: float(value) for name, value in zip(QUARTILES, quartiles, strict=True)},
        "quartile_tolerance": float(f"{tolerance:.6g}"),
    }


def suite_document(frame: pd.DataFrame, params: Params, reference: Path) -> dict:
    """The suite as GX stores it: table shape first, then each column in table order."""
    suite = params.validation.suite
    margin = params.validation.row_count_margin
    rows = len(frame)
    expectations = [
        _expectation(suite, "expect_table_columns_to_match_ordered_list", column_list=list(frame.columns)),
        # data grows: a row count outside the band is worth a look, not a reason to stop the pipeline
        _expectation(
            suite,
            "expect_table_row_count_to_be_between",
            critical=False,
            min_value=max(0, math.floor(rows * (1 - margin))),
            max_value=math.ceil(rows * (1 + margin)),
        ),
    ]
    for name in frame.columns:
        expectations += _column_expectations(suite, name, frame[name], params)
    meta = {"reference_data": reference.as_posix(), "reference_rows": rows}
    if contract := label_contract(frame, params):
        meta["label_contract"] = contract
    return {
        "name": suite,
        "id": str(uuid.uuid5(_ID_NAMESPACE, suite)),
        "expectations": expectations,
        "meta": meta,
        "notes": "Generated by `make expectations` from the reference data; edit params.yaml, not this file.",
    }


def build_suite(params: Params, data_path: Path | None = None) -> Path:
    """(Re)build the suite from reference data so the contract follows the data it was made from."""
    reference = Path(data_path or params.data.path)
    document = suite_document(read_table(reference, params.data.na_values), params, reference)
    path = suite_path(params.validation.suite)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
