"""The promotion lock belongs to its holder: a release never deletes a lock someone else took."""

import time
from contextlib import ExitStack

import pytest

from << cookiecutter.package >>.promotion.lock import LOCK_SUFFIX, LockTimeout, _claim_name, alias_lock
from << cookiecutter.package >>.tracking import connect


def test_lock_is_released_only_by_its_holder(params, tmp_path):
    mlflow = params.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    client = connect(params.model_copy(update={"mlflow": mlflow}))
    lock_name = f"{params.model.name}{LOCK_SUFFIX}"
    with alias_lock(client, params.model.name):
        client.delete_registered_model(lock_name)  # as if broken as stale and retaken by another runner
        client.create_registered_model(lock_name, description="held by someone else")
    assert client.get_registered_model(lock_name).description == "held by someone else"
    client.delete_registered_model(lock_name)
    with alias_lock(client, params.model.name):
        assert client.get_registered_model(lock_name)
    assert client.search_registered_models(filter_string=f"name = '{lock_name}'") == []  # released


class _DeletesLate:
    """A client that runs `racer` just before its first delete of the lock: the moment at which a
    waiter, having judged a lock stale, is slowest to act on that judgement."""

    def __init__(self, client, lock_name, racer):
        self._client, self._lock_name, self._racer = client, lock_name, racer

    def __getattr__(self, name):
        return getattr(self._client, name)

    def delete_registered_model(self, name):
        if name == self._lock_name and self._racer:
            racer, self._racer = self._racer, None
            racer()
        return self._client.delete_registered_model(name)


def test_two_waiters_breaking_one_stale_lock_never_both_hold_it(params, tmp_path):
    mlflow = params.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    client = connect(params.model_copy(update={"mlflow": mlflow}))
    model, lock_name = params.model.name, f"{params.model.name}{LOCK_SUFFIX}"
    client.create_registered_model(lock_name, description="held by a killed promotion")
    time.sleep(0.6)  # stale by the server's clock
    holders, first = [], ExitStack()

    def first_waiter_breaks_and_takes_it():
        try:
            first.enter_context(alias_lock(client, model, timeout=1.0, stale_after=0.5))
        except LockTimeout:
            return
        holders.append(client.get_registered_model(lock_name).description)

    with first, alias_lock(_DeletesLate(client, lock_name, first_waiter_breaks_and_takes_it), model, stale_after=0.5):
        second = client.get_registered_model(lock_name).description
        assert holders == [] or holders == [second], "both waiters hold the lock: the fresh lock was deleted"
        assert second != "held by a killed promotion"


def test_a_lock_stuck_by_a_killed_claimant_names_what_to_delete(params, tmp_path):
    mlflow = params.mlflow.model_copy(update={"tracking_uri": f"sqlite:///{tmp_path / 'mlflow.db'}"})
    client = connect(params.model_copy(update={"mlflow": mlflow}))
    model, lock_name = params.model.name, f"{params.model.name}{LOCK_SUFFIX}"
    dead_holder = "held by a killed promotion"
    client.create_registered_model(lock_name, description=dead_holder)
    with pytest.raises(LockTimeout, match="held by another promotion"):
        with alias_lock(client, model, timeout=0.3, stale_after=30):
            pass
    # a waiter claimed that holding to break it as stale, and was killed before it could
    claim = client.create_registered_model(_claim_name(lock_name, dead_holder)).name
    time.sleep(0.6)
    with pytest.raises(LockTimeout) as stuck:
        with alias_lock(client, model, timeout=0.5, stale_after=0.5):
            pass
    assert "stuck" in str(stuck.value) and claim in str(stuck.value)
    assert client.get_registered_model(lock_name).description == dead_holder, "a stuck lock is never broken"
    client.delete_registered_model(claim)  # the fix the message names
    client.delete_registered_model(lock_name)
    with alias_lock(client, model, timeout=1.0):
        assert client.get_registered_model(lock_name).description != dead_holder
