"""A champion registered by an earlier release (the flat package layout, torch files only) is
carried over: `make migrate-champion` publishes it as a signed served bundle, which the gate
then scores and `make export` ships.

Projects upgraded with `make update-template` keep their registry, whose champion was logged by
the flat layout as torch weights beside a pyfunc that imports modules which no longer exist.
The gate scores served bundles with ONNX Runtime alone, so the champion is exported once with
the current code (checked against torch on the project's data) and published like a promotion.
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


def test_a_champion_of_the_flat_layout_is_migrated_then_gated_and_exported(tmp_path: Path, mlflow_db: str):
    env = tool_env(MLFLOW_TRACKING_URI=mlflow_db, MODEL_NAME="flat-layout-champion")
    flat_template = _template_at(FLAT_LAYOUT_COMMIT, tmp_path / "flat-template")
    old = Path(cookiecutter(str(flat_template), no_input=True, output_dir=str(tmp_path / "old")))
    assert (old / "src" / DEFAULT_PACKAGE / "mlflow_model.py").is_file(), "not the flat layout"
    make(old, "validate", "train", "gate", "promote", env=env)

    new = render(tmp_path / "new")
    assert not (new / "src" / DEFAULT_PACKAGE / "mlflow_model.py").exists()
    make(new, "validate", "train", env=env)
    unmigrated = make(new, "gate", env=env, check=False)
    assert unmigrated.returncode == 2, "a champion of torch files cannot be scored: the gate fails closed"
    assert "holds torch files only" in unmigrated.stdout + unmigrated.stderr

    make(new, "migrate-champion", env=env)
    client = MlflowClient(tracking_uri=mlflow_db)
    migrated = client.get_model_version_by_alias("flat-layout-champion", "champion")
    assert (str(migrated.version), migrated.tags["migrated.from_version"]) == ("2", "1")
    make(new, "gate", env=env, check=False)
    report = json.loads((new / "reports" / "gate.json").read_text())
    assert report["decision"] != "error", report["reason"]
    assert (report["baseline_kind"], report["baseline_version"]) == ("champion", "2")
    old_accuracy = client.get_run(client.get_model_version("flat-layout-champion", "1").run_id).data.metrics
    if report["metric"] == "accuracy":
        assert report["baseline_value"] == pytest.approx(old_accuracy["eval_accuracy"])

    make(new, "export", env=env)
    release = json.loads((new / "build" / "model.release.json").read_text())
    assert (release["model_name"], release["model_version"]) == ("flat-layout-champion", "2")
    assert release["model_digest"] == migrated.tags["model.digest"]
