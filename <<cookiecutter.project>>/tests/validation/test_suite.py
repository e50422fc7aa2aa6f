"""The suite as data: built deterministically from the reference, committed as built, and
accepted by GX for every dtype a reference may have."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.validation.report import run_validation
from << cookiecutter.package >>.validation.suite import build_suite, suite_path
from tests.helpers import PROJECT_ROOT, as_task


def test_suite_built_from_a_reference_accepts_it(project: Path, params, shipped: pd.DataFrame, tmp_path: Path) -> None:
    """Every dtype gets a type name GX matches: pandas nullable, categorical, datetime, int32."""
    frame = shipped.assign(
        island=shipped["island"].astype("category"),
        body_mass_g=shipped["body_mass_g"].astype("Int64"),
        flipper_length_mm=shipped["flipper_length_mm"].astype("int32"),
        heavy=(shipped["body_mass_g"] > 4000).astype("boolean"),
        seen=pd.Timestamp("2020-01-01") + pd.to_timedelta(np.arange(len(shipped)), unit="D"),
        note=[f"note {row}" for row in range(len(shipped))],  # too many values to be a category
    )
    frame.loc[3, "bill_depth_mm"] = np.nan
    path = tmp_path / "rich.parquet"
    frame.to_parquet(path, index=False)
    rich = params.model_copy(
        update={
            "data": params.data.model_copy(update={"path": path}),
            "validation": params.validation.model_copy(update={"suite": "rich"}),
        }
    )

    build_suite(rich)

    reports = Reports(tmp_path)
    assert run_validation(rich, reports), json.loads(reports.validation.read_text())["failures"]


def test_committed_suite_is_what_make_expectations_builds(project: Path, params) -> None:
    committed = (PROJECT_ROOT / suite_path(params.validation.suite)).read_text()

    first = build_suite(params).read_text()
    second = build_suite(params).read_text()

    assert first == second, "build_suite is not deterministic"
    assert first == committed, "the committed suite is out of date: run `make expectations` and commit gx/"


def test_suite_content_follows_params(project: Path, params) -> None:
    suite = json.loads(suite_path(params.validation.suite).read_text())
    by_key = {(item["type"], item["kwargs"].get("column")): item for item in suite["expectations"]}

    bill = by_key[("expect_column_values_to_be_between", "bill_length_mm")]["kwargs"]
    assert (bill["min_value"], bill["max_value"]) == (29.35, 62.35)  # 32.1..59.6 widened by 10 % of the span
    assert by_key[("expect_column_values_to_be_in_set", "species")]["kwargs"]["value_set"] == [
        "Adelie",
        "Chinstrap",
        "Gentoo",
    ]
    assert by_key[("expect_table_row_count_to_be_between", None)]["meta"] == {"critical": False}
    assert all(item["meta"]["critical"] for item in suite["expectations"] if "row_count" not in item["type"])


def test_a_regression_target_gets_a_range_and_the_suite_is_the_same_for_both_tasks(project: Path, params) -> None:
    """A class label is checked against its value set; a regression target, like any number,
    against its widened range. On the shipped data both tasks commit the same suite (the body
    mass is a numeric feature of the classifier, the species a text feature of the regressor)."""
    classification = build_suite(params).read_text()
    regression = as_task(params, "regression")
    suite = json.loads(build_suite(regression).read_text())
    kinds = {item["type"] for item in suite["expectations"] if item["kwargs"].get("column") == "body_mass_g"}
    assert "expect_column_values_to_be_between" in kinds and "expect_column_values_to_be_in_set" not in kinds
    assert json.dumps(suite, indent=2, sort_keys=True, ensure_ascii=False) + "\n" == classification
