"""The promotion lock on a real registry (SQLite): one holder at a time, a killed holder broken by
age, a timeout that names the holder, and nothing deleted but lock versions."""

import threading
import time

import pytest
from mlflow import MlflowClient

from << cookiecutter.package >>.promotion.lock import LOCK_SOURCE, LOCK_SUFFIX, LockTimeout, alias_lock

DEAD_HOLDER = "pid 1 on a-runner-that-was-killed (0)"


class _NoModelDeletes:
    """A client that fails the test on any write to a registered model other than its versions."""

    def __init__(self, client: MlflowClient) -> None:
        self._client = client

    def __getattr__(self, name: str):
        if name in {"delete_registered_model", "rename_registered_model", "update_registered_model"}:
            pytest.fail(f"the lock called {name}")
        return getattr(self._client, name)


@pytest.fixture
def lock(tracking_uri: str, request: pytest.FixtureRequest) -> tuple[MlflowClient, str, str]:
    """(client, model, lock model) with the lock model created first, as the MLflow admin does."""
    client, model = MlflowClient(tracking_uri, tracking_uri), request.node.name[:60]
    client.create_registered_model(f"{model}{LOCK_SUFFIX}")
    return client, model, f"{model}{LOCK_SUFFIX}"


def _queue(client: MlflowClient, lock_name: str) -> list[str]:
    return sorted(version.description for version in client.search_model_versions(f"name = '{lock_name}'"))


def _dead_holder(client: MlflowClient, lock_name: str) -> None:
    """A version left in the queue by a holder that was killed."""
    client.create_model_version(lock_name, LOCK_SOURCE, description=DEAD_HOLDER, await_creation_for=0)


def test_the_holder_is_the_only_version_and_leaves_none_behind(lock):
    client, model, lock_name = lock
    with alias_lock(client, model):
        [holder] = _queue(client, lock_name)
        assert holder.startswith("pid ")
    assert _queue(client, lock_name) == []
    assert client.get_registered_model(lock_name), "the lock model outlives every holding"


def test_a_local_store_creates_the_lock_model_on_first_use(tracking_uri, request):
    client, model = MlflowClient(tracking_uri, tracking_uri), request.node.name[:60]
    with alias_lock(client, model):
        assert len(_queue(client, f"{model}{LOCK_SUFFIX}")) == 1


@pytest.mark.slow
def test_threads_never_hold_the_lock_together(lock):
    client, model, _ = lock
    inside, overlaps, errors = [], [], []

    def promote_three_times():
        try:
            for _ in range(3):
                with alias_lock(client, model, timeout=60):
                    inside.append(1)
                    if len(inside) > 1:
                        overlaps.append(len(inside))
                    time.sleep(0.05)
                    inside.pop()
        except Exception as error:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=promote_three_times) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and overlaps == []


def test_a_killed_holder_is_broken_once_stale_and_nothing_else_is_deleted(lock):
    client, model, lock_name = lock
    client.create_registered_model(f"{model}-candidates")
    _dead_holder(client, lock_name)
    time.sleep(0.6)  # stale by the registry's timestamps
    with alias_lock(_NoModelDeletes(client), model, timeout=5, stale_after=0.5):
        assert DEAD_HOLDER not in _queue(client, lock_name)
    assert client.get_registered_model(f"{model}-candidates") and client.get_registered_model(lock_name)


def test_a_timeout_names_the_holder_and_leaves_its_place(lock):
    client, model, lock_name = lock
    _dead_holder(client, lock_name)
    with pytest.raises(LockTimeout, match=r"held by pid 1 on a-runner-that-was-killed \(0\) \(version 1"):
        with alias_lock(client, model, timeout=0.5, stale_after=60):
            pytest.fail("took a lock that was held")
    assert _queue(client, lock_name) == [DEAD_HOLDER], "the waiter left its own place, and only that"


def test_a_release_never_removes_the_next_holder(lock):
    """A slow holder whose version was broken as stale must not delete its successor's on release."""
    client, model, lock_name = lock
    with alias_lock(client, model):
        [mine] = client.search_model_versions(f"name = '{lock_name}'")
        client.delete_model_version(lock_name, mine.version)  # broken as stale by a waiter...
        _dead_holder(client, lock_name)  # ...who now holds the lock
    assert _queue(client, lock_name) == [DEAD_HOLDER]


class _ResentJoin:
    """A client whose HTTP layer resent the join after losing its answer: two lock versions."""

    def __init__(self, client: MlflowClient) -> None:
        self._client = client

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def create_model_version(self, *args, **kwargs):
        self._client.create_model_version(*args, **kwargs)  # the answer that was lost
        return self._client.create_model_version(*args, **kwargs)


def test_a_resent_join_does_not_leave_its_own_place_ahead_of_it(lock):
    client, model, lock_name = lock
    with alias_lock(_ResentJoin(client), model, timeout=2, stale_after=60):
        [holder] = _queue(client, lock_name)
    assert _queue(client, lock_name) == []
