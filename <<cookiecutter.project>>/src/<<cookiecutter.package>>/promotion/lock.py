"""A promotion lock in the registry, so that two promotions of one model never interleave.

MLflow has no compare-and-set on aliases, but registering a model name is atomic: the
store's unique constraint lets exactly one of any number of concurrent creators win, on
SQLite, PostgreSQL or a tracking server alike. The lock is that name.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.promotion.registry import RegistryError, is_absent

LOCK_SUFFIX = ".promotion-lock"


class LockTimeout(RegistryError):
    """Another promotion of the same model held the lock for too long."""


def _lock_holder(client: MlflowClient, lock_name: str) -> tuple[str, float] | None:
    """(owner token, age in seconds) of the lock, or None when nobody holds it."""
    try:
        lock = client.get_registered_model(lock_name)
    except MlflowException as error:
        if is_absent(error):
            return None
        raise
    return lock.description or "", time.time() - lock.creation_timestamp / 1000


def _release(client: MlflowClient, lock_name: str, token: str) -> None:
    """Delete the lock only if it is still ours (a slow holder's lock may have been broken and
    retaken); never let a failed release hide the outcome of the promotion itself."""
    try:
        holder = _lock_holder(client, lock_name)
        if holder and holder[0] == token:
            client.delete_registered_model(lock_name)
    except MlflowException as error:
        print(f"warning: could not release {lock_name!r} ({error}); it is broken after it goes stale")


@contextmanager
def alias_lock(
    client: MlflowClient, model_name: str, timeout: float = 120.0, stale_after: float = 600.0
) -> Iterator[None]:
    """Mutual exclusion for alias moves of one model, through the registry itself.

    The lock's description is a token of the holder; a lock older than `stale_after` (its
    holder was killed) is broken.
    Age is measured against the server's timestamp, so runner clocks must be roughly in
    sync (minutes, not seconds: `stale_after` is ten minutes).
    """
    lock_name = f"{model_name}{LOCK_SUFFIX}"
    token = f"held by pid {os.getpid()} on {socket.gethostname()} ({uuid.uuid4().hex})"
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.create_registered_model(lock_name, description=token)
            break
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise RegistryError(f"cannot take the promotion lock {lock_name!r}: {error}") from error
        holder = _lock_holder(client, lock_name)
        if holder and holder[1] > stale_after:
            _release(client, lock_name, holder[0])  # only that stale holder's lock, not a newer one
            continue
        if time.monotonic() > deadline:
            age = holder[1] if holder else 0.0
            raise LockTimeout(f"{lock_name!r} is held by another promotion (age {age:.0f}s); retry later")
        time.sleep(0.2 + random.random() * 0.3)  # noqa: S311 - jitter, not cryptography
    try:
        yield
    finally:
        _release(client, lock_name, token)
