"""Fixtures: renders of the template, shared by the tests that only read them; helpers live in support/."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.services import Postgres
from support.template import MATRIX, MATRIX_IDS, render


@pytest.fixture(scope="session")
def default_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `--no-input` render shared by read-only tests."""
    return render(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite tracking DB for the session (migrations cost seconds); tests use distinct model names."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def matrix_render(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """Row INDEX of the option matrix, rendered on first use and then shared by the whole session.

    Tests that take these renders only read them; one that runs something there works on a copy.
    """
    root = tmp_path_factory.mktemp("matrix")
    return functools.cache(lambda index: render(root / f"row{index}", **MATRIX[index]))


@pytest.fixture(params=range(len(MATRIX)), ids=MATRIX_IDS)
def rendered(request: pytest.FixtureRequest, matrix_render: Callable[[int], Path]) -> tuple[dict[str, str], Path]:
    """(answers, project) for each row of the option matrix: a test taking it runs once per row."""
    return MATRIX[request.param], matrix_render(request.param)


@pytest.fixture
def all_rendered(matrix_render: Callable[[int], Path]) -> list[tuple[dict[str, str], Path]]:
    """(answers, project) for every row of the option matrix, for checks across all of them."""
    return [(answers, matrix_render(index)) for index, answers in enumerate(MATRIX)]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A throw-away PostgreSQL cluster for the module's tracking servers."""
    cluster = Postgres()
    cluster.start()
    yield cluster
    cluster.remove()
