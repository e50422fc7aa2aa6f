"""A bounded, rotating sample of what the server saw and said: the input of `make drift`.

One JSON line per sampled row (`{"ts", "model_version", "features", "prediction"}`), appended
to a file that is rotated to `<name>.1` when it passes `max_bytes`, so the log never holds
more than twice that. Sampling keeps the cost per request at a few microseconds.

Each client (source address) may add at most `ClientQuota.rows` rows per window: the log is the
drift check's view of real traffic, and one caller replaying a crafted payload must not be able
to make it up alone (which would hide drift, or raise a false alarm).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


@dataclass
class ClientQuota:
    """At most `rows` logged rows per client per fixed window of `window_s` seconds. The counts
    are dropped at each new window, so memory grows with the clients of one window only."""

    rows: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _window_start: float = field(default=-float("inf"), init=False)
    _used: dict[str, int] = field(default_factory=dict, init=False)

    def take(self, client: str, wanted: int) -> int:
        """How many of `wanted` rows `client` may still log in this window (and count them as used)."""
        if self.clock() - self._window_start >= self.window_s:
            self._window_start, self._used = self.clock(), {}
        granted = min(wanted, self.rows - self._used.get(client, 0))
        self._used[client] = self._used.get(client, 0) + granted
        return granted


class PredictionLog:
    def __init__(
        self, path: Path, sample_rate: float = 1.0, max_bytes: int = 50_000_000, quota: ClientQuota | None = None
    ) -> None:
        if not 0 <= sample_rate <= 1:
            raise ValueError(f"sample rate must be in [0, 1], got {sample_rate}")
        self.path, self.sample_rate, self.max_bytes = Path(path), sample_rate, max_bytes
        self.quota = quota  # None: every sampled row is logged (tests, a trusted caller)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", buffering=1)  # line-buffered: a crash loses at most a line
        self._random = random.Random()  # noqa: S311 - sampling, not security

    def record(
        self, columns: dict[str, list], predictions: list[str] | list[float], model_version: str, client: str = ""
    ) -> None:
        """Append a sample of a checked batch ({column: values}) and its predicted labels, within
        what the client's quota has left."""
        now = round(time.time(), 3)
        sampled = [index for index in range(len(predictions)) if self._sampled()]
        allowed = self.quota.take(client, len(sampled)) if self.quota else len(sampled)
        for index in sampled[:allowed]:
            prediction = predictions[index]
            features = {column: values[index] for column, values in columns.items()}
            line = {"ts": now, "model_version": model_version, "features": features, "prediction": prediction}
            self._file.write(json.dumps(line) + "\n")
        if self._file.tell() >= self.max_bytes:
            self._rotate()

    def _sampled(self) -> bool:
        return self.sample_rate >= 1 or self._random.random() < self.sample_rate

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, rotated(self.path))
        self._file = self.path.open("a", buffering=1)

    def close(self) -> None:
        self._file.close()
