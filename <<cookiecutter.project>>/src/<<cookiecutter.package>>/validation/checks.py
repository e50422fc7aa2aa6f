"""Run the committed GX suite on a table and describe each failure in one line a person can act on.

GX reports a failed expectation as nested result objects; this turns them into problems that
name the column, what is wrong and a few example values or rows, and folds failures that only
follow from another (a missing column fails every check on it) into one. GX is imported only
when a check runs, so the training stage, which only reads the report, never loads it.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from << cookiecutter.package >>.data import missing_markers
from << cookiecutter.package >>.paths import GX_DIR
from << cookiecutter.package >>.preprocessing import NUMERIC_KINDS
from << cookiecutter.package >>.validation.suite import QUARTILES, TEXT_TYPE, suite_path, to_gx_frame

if TYPE_CHECKING:
    from great_expectations.core.batch_definition import BatchDefinition
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult
    from great_expectations.data_context import AbstractDataContext

DATA_DOCS_INDEX = GX_DIR / "uncommitted" / "data_docs" / "local_site" / "index.html"
# the fixed pandas data source committed in gx/great_expectations.yml
DATASOURCE, ASSET, BATCH_DEFINITION = "pandas", "dataframe", "whole_dataframe"
EXAMPLES = 5
# SUMMARY gives unexpected counts and sample values; 20 samples leave room for 5 distinct ones
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 20}
# validation results kept for Data Docs: GX rebuilds the index from all of them on every run,
# so an unbounded history makes each `make validate` slower than the last
KEEP_RUNS = 20

TABLE_COLUMNS = "expect_table_columns_to_match_ordered_list"
ROW_COUNT = "expect_table_row_count_to_be_between"
TYPE_LIST = "expect_column_values_to_be_in_type_list"
NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
# the label's contract: every class of the reference present (GX), and, checked by
# `contract_problems` from the suite's meta, each class's share or a regression target's quartiles
HAS_CLASSES = "expect_column_distinct_values_to_contain_set"
CLASS_SHARES = "label_class_shares"
TARGET_QUARTILES = "label_quartiles"


def _plain(value: object) -> object:
    """A JSON-friendly scalar (numpy scalars to Python, NaN/NA to None)."""
    if value is None or (not isinstance(value, str | list | dict) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _distinct(values: list) -> list:
    seen: list = []
    for value in map(_plain, values):
        if value not in seen:
            seen.append(value)
    return seen[:EXAMPLES]


def _shown(values: list) -> str:
    return ", ".join(repr(value) for value in values)


def problem(
    kind: str,
    column: str | None,
    message: str,
    critical: bool = True,
    unexpected_count: int | None = None,
    examples: list | None = None,
    example_rows: list | None = None,
) -> dict:
    return {
        "expectation": kind,
        "column": column,
        "critical": critical,
        "unexpected_count": unexpected_count,
        "examples": examples or [],
        "example_rows": example_rows or [],
        "message": message,
    }


def _column_set_problems(kind: str, expected: list[str], actual: list[str]) -> list[dict]:
    missing = [column for column in expected if column not in actual]
    extra = [column for column in actual if column not in expected]
    problems = [problem(kind, column, f"column {column!r} is missing") for column in missing]
    problems += [
        problem(kind, column, f"column {column!r} is not in the suite (unexpected extra column)") for column in extra
    ]
    if not problems:
        problems.append(problem(kind, None, f"columns are out of order: expected {expected}, got {actual}"))
    return problems


def _typeproblem(kind: str, column: str, expected: str, series: pd.Series, na_values: Sequence[str]) -> dict:
    """A dtype mismatch, with the values that make it one when text sits in a numeric column:
    often a marker of missing values ("NA", "?") that data.na_values does not list."""
    observed = series.dtype.name
    if expected == TEXT_TYPE:
        return problem(kind, column, f"column {column!r}: expected text, but pandas read it as {observed}")
    if observed not in ("object", "str", "string") or not expected.lower().startswith(("int", "uint", "float")):
        hint = " (missing values turn an integer column into float)" if observed.startswith("float") else ""
        return problem(kind, column, f"column {column!r}: expected {expected}, but pandas read it as {observed}{hint}")
    bad = series[pd.to_numeric(series, errors="coerce").isna() & series.notna()]
    examples = _distinct(bad.head(100).tolist())
    return problem(
        kind,
        column,
        f"column {column!r}: expected {expected}, but pandas read it as text ({observed}): "
        f"{len(bad)} value(s) are not numbers, e.g. {_shown(examples)} ({missing_markers(na_values)}; "
        "range check skipped)",
        unexpected_count=len(bad),
        examples=examples,
        example_rows=[_plain(row) for row in bad.index[:EXAMPLES]],
    )


def _valueproblem(
    kind: str, column: str, kwargs: dict, result: dict, critical: bool, target: str, na_values: Sequence[str]
) -> dict:
    """A failed column-map expectation (nulls, range, set) in one line."""
    count = result.get("unexpected_count")
    examples = _distinct(result.get("partial_unexpected_list", []))
    rows = [_plain(row) for row in result.get("partial_unexpected_index_list", [])[:EXAMPLES]]
    if kind == NOT_NULL:
        examples = []  # every bad value is null: the rows say more
        shown_rows = ", ".join(map(str, rows))
        message = (
            f"column {column!r}: {count} missing value(s) (the reference has none; {missing_markers(na_values)}), "
            f"e.g. at row index {shown_rows}"
        )
    elif kind == BETWEEN:
        bounds = f"[{kwargs['min_value']}, {kwargs['max_value']}]"
        message = f"column {column!r}: {count} value(s) outside {bounds}, e.g. {_shown(examples)}"
    elif kind == IN_SET:
        known = kwargs["value_set"]
        listed = _shown(known[:10]) + (", ..." if len(known) > 10 else "")
        what = "unknown label class(es)" if column == target else "unknown categor(ies)"
        message = f"column {column!r}: {count} value(s) with {what}, e.g. {_shown(examples)} (known: {listed})"
    else:
        message = f"column {column!r}: {kind} failed for {count} value(s), e.g. {_shown(examples)}"
    return problem(kind, column, message, critical, count, examples, rows)


def _classes_missing(column: str, kwargs: dict, result: dict, critical: bool) -> dict:
    known = kwargs["value_set"]
    missing = [value for value in known if value in result.get("partial_missing_list", [])] or known
    message = (
        f"target {column!r}: class(es) {_shown(missing)} missing (every class of the reference must be "
        f"present: {_shown(known)})"
    )
    return problem(HAS_CLASSES, column, message, critical, result.get("missing_count"), missing)


def _exception_message(result: ExpectationValidationResult) -> str | None:
    """GX's error text when it could not evaluate an expectation (it reports, not raises)."""
    info = result.exception_info or {}
    for entry in [info, *info.values()]:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message")).splitlines()[0]
    return None


def describe_results(
    results: list[ExpectationValidationResult], frame: pd.DataFrame, target: str, na_values: Sequence[str] = ()
) -> list[dict]:
    """Turn failed GX results into problems in suite order; derived failures are folded in.

    A missing column makes every check on it fail, and text in a numeric column makes its
    range check error: those are reported once, as the column-set or dtype problem.
    """
    failed = [result for result in results if not result.success]
    mistyped = {r.expectation_config.kwargs["column"] for r in failed if r.expectation_config.type == TYPE_LIST}
    problems = []
    for result in failed:
        config = result.expectation_config
        kind, kwargs, column = config.type, config.kwargs, config.kwargs.get("column")
        critical = bool((config.meta or {}).get("critical", True))
        if kind == TABLE_COLUMNS:
            problems += _column_set_problems(kind, list(kwargs["column_list"]), list(frame.columns))
        elif column is not None and column not in frame.columns:
            continue
        elif kind == BETWEEN and column in mistyped:
            continue
        elif kind == TYPE_LIST:
            problems.append(_typeproblem(kind, column, kwargs["type_list"][0], frame[column], na_values))
        elif (error := _exception_message(result)) is not None:
            where = f"column {column!r}" if column else "table"
            problems.append(problem(kind, column, f"{where}: GX could not evaluate {kind}: {error}", critical))
        elif kind == ROW_COUNT:
            observed = result.result.get("observed_value")
            bounds = f"{kwargs['min_value']} to {kwargs['max_value']}"
            message = f"table: {observed} rows, expected {bounds} (reference rows +/- row_count_margin)"
            problems.append(problem(kind, None, message, critical))
        elif kind == HAS_CLASSES:
            problems.append(_classes_missing(column, kwargs, result.result, critical))
        else:
            problems.append(_valueproblem(kind, column, kwargs, result.result, critical, target, na_values))
    return problems


def _moved(observed: float, reference: float, tolerance: float) -> bool:
    return abs(observed - reference) > tolerance * (1 + 1e-9)


def contract_problems(frame: pd.DataFrame, contract: dict | None) -> list[dict]:
    """The distribution part of the label's contract (the suite's meta, `suite.label_contract`):
    each class's share of the labelled rows, or each quartile of a regression target, within its
    tolerance of the reference's. A class with no row is the class-set expectation's failure, and a
    target read as text the dtype check's, so neither is reported again here."""
    if not contract or contract["column"] not in frame.columns:
        return []
    column = contract["column"]
    values = frame[column].dropna()
    if values.empty:
        return []
    if "class_shares" in contract:
        tolerance = contract["share_tolerance"]
        shares = values.astype(str).value_counts(normalize=True)
        moved = [
            f"share of {label!r} {observed:.2f} outside {share:.2f}±{tolerance:g}"
            for label, share in contract["class_shares"].items()
            if (observed := float(shares.get(label, 0.0))) and _moved(observed, share, tolerance)
        ]
        kind, setting = CLASS_SHARES, "class_share_tolerance"
    else:
        if values.dtype.kind not in NUMERIC_KINDS:
            return []
        tolerance, reference = contract["quartile_tolerance"], contract["quartiles"]
        observed = values.quantile([QUARTILES[name] for name in reference], interpolation="nearest").tolist()
        moved = [
            f"{name} {value:g} outside {expected:g}±{tolerance:g}"
            for (name, expected), value in zip(reference.items(), observed, strict=True)
            if _moved(value, expected, tolerance)
        ]
        kind, setting = TARGET_QUARTILES, "quantile_tolerance x the reference's range"
    if not moved:
        return []
    return [problem(kind, column, f"target {column!r}: {', '.join(moved)} (reference +/- validation.{setting})")]


def _batch_definition(context: AbstractDataContext) -> BatchDefinition:
    try:
        return context.data_sources.get(DATASOURCE).get_asset(ASSET).get_batch_definition(BATCH_DEFINITION)
    except LookupError:  # not in gx/great_expectations.yml (any more): recreate it, GX rewrites the file
        asset = context.data_sources.add_or_update_pandas(DATASOURCE).add_dataframe_asset(ASSET)
        return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def _replace(collection: Any, item: Any) -> Any:
    """Store `item` in place of any same-named one (these live in gx/uncommitted/)."""
    from great_expectations.exceptions import DataContextError

    with contextlib.suppress(DataContextError):
        collection.delete(item.name)
    return collection.add(item)


def _prune_history(context: AbstractDataContext) -> None:
    store = context.validation_results_store
    for key in sorted(store.list_keys(), key=lambda key: key.run_id.run_time)[:-KEEP_RUNS]:
        store.remove_key(key)


def check_frame(
    frame: pd.DataFrame, suite: str, target: str, data_docs: bool = True, na_values: Sequence[str] = ()
) -> list[dict]:
    """Run the GX checkpoint for `suite` on a loaded table (read with `na_values`, which the
    messages about missing values name); returns the problems found.

    The checkpoint and validation definition live in gx/uncommitted/ and are rewritten on
    every run, so they always match the committed suite and never show up in a diff.
    """
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction

    logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
    context = gx.get_context(mode="file", project_root_dir=GX_DIR.resolve().parent)
    # add, never add_or_update: GX's add_or_update re-saves the suite, rewriting the committed JSON
    validation = _replace(
        context.validation_definitions,
        gx.ValidationDefinition(name=suite, data=_batch_definition(context), suite=context.suites.get(suite)),
    )
    checkpoint = _replace(
        context.checkpoints,
        gx.Checkpoint(
            name=suite,
            validation_definitions=[validation],
            actions=[UpdateDataDocsAction(name="update_data_docs")] if data_docs else [],
            result_format=RESULT_FORMAT,
        ),
    )
    _prune_history(context)
    outcome = checkpoint.run(batch_parameters={"dataframe": to_gx_frame(frame)})
    (result,) = outcome.run_results.values()
    stored = json.loads(suite_path(suite).read_text())
    order = {config["id"]: position for position, config in enumerate(stored["expectations"])}
    results = sorted(result.results, key=lambda item: order.get(item.expectation_config.id, len(order)))
    contract = (stored.get("meta") or {}).get("label_contract")
    return describe_results(results, frame, target, na_values) + contract_problems(frame, contract)
