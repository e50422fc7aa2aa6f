"""Validation runs in a copy of the project, so the checkout's gx/ and reports/ stay untouched."""

import shutil
from pathlib import Path

import pandas as pd
import pytest

from << cookiecutter.package >>.config import Params, load_params
from tests.helpers import PROJECT_ROOT, as_task


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed parts of the project that validation reads, copied once per module."""
    root = tmp_path_factory.mktemp("project")
    shutil.copy(PROJECT_ROOT / "params.yaml", root)
    shutil.copytree(PROJECT_ROOT / "data", root / "data")
    shutil.copytree(PROJECT_ROOT / "gx", root / "gx", ignore=shutil.ignore_patterns("uncommitted"))
    return root


@pytest.fixture
def project(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(workspace)
    return workspace


@pytest.fixture(scope="module")
def params(workspace: Path) -> Params:
    return as_task(load_params(workspace / "params.yaml", environ={}), "classification")


@pytest.fixture(scope="module")
def rendered(workspace: Path) -> Params:
    """params.yaml as committed, with the task it names: the one the committed suite was built for."""
    return load_params(workspace / "params.yaml", environ={})


@pytest.fixture(scope="module")
def shipped(workspace: Path) -> pd.DataFrame:
    return pd.read_csv(workspace / "data" / "penguins.csv")
