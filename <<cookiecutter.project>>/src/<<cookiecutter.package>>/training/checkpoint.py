"""Per-epoch training checkpoints that survive a kill at any moment.

Written to a temporary file and renamed, so a kill during the write leaves the previous
checkpoint intact; `fingerprint` refuses a resume under different settings.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch


def checkpoint_path(directory: Path, model_name: str) -> Path:
    return Path(directory) / model_name / "last.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    os.replace(partial, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain values only: no code


def discard_checkpoint(path: Path) -> None:
    path.unlink(missing_ok=True)
