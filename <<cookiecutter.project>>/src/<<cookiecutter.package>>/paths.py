"""Where the stages hand files to each other, named once.

A stage writes a report, the exported model or the prediction log here, and the next stage
(or CI, which reads the same paths) finds it here; no other module spells these names.
Standard library only, because the serving image carries this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GX_DIR = Path("gx")  # the Great Expectations project; suites under gx/expectations/
MODEL_DIR = Path("build/model")  # `make export` writes the served bundle here; the Dockerfile copies it
PREDICTION_LOG = Path("logs/predictions.jsonl")  # the server samples its traffic here; `make drift` reads it
LOCAL_SIGNING_KEY = Path(".signing/local.pem")  # a local registry's development signing key (git-ignored)

# The served bundle: exactly these files, written and parity-checked at training, registered as
# a version's files, scored by the gate, copied into the image and loaded by the server. The
# model digest (digest.py) and the signature cover these bytes and nothing else.
MODEL_FILE = "model.onnx"
PREPROCESSOR_FILE = "preprocessor.json"
METADATA_FILE = "metadata.json"
BUNDLE_FILES = (MODEL_FILE, PREPROCESSOR_FILE, METADATA_FILE)
# Beside an exported bundle (never inside it, so neither changes its digest): which registered
# version it is, and the bundle's signature.
RELEASE_SUFFIX = ".release.json"
SIGNATURE_SUFFIX = ".sig"
# The run artifacts of a training run: the served bundle (what a version registers) and the torch
# files (weights, architecture, preprocessor) kept for resuming and fine-tuning only.
SERVED_ARTIFACT = "served"
TORCH_ARTIFACT = "torch"


def release_file(bundle_dir: Path) -> Path:
    """`build/model.release.json` for `build/model`: name, version and lineage of the bundle."""
    return bundle_dir.with_name(bundle_dir.name + RELEASE_SUFFIX)


def signature_file(bundle_dir: Path) -> Path:
    """`build/model.sig` for `build/model`: the OpenSSF model signature of the bundle."""
    return bundle_dir.with_name(bundle_dir.name + SIGNATURE_SUFFIX)


class _Report:
    """One report file of a `Reports` directory: `reports.gate` is `reports.directory / "gate.json"`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, reports: Reports | None, owner: type) -> Path:
        return Path(self.name) if reports is None else reports.directory / self.name


@dataclass(frozen=True)
class Reports:
    """The machine-readable results of each stage, in one directory (`reports/` unless told)."""

    directory: Path = Path("reports")

    validation = _Report("validation.json")
    train = _Report("train.json")
    gate = _Report("gate.json")
    gate_markdown = _Report("gate.md")
    promotion = _Report("promote.json")
    rollback = _Report("rollback.json")
    drift = _Report("drift.json")
    drift_markdown = _Report("drift.md")
    drift_metrics = _Report("drift.prom")
    bench = _Report("bench.json")
    gate_bench = _Report("gate_bench.json")
    serve_bench = _Report("serve_bench.json")

    def write(self, path: Path, text: str) -> Path:
        """Write one report, creating the directory on first use."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path
