"""Running the committed GX suite: the shipped data passes; every way a data file goes bad
fails with a message that names the column and the problem; and the train stage's check
refuses data that has not passed validation in its current state. Real GX, no mocks.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training.train import TrainingError, train
from << cookiecutter.package >>.validation.report import run_validation, validation_passed_for
from << cookiecutter.package >>.validation.suite import build_suite, suite_path
from tests.helpers import with_settings


def _report(directory: Path) -> dict:
    return json.loads(Reports(directory).validation.read_text())


def test_shipped_data_passes_and_leaves_committed_files_alone(project: Path, rendered, tmp_path: Path, capsys) -> None:
    """The shipped suite of the task params.yaml names (the label contract differs by task)."""
    watched = [*(project / "gx").glob("*.yml"), project / suite_path(rendered.validation.suite)]
    committed = {path: path.read_bytes() for path in watched}

    assert run_validation(rendered, Reports(tmp_path))

    report = _report(tmp_path)
    assert report["success"] is True
    assert report["rows"] == 333
    assert report["failures"] == [] and report["warnings"] == []
    assert report["data_path"] == "data/penguins.csv" and len(report["data_hash"]) == 64
    assert (project / report["data_docs"]).is_file()
    assert "validation PASSED" in capsys.readouterr().out
    # GX must not rewrite the committed suite or config (its add_or_update re-saves the suite)
    assert {path: path.read_bytes() for path in committed} == committed


def _edited(change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[pd.DataFrame, Path], Path]:
    def make(frame: pd.DataFrame, directory: Path) -> Path:
        path = directory / "data.csv"
        change(frame.copy()).to_csv(path, index=False)
        return path

    return make


def _set(column: str, value: object, rows: tuple[int, ...] = (3,)) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[list(rows), column] = value
        return frame

    return change


def _raw(name: str, content: bytes | None) -> Callable[[pd.DataFrame, Path], Path]:
    def make(frame: pd.DataFrame, directory: Path) -> Path:
        path = directory / name
        if content is not None:
            path.write_bytes(content)
        return path

    return make


PNG_BLOB = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4

# case: (how to make the bad file, column the message must name (None: file-level), fragments it must contain)
BAD_DATA = {
    "missing column": (_edited(lambda frame: frame.drop(columns="sex")), "sex", ["missing"]),
    "extra column": (_edited(lambda frame: frame.assign(ring_id=1)), "ring_id", ["extra column"]),
    "nulls": (_edited(_set("bill_depth_mm", np.nan, rows=(1, 2, 3))), "bill_depth_mm", ["3 missing", "CSV field"]),
    "out of range": (_edited(_set("bill_length_mm", 999.0)), "bill_length_mm", ["outside", "999.0"]),
    "unknown category": (_edited(_set("island", "Atlantis")), "island", ["unknown categor", "'Atlantis'"]),
    "unknown label class": (_edited(_set("species", "Emperor")), "species", ["label class", "'Emperor'"]),
    "text in numeric": (_edited(_set("flipper_length_mm", "abc")), "flipper_length_mm", ["not numbers", "'abc'"]),
    "a marker not in data.na_values": (_edited(_set("body_mass_g", "NA")), "body_mass_g", ["'NA'", "data.na_values"]),
    "empty file": (_raw("data.csv", b""), None, ["empty"]),
    "header only": (_raw("data.csv", b"species,island\n"), None, ["no data rows"]),
    "corrupt parquet": (_raw("data.parquet", bytes(range(256)) * 8), None, ["cannot be read as parquet"]),
    "binary blob as csv": (_raw("data.csv", PNG_BLOB), None, ["cannot be read as csv"]),
    "file not found": (_raw("missing.csv", None), None, ["not found"]),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_data_fails_naming_column_and_problem(
    case: str, project: Path, params, shipped: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    make, column, fragments = BAD_DATA[case]
    path = make(shipped, tmp_path)

    assert not run_validation(params, Reports(tmp_path / "reports"), path)

    report = _report(tmp_path / "reports")
    assert report["success"] is False and report["data_path"] == path.as_posix()
    matching = [
        failure
        for failure in report["failures"]
        if failure["critical"] and all(fragment in failure["message"] for fragment in fragments)
    ]
    assert matching, report["failures"]
    if column is not None:
        assert matching[0]["column"] == column and repr(column) in matching[0]["message"]
        # one clear problem per column: no GX error text, no second failure derived from the first
        assert [failure["column"] for failure in report["failures"]].count(column) == 1, report["failures"]
    assert not any("could not evaluate" in failure["message"] for failure in report["failures"])
    assert matching[0]["message"] in capsys.readouterr().out


def test_failure_record_has_examples_and_counts(project: Path, params, shipped: pd.DataFrame, tmp_path: Path) -> None:
    path = _edited(_set("bill_length_mm", 999.0, rows=(0, 5)))(shipped, tmp_path)
    run_validation(params, Reports(tmp_path), path)

    (failure,) = _report(tmp_path)["failures"]
    assert failure["expectation"] == "expect_column_values_to_be_between"
    assert failure["column"] == "bill_length_mm"
    assert failure["unexpected_count"] == 2
    assert failure["examples"] == [999.0]
    assert failure["example_rows"] == [0, 5]


def test_row_count_outside_band_is_only_a_warning(project: Path, params, shipped: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "few.csv"
    shipped.iloc[::4].to_csv(path, index=False)  # 84 rows, every class at about its share and in both splits

    assert run_validation(params, Reports(tmp_path), path)

    report = _report(tmp_path)
    assert report["success"] is True and report["failures"] == []
    (warning,) = report["warnings"]
    assert warning["expectation"] == "expect_table_row_count_to_be_between" and "84 rows" in warning["message"]


def test_missing_data_source_is_recreated(workspace: Path, params, tmp_path: Path, monkeypatch) -> None:
    shutil.copytree(workspace / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    shutil.copytree(workspace / "data", tmp_path / "data")
    config = tmp_path / "gx" / "great_expectations.yml"
    config.write_text(config.read_text().split("fluent_datasources:")[0])
    monkeypatch.chdir(tmp_path)

    assert run_validation(params, Reports(tmp_path / "reports"))
    assert "fluent_datasources" in config.read_text()


def test_train_stage_check_follows_the_data(project: Path, params, shipped: pd.DataFrame, tmp_path: Path) -> None:
    data, reports = tmp_path / "penguins.csv", Reports(tmp_path / "reports")
    shutil.copy(project / "data" / "penguins.csv", data)

    passed, why = validation_passed_for(data, params.validation.suite, reports)
    assert not passed and "make validate" in why

    assert run_validation(params, reports, data)
    passed, why = validation_passed_for(data, params.validation.suite, reports)
    assert passed, why
    passed, why = validation_passed_for(data, "another_suite", reports)
    assert not passed and "another_suite" in why

    with data.open("a") as handle:
        handle.write("Adelie,Dream,40.0,18.0,190,3700,male\n")
    passed, why = validation_passed_for(data, params.validation.suite, reports)
    assert not passed and "make validate" in why

    bad = _edited(_set("island", "Atlantis"))(shipped, tmp_path)
    assert not run_validation(params, reports, bad)
    passed, why = validation_passed_for(bad, params.validation.suite, reports)
    assert not passed and "failed validation" in why


def test_a_continuous_target_stops_at_validate_and_train_naming_the_column(
    project: Path, params, tmp_path: Path, tracking_uri: str
) -> None:
    """A new user's first try: another CSV whose target is a measurement, then `make expectations
    validate train`. Validation fails naming the column and the regression task, and training
    refuses the data before anything is registered."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"age": rng.normal(48, 13, 442), "bmi": rng.normal(26, 4, 442)})
    frame["progression"] = (frame["bmi"] * 5 + rng.normal(0, 20, 442)).round(1)
    path = tmp_path / "diabetes.csv"
    frame.to_csv(path, index=False)
    diabetes = params.model_copy(
        update={
            "data": params.data.model_copy(update={"path": path, "target": "progression"}),
            "validation": params.validation.model_copy(update={"suite": "diabetes"}),
            "model": params.model.model_copy(update={"name": "diabetes", "candidates": "diabetes-candidates"}),
            "mlflow": params.mlflow.model_copy(update={"tracking_uri": tracking_uri}),
        }
    )
    build_suite(diabetes)
    reports = Reports(tmp_path / "reports")

    assert not run_validation(diabetes, reports)
    (failure,) = _report(tmp_path / "reports")["failures"]
    distinct = frame["progression"].nunique()
    assert failure["column"] == "progression" and f"{distinct} distinct numbers" in failure["message"]
    assert "task: regression" in failure["message"]
    with pytest.raises(TrainingError, match="failed validation"):
        train(diabetes, reports)
    assert connect(diabetes).search_model_versions("name='diabetes-candidates'") == []


def test_a_regression_target_that_is_not_a_number_stops_at_validate_naming_the_column(
    project: Path, params, tmp_path: Path
) -> None:
    by_island = with_settings(params, "data", task="regression", target="island")
    reports = Reports(tmp_path / "reports")
    assert not run_validation(by_island, reports)
    (failure,) = _report(tmp_path / "reports")["failures"]
    assert failure["column"] == "island" and "not numeric" in failure["message"]
    with pytest.raises(TrainingError, match="failed validation"):
        train(by_island, reports)
