"""A model version registered by the previous package layout still gates and exports.

The package moved from flat modules into subpackages. Projects upgraded with `make
update-template` keep their registry, whose champion was logged by the flat layout (its pyfunc
imports `<package>.mlflow_model`, which no longer exists). The pipeline reads a version as
data, so that champion must still be scored by the gate and exported by the current code.
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter
from mlflow import MlflowClient

from support.commands import make, tool_env
from support.template import DEFAULT_PACKAGE, TEMPLATE_DIR, render

pytestmark = pytest.mark.slow

# The last template commit with the flat package (`<package>/gate.py`, `mlflow_model.py`, ...).
FLAT_LAYOUT_COMMIT = "2fa495e27ed52404a091083f7f71b1acdc981200"


def _template_at(commit: str, destination: Path) -> Path:
    """The template as it was at `commit`, from this repository's own history."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=TEMPLATE_DIR, capture_output=True, check=False
    )
    if archive.returncode != 0:
        pytest.fail(
            f"commit {commit[:12]} is not in this clone ({archive.stderr.decode().strip()}): "
            "clone with full history (actions/checkout: fetch-depth: 0)"
        )
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(destination, filter="data")
    return destination


def test_a_version_of_the_flat_layout_is_gated_and_exported_by_the_current_one(tmp_path: Path, mlflow_db: str):
    env = tool_env(MLFLOW_TRACKING_URI=mlflow_db, MODEL_NAME="flat-layout-champion")
    flat_template = _template_at(FLAT_LAYOUT_COMMIT, tmp_path / "flat-template")
    old = Path(cookiecutter(str(flat_template), no_input=True, output_dir=str(tmp_path / "old")))
    assert (old / "src" / DEFAULT_PACKAGE / "mlflow_model.py").is_file(), "not the flat layout"
    make(old, "validate", "train", "gate", "promote", env=env)

    new = render(tmp_path / "new")
    assert not (new / "src" / DEFAULT_PACKAGE / "mlflow_model.py").exists()
    make(new, "validate", "train", env=env)
    gate = make(new, "gate", env=env, check=False)
    report = json.loads((new / "reports" / "gate.json").read_text())
    assert report["decision"] != "error", gate.stdout + gate.stderr
    assert (report["baseline_kind"], report["baseline_version"]) == ("champion", "1")
    champion_run = MlflowClient(tracking_uri=mlflow_db).get_model_version("flat-layout-champion", "1").run_id
    old_accuracy = MlflowClient(tracking_uri=mlflow_db).get_run(champion_run).data.metrics["eval_accuracy"]
    if report["metric"] == "accuracy":
        assert report["baseline_value"] == pytest.approx(old_accuracy)

    make(new, "export", env=env, MODEL_VERSION="1")
    metadata = json.loads((new / "build" / "model" / "metadata.json").read_text())
    assert (metadata["model_name"], metadata["model_version"], metadata["run_id"]) == (
        "flat-layout-champion",
        "1",
        champion_run,
    )
