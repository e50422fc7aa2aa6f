"""Fixtures: renders of the template, shared by the tests that only read them; helpers live in support/."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from shard_tests import longest_first, read_durations, seconds_per_test, units, whole_files
from xdist.scheduler import LoadScopeScheduling

from support.services import Postgres
from support.template import MATRIX, MATRIX_IDS, render


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker (`make test` runs one per core): order the tests as the shards'
    units, longest first, so that an idle worker always takes the longest work left and the run
    does not end on one worker still busy with an act scenario."""
    if not hasattr(config, "workerinput"):
        return
    ids = [item.nodeid for item in items]
    ordered = longest_first(units(ids, whole_files(ids)), seconds_per_test(ids, read_durations()))
    rank = {test: index for index, unit in enumerate(ordered) for test in unit.tests}
    items.sort(key=lambda item: rank[item.nodeid])


class UnitScheduling(LoadScopeScheduling):
    """xdist's loadscope scheduling with the shards' units as scopes: a file whose tests share a
    module fixture goes to one worker whole (its fixture set up once), any other test alone.
    xdist's own `loadgroup` cannot say this here: it renames node ids through an attribute
    pytest 9.2 no longer reads, so its groups are silently split."""

    def __init__(self, config: pytest.Config, log: object = None) -> None:
        super().__init__(config, log)
        self._unit_of: dict[str, str] = {}

    def _split_scope(self, nodeid: str) -> str:
        if not self._unit_of:  # the collection is known by the time xdist asks for scopes
            ids = self.collection or []
            self._unit_of = {test: unit.arg for unit in units(ids, whole_files(ids)) for test in unit.tests}
        return self._unit_of[nodeid]


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> UnitScheduling | None:
    """`--dist loadscope` (what `make test` asks for) schedules by the shards' units."""
    return UnitScheduling(config, log) if config.getvalue("dist") == "loadscope" else None


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
