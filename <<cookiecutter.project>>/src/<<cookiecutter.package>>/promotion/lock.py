"""A promotion lock in the registry, so that two promotions of one model never interleave.

The lock is a registered model, `<model>.promotion-lock`, that lives as long as the production
model; its versions are a queue. A promotion joins the queue by creating a version, holds the
lock while its version is the lowest-numbered one left, and leaves by deleting it. This is
atomic because the store assigns version numbers: each is unique and higher than every version
that exists when it is created (SQLite, PostgreSQL or a tracking server alike), so all waiters
agree on one head and a newcomer always queues behind it. MLflow has no compare-and-set on
aliases; under this lock the alias moves need none.

On a server with users the MLflow admin creates the lock model and grants MANAGE on it (deleting
a version needs it) to the production credential alone: a user with no grant on it can neither
queue in it, rename it nor delete it, and as its name is taken nobody can rename another model
onto it. Where the registry reports it absent (a local store, a server without authentication),
the first promotion creates it.

A waiter updates its own version on every poll: that is its sign of life, and the update's
timestamp is the server's "now". A head that showed no sign of life for `stale_after` seconds,
on the server's clock alone, belonged to a killed process: a waiter deletes that version, and
the next in the queue holds the lock. Nothing but lock versions is ever deleted.

MLflow's HTTP client resends a request whose answer did not come back (a read timeout, a reset
connection), POSTs included, so one join can create two versions with the same token: the
earlier one, which nobody updates, would head the queue until stale and time out every
promotion meanwhile, this one included. A waiter therefore deletes a head that carries its own
token.
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
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from << cookiecutter.package >>.promotion.registry import RegistryError, access_denied, is_denied
from << cookiecutter.package >>.tracking import ensure_registered_model, is_absent

LOCK_SUFFIX = ".promotion-lock"
LOCK_SOURCE = "promotion-lock:/queue"  # a lock version has no artifacts; the server accepts this as its source
GRANTEE = "the production credential's user, and to no other"


class LockTimeout(RegistryError):
    """Another promotion of the same model held the lock for too long."""


def _denied_or(error: MlflowException, lock_name: str, doing: str) -> RegistryError:
    if is_denied(error):
        return access_denied(lock_name, "MANAGE", GRANTEE)
    return RegistryError(f"cannot {doing} the promotion lock {lock_name!r}: {error}")


def _join(client: MlflowClient, lock_name: str, token: str) -> ModelVersion:
    """Queue for the lock: a new version of the lock model, described by the holder's token."""

    def queue() -> ModelVersion:
        return client.create_model_version(lock_name, LOCK_SOURCE, description=token, await_creation_for=0)

    try:
        return queue()
    except MlflowException as error:
        if not is_absent(error):
            raise _denied_or(error, lock_name, "queue for") from error
    try:  # a registry that answers 404 for it (local, no authentication): its first promotion makes it
        ensure_registered_model(client, lock_name)
        return queue()
    except MlflowException as error:
        raise _denied_or(error, lock_name, "queue for") from error


def _removed(mine: ModelVersion) -> RegistryError:
    return RegistryError(f"this promotion's version {mine.version} of {mine.name!r} was broken as stale; retry")


def _queue(client: MlflowClient, mine: ModelVersion) -> list[ModelVersion]:
    """The lock's live versions, lowest (the holder) first; `mine` among them."""
    try:
        versions = client.search_model_versions(f"name = '{mine.name}'")
    except MlflowException as error:
        raise _denied_or(error, mine.name, "read") from error
    if mine.version not in {version.version for version in versions}:
        raise _removed(mine)
    return sorted(versions, key=lambda version: int(version.version))


def _heartbeat(client: MlflowClient, mine: ModelVersion) -> float:
    """Show that this waiter is alive; return now, in seconds, by the server's clock."""
    try:
        updated = client.update_model_version(mine.name, mine.version, description=mine.description)
    except MlflowException as error:
        if is_absent(error):
            raise _removed(mine) from error
        raise _denied_or(error, mine.name, "wait for") from error
    return updated.last_updated_timestamp / 1000


def _leave(client: MlflowClient, version: ModelVersion) -> None:
    """Delete a lock version; one already gone (a waiter broke it, or its holder left) is no error."""
    try:
        client.delete_model_version(version.name, version.version)
    except MlflowException as error:
        if not is_absent(error):
            raise _denied_or(error, version.name, "leave") from error


def _release(client: MlflowClient, mine: ModelVersion) -> None:
    """Leave the queue, holding or not; a failure to leave never hides why the lock was left."""
    try:
        _leave(client, mine)
    except RegistryError as error:
        print(f"warning: could not leave {mine.name!r} ({error}); that place is broken once stale")


def _wait_for_head(client: MlflowClient, mine: ModelVersion, timeout: float, stale_after: float) -> None:
    """Return once `mine` heads the queue; break heads that went stale; give up after `timeout`."""
    deadline = time.monotonic() + timeout
    now = mine.last_updated_timestamp / 1000
    while True:
        head = _queue(client, mine)[0]
        if head.version == mine.version:
            return
        if head.description == mine.description:  # this promotion's own place, from a resent join
            _leave(client, head)
            continue
        silent = now - head.last_updated_timestamp / 1000
        if silent > stale_after:
            _leave(client, head)  # that version only: no number below `mine` is issued again while it lives
            continue
        if time.monotonic() > deadline:
            raise LockTimeout(
                f"{mine.name!r} is held by {head.description} (version {head.version}, last sign of life "
                f"{silent:.0f}s ago); retry later: a holder that was killed is broken after {stale_after:.0f}s"
            )
        time.sleep(0.2 + random.random() * 0.3)  # noqa: S311 - jitter, not cryptography
        now = _heartbeat(client, mine)


@contextmanager
def alias_lock(
    client: MlflowClient, model_name: str, timeout: float = 120.0, stale_after: float = 600.0
) -> Iterator[None]:
    """Mutual exclusion for alias moves of one model, through the registry itself.

    Waits up to `timeout` seconds; a holder silent for `stale_after` seconds (killed) is broken.
    """
    lock_name = f"{model_name}{LOCK_SUFFIX}"
    mine = _join(client, lock_name, f"pid {os.getpid()} on {socket.gethostname()} ({uuid.uuid4().hex})")
    try:
        _wait_for_head(client, mine, timeout, stale_after)
        yield
    finally:
        _release(client, mine)
