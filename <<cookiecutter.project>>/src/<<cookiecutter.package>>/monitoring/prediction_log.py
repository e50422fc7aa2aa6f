"""A bounded, rotating sample of what the server saw and said: the input of `make drift`.

One JSON line per sampled row (`{"ts", "model_version", "features", "prediction"}`), appended
to a file that is rotated to `<name>.1` when it passes `max_bytes`, so the log never holds
more than twice that. Sampling keeps the cost per request at a few microseconds.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import TextIO


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


class PredictionLog:
    def __init__(self, path: Path, sample_rate: float = 1.0, max_bytes: int = 50_000_000) -> None:
        if not 0 <= sample_rate <= 1:
            raise ValueError(f"sample rate must be in [0, 1], got {sample_rate}")
        self.path, self.sample_rate, self.max_bytes = Path(path), sample_rate, max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = self.path.open("a", buffering=1)  # line-buffered: a crash loses at most a line
        self._random = random.Random()  # noqa: S311 - sampling, not security

    def record(self, columns: dict[str, list], predictions: list[str], model_version: str) -> None:
        """Append a sample of a checked batch ({column: values}) and its predicted labels."""
        now = round(time.time(), 3)
        for index, prediction in enumerate(predictions):
            if self.sample_rate < 1 and self._random.random() >= self.sample_rate:
                continue
            features = {column: values[index] for column, values in columns.items()}
            line = {"ts": now, "model_version": model_version, "features": features, "prediction": prediction}
            self._file.write(json.dumps(line) + "\n")
        if self._file.tell() >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, rotated(self.path))
        self._file = self.path.open("a", buffering=1)

    def close(self) -> None:
        self._file.close()
