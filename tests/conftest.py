"""Fixtures: renders of the template shared by tests; the helpers live in support/."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.template import render


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `--no-input` render shared by read-only tests."""
    return render(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite tracking DB for the session (migrations cost seconds); tests use distinct model names."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
