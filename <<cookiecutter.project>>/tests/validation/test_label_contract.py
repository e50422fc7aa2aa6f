"""The label's contract: the target is validated as a label, not only as a column. Relabelling a
class as another, or shifting a regression target, fails validation naming the target; a class
named "None" is a class from `make expectations` to `make validate`. Real GX, no mocks."""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from << cookiecutter.package >>.cli import main
from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.validation.report import run_validation
from << cookiecutter.package >>.validation.suite import build_suite, suite_path
from tests.helpers import as_task, with_settings

TASKS = ("classification", "regression")


@pytest.fixture(scope="module")
def contracts(workspace: Path, params: Params) -> dict[str, Params]:
    """Each task's suite, built from the shipped data and named after the task, whichever task
    the project was rendered for."""
    tasks = {task: with_settings(as_task(params, task), "validation", suite=task) for task in TASKS}
    with contextlib.chdir(workspace):
        for settings in tasks.values():
            build_suite(settings)
    return tasks


def _validate(settings: Params, frame: pd.DataFrame, directory: Path) -> tuple[bool, list[dict]]:
    path = directory / "data.csv"
    frame.to_csv(path, index=False)
    reports = Reports(directory / "reports")
    passed = run_validation(settings, reports, path)
    return passed, json.loads(reports.validation.read_text())["failures"]


@pytest.mark.parametrize("task", TASKS)
def test_the_shipped_data_meets_each_tasks_contract(task: str, project: Path, contracts, shipped, tmp_path) -> None:
    assert _validate(contracts[task], shipped, tmp_path) == (True, [])


def test_relabelling_a_class_as_another_fails_naming_the_target(
    project: Path, contracts, shipped: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    relabelled = shipped.replace({"species": {"Adelie": "Gentoo"}})

    passed, failures = _validate(contracts["classification"], relabelled, tmp_path)

    assert not passed
    assert [failure["column"] for failure in failures] == ["species", "species"]
    missing, shares = (failure["message"] for failure in failures)
    assert missing.startswith("target 'species': class(es) 'Adelie' missing")
    assert shares.startswith("target 'species': share of 'Gentoo' 0.80 outside 0.36±0.1")
    assert "Adelie" not in shares  # a missing class is reported once, as missing
    out = capsys.readouterr().out
    assert missing in out and shares in out


def test_a_class_share_may_move_within_the_tolerance(
    project: Path, contracts, shipped: pd.DataFrame, tmp_path: Path
) -> None:
    """20 of 146 Adelie relabelled as Gentoo: each share moves by 0.06."""
    moved = shipped.copy()
    moved.loc[moved.index[moved["species"] == "Adelie"][:20], "species"] = "Gentoo"
    assert _validate(contracts["classification"], moved, tmp_path) == (True, [])

    tight = with_settings(contracts["classification"], "validation", suite="tight", class_share_tolerance=0.05)
    build_suite(tight)
    passed, failures = _validate(tight, moved, tmp_path)
    assert not passed
    (message,) = [failure["message"] for failure in failures]
    assert "share of 'Adelie' 0.38 outside 0.44±0.05, share of 'Gentoo' 0.42 outside 0.36±0.05" in message


@pytest.mark.parametrize(("shift", "passes"), [(100, True), (400, False)])
def test_a_shifted_regression_target_fails_naming_it(
    shift: int, passes: bool, project: Path, contracts, shipped: pd.DataFrame, tmp_path: Path
) -> None:
    """Shifted, but kept inside the reference range: only the quartiles can tell."""
    shifted = shipped.assign(body_mass_g=(shipped["body_mass_g"] + shift).clip(upper=6300))

    passed, failures = _validate(contracts["regression"], shifted, tmp_path)

    assert passed is passes
    if not passes:
        (failure,) = failures
        assert failure["column"] == "body_mass_g"
        assert failure["message"].startswith(
            "target 'body_mass_g': lower quartile 3950 outside 3550±360, median 4450 outside 4050±360"
        )


@pytest.mark.slow
def test_a_class_named_none_is_a_class_of_the_contract(
    workspace: Path, shipped: pd.DataFrame, tmp_path: Path, monkeypatch
) -> None:
    """`make expectations` then `make validate` on labels like R's Cars93 AirBags ("None") or a
    region "NA": classes with their shares, and losing one fails as a missing class, not as
    missing labels."""
    shutil.copytree(workspace / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    monkeypatch.chdir(tmp_path)
    airbags = {"Adelie": "None", "Chinstrap": "Driver", "Gentoo": "NA"}
    labels = shipped.replace({"species": airbags})
    labels.to_csv("labels.csv", index=False)
    settings = yaml.safe_load((workspace / "params.yaml").read_text())
    settings["data"].update(path="labels.csv", target="species", task="classification")
    settings["gate"]["metric"] = "accuracy"
    settings["validation"]["suite"] = "labels"
    Path("params.yaml").write_text(yaml.safe_dump(settings))

    assert main(["expectations"]) == 0
    assert main(["validate"]) == 0
    contract = json.loads(suite_path("labels").read_text())["meta"]["label_contract"]
    assert contract["class_shares"] == {"Driver": 0.2042, "NA": 0.3574, "None": 0.4384}

    labels[labels["species"] != "None"].to_csv("without_none.csv", index=False)
    assert main(["validate", "--data", "without_none.csv"]) == 1
    failures = json.loads(Reports().validation.read_text())["failures"]
    assert failures[0]["message"].startswith("target 'species': class(es) 'None' missing")
    assert not any("missing value" in failure["message"] for failure in failures)
