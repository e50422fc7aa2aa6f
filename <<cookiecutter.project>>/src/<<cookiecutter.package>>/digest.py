"""One sha256 for a model's files, so every stage can prove it handles the model the gate scored.

Training records it on the candidate version, the gate recomputes it from what it downloads,
promotion copies the version only while it still matches, export refuses a mismatch and the
image carries it as a label. Registry artifacts are mutable; this digest is what is not.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DIGEST_TAG = "model.digest"  # the version tag that records it


def bundle_digest(directory: Path) -> str:
    """`sha256:<hex>` over every file under `directory`: relative paths and contents, in path order."""
    outer = hashlib.sha256()
    files = sorted(path for path in Path(directory).rglob("*") if path.is_file())
    if not files:
        raise FileNotFoundError(f"{directory} holds no files: nothing to digest")
    for path in files:
        inner = hashlib.sha256(path.read_bytes()).hexdigest()
        outer.update(f"{path.relative_to(directory).as_posix()}\0{inner}\n".encode())
    return f"sha256:{outer.hexdigest()}"
