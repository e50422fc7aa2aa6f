"""One sha256 for the served bundle, so every stage can prove it handles the bytes the gate scored.

Training computes it over the bundle it registers, the gate over what it downloads and scores
(its report carries it on), the image build and promotion refuse any other value, and the
image label and the server's metadata show it. Registry tags are writable by whoever trains;
this digest, recomputed from the bytes, is what they cannot fake.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from << cookiecutter.package >>.paths import BUNDLE_FILES

DIGEST_TAG = "model.digest"  # the version tag that records it (informational: always recomputed)


def bundle_digest(directory: Path) -> str:
    """`sha256:<hex>` over the bundle's files (names and contents, in a fixed order): exactly
    those the server loads, so a stray file beside them changes nothing that is served."""
    outer = hashlib.sha256()
    for name in BUNDLE_FILES:
        path = Path(directory) / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: a served bundle holds {', '.join(BUNDLE_FILES)}")
        outer.update(f"{name}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n".encode())
    return f"sha256:{outer.hexdigest()}"
