"""Shared fixtures: the project's own params, run from the project root."""

from pathlib import Path

import pytest

from << cookiecutter.package >>.config import Params, load_params

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def params(monkeypatch: pytest.MonkeyPatch) -> Params:
    """params.yaml as committed, with relative paths resolved from the project root."""
    monkeypatch.chdir(PROJECT_ROOT)
    return load_params(PROJECT_ROOT / "params.yaml", environ={})
