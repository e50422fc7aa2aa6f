"""Where the stages hand files to each other, named once.

A stage writes a report, the exported model or the prediction log here, and the next stage
(or CI, which reads the same paths) finds it here; no other module spells these names.
Standard library only, because the serving image carries this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GX_DIR = Path("gx")  # the Great Expectations project; suites under gx/expectations/
MODEL_DIR = Path("build/model")  # `make export` writes the served model here; the Dockerfile copies it
PREDICTION_LOG = Path("logs/predictions.jsonl")  # the server samples its traffic here; `make drift` reads it

# The files of an exported model (MODEL_DIR); the preprocessor file also sits in a trained bundle.
MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"
PREPROCESSOR_FILE = "preprocessor.json"
# Where a registered MLflow version keeps the trained bundle's data files (weights, architecture,
# preprocessor): the only part of a version the pipeline reads.
REGISTERED_BUNDLE = "artifacts/bundle"


@dataclass(frozen=True)
class Reports:
    """The machine-readable results of each stage, in one directory (`reports/` unless told)."""

    directory: Path = Path("reports")

    def _file(self, name: str) -> Path:
        return self.directory / name

    @property
    def validation(self) -> Path:
        return self._file("validation.json")

    @property
    def train(self) -> Path:
        return self._file("train.json")

    @property
    def gate(self) -> Path:
        return self._file("gate.json")

    @property
    def gate_markdown(self) -> Path:
        return self._file("gate.md")

    @property
    def promotion(self) -> Path:
        return self._file("promote.json")

    @property
    def drift(self) -> Path:
        return self._file("drift.json")

    @property
    def drift_markdown(self) -> Path:
        return self._file("drift.md")

    @property
    def drift_metrics(self) -> Path:
        return self._file("drift.prom")

    @property
    def bench(self) -> Path:
        return self._file("bench.json")

    @property
    def serve_bench(self) -> Path:
        return self._file("serve_bench.json")

    def write(self, path: Path, text: str) -> Path:
        """Write one report, creating the directory on first use."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path
