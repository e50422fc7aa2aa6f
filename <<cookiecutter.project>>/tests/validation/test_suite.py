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
from tests.helpers import PROJECT_ROOT, as_task, with_settings


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


def test_committed_suite_is_what_make_expectations_builds(project: Path, rendered) -> None:
    """For the task params.yaml names: the label contract makes each task's suite its own."""
    committed = (PROJECT_ROOT / suite_path(rendered.validation.suite)).read_text()

    first = build_suite(rendered).read_text()
    second = build_suite(rendered).read_text()

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


def test_the_label_contract_follows_the_task(project: Path, params) -> None:
    """A class label gets its value set, every class required and each class's share; a regression
    target, like any number, its widened range, and its quartiles. The other task's target is a
    plain feature."""
    by_task = {}
    for task in ("classification", "regression"):
        settings = with_settings(as_task(params, task), "validation", suite=task)
        by_task[task] = json.loads(build_suite(settings).read_text())

    def kinds(task: str, column: str) -> set[str]:
        return {item["type"] for item in by_task[task]["expectations"] if item["kwargs"].get("column") == column}

    assert {"expect_column_values_to_be_in_set", "expect_column_distinct_values_to_contain_set"} <= kinds(
        "classification", "species"
    )
    assert by_task["classification"]["meta"]["label_contract"] == {
        "column": "species",
        "class_shares": {"Adelie": 0.4384, "Chinstrap": 0.2042, "Gentoo": 0.3574},  # 146, 68, 119 of 333
        "share_tolerance": 0.1,
    }
    assert "expect_column_distinct_values_to_contain_set" not in kinds("regression", "species")
    assert "expect_column_values_to_be_between" in kinds("regression", "body_mass_g")
    assert by_task["regression"]["meta"]["label_contract"] == {
        "column": "body_mass_g",
        "quartiles": {"lower quartile": 3550.0, "median": 4050.0, "upper quartile": 4775.0},
        "quartile_tolerance": 360.0,  # 10 % of 2700..6300
    }
    assert kinds("classification", "body_mass_g") == kinds("regression", "body_mass_g")
