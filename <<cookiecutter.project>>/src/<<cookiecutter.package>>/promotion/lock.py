"""A promotion lock in the registry, so that two promotions of one model never interleave.

MLflow has no compare-and-set on aliases, but registering a model name is atomic: the
store's unique constraint lets exactly one of any number of concurrent creators win, on
SQLite, PostgreSQL or a tracking server alike. The lock is that name.
"""

from __future__ import annotations

import hashlib
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


def _server_now(client: MlflowClient, lock_name: str) -> float:
    """Now, in seconds, by the registry server's clock: the creation time of a probe model.

    A lock's age compares two server timestamps, so a runner whose clock is off can neither
    break a live lock nor keep a dead one.
    """
    probe = client.create_registered_model(f"{lock_name}.probe-{uuid.uuid4().hex}")
    client.delete_registered_model(probe.name)
    return probe.creation_timestamp / 1000


def _lock_holder(client: MlflowClient, lock_name: str) -> tuple[str, float] | None:
    """(owner token, creation time in seconds by the server's clock) of the lock, or None when
    nobody holds it. Its age costs a probe (`_server_now`), so only a waiter asks for it."""
    try:
        lock = client.get_registered_model(lock_name)
    except MlflowException as error:
        if is_absent(error):
            return None
        raise
    return lock.description or "", lock.creation_timestamp / 1000


def _claim_name(lock_name: str, token: str) -> str:
    return f"{lock_name}.claim-{hashlib.sha256(token.encode()).hexdigest()[:32]}"


def _timeout_reason(client: MlflowClient, lock_name: str, holder: tuple[str, float] | None, age: float) -> str:
    """Why the lock could not be taken, and, when a killed process left it stuck, the fix.

    A claim lives for milliseconds; one found on a stale holding was left by a process killed
    while ending it. It is never broken automatically (that would let two processes end one
    holding), so the message names what to delete once no promotion of the model is running.
    """
    reason = f"{lock_name!r} is held by another promotion (age {age:.0f}s); retry later"
    if holder is None:
        return reason
    claim = _claim_name(lock_name, holder[0])
    try:
        client.get_registered_model(claim)
    except MlflowException as error:
        if is_absent(error):
            return reason
        raise
    return (
        f"{lock_name!r} (age {age:.0f}s) is stuck: a process was killed while ending it and left its "
        f"claim {claim!r}; when no promotion of this model is running, delete the registered models "
        f"{claim!r} and {lock_name!r}, then retry"
    )


def _delete_if_held_by(client: MlflowClient, lock_name: str, token: str) -> bool:
    """Delete the lock only while `token` holds it; return whether it was deleted.

    The registry has no conditional delete, so each holding of the lock gets one claim, a model
    named after its token that only one process can create: the holder releasing it, or one of
    any number of waiters breaking it as stale. Only the claimant deletes, after re-reading the
    holder under the claim, and nobody else can delete that holding meanwhile, so a newer
    holder's lock is never deleted. A claim already taken means that holding is being ended.
    """
    claim = _claim_name(lock_name, token)
    try:
        client.create_registered_model(claim)
    except MlflowException as error:
        if error.error_code == "RESOURCE_ALREADY_EXISTS":
            return False
        raise
    try:
        holder = _lock_holder(client, lock_name)
        if holder and holder[0] == token:
            client.delete_registered_model(lock_name)
            return True
        return False
    finally:
        client.delete_registered_model(claim)


def _release(client: MlflowClient, lock_name: str, token: str) -> None:
    """Delete the lock only if it is still ours (a slow holder's lock may have been broken and
    retaken); never let a failed release hide the outcome of the promotion itself."""
    try:
        _delete_if_held_by(client, lock_name, token)
    except MlflowException as error:
        print(f"warning: could not release {lock_name!r} ({error}); it is broken after it goes stale")


@contextmanager
def alias_lock(
    client: MlflowClient, model_name: str, timeout: float = 120.0, stale_after: float = 600.0
) -> Iterator[None]:
    """Mutual exclusion for alias moves of one model, through the registry itself.

    The lock's description is a token of the holder; a lock older than `stale_after` (its
    holder was killed) is broken.
    Age is measured on the server's clock alone (see `_server_now`).
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
        age = _server_now(client, lock_name) - holder[1] if holder else 0.0
        if holder and age > stale_after and _delete_if_held_by(client, lock_name, holder[0]):
            continue  # that stale holding only was deleted, never a newer one: take the lock now
        if time.monotonic() > deadline:
            raise LockTimeout(_timeout_reason(client, lock_name, holder, age))
        time.sleep(0.2 + random.random() * 0.3)  # noqa: S311 - jitter, not cryptography
    try:
        yield
    finally:
        _release(client, lock_name, token)
