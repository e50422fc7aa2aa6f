"""What a registry writer cannot do to the pipeline: run code in it, or swap the model it ships.

Whoever can write a version's artifacts controls its pyfunc code and its files. The gate,
promotion and export read only the bundle's data files and check them against the digest
recorded at training, so a trap in the code never fires and changed files are refused.
"""

import json
from pathlib import Path

import mlflow
import pytest

from << cookiecutter.package >>.digest import DIGEST_TAG, bundle_digest
from << cookiecutter.package >>.packaging.export import export_model
from << cookiecutter.package >>.paths import REGISTERED_BUNDLE
from << cookiecutter.package >>.promotion import promote as promote_module
from << cookiecutter.package >>.promotion.gate import run_gate
from << cookiecutter.package >>.promotion.promote import PromotionRefused, promote
from << cookiecutter.package >>.promotion.registry import (
    CHAMPION,
    DigestMismatch,
    RegistryError,
    alias_version,
    download_bundle,
)
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training.model import ARCHITECTURE_FILE, WEIGHTS_FILE
from << cookiecutter.package >>.training.train import train
from << cookiecutter.package >>.validation.report import run_validation

TRAP = """
import pathlib

import mlflow

pathlib.Path({marker!r}).write_text("registry code ran")


class Trap(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input


mlflow.models.set_model(Trap())
"""


def _bundle_files(params, version: str) -> Path:
    """Where the candidates model keeps the bundle of `version` on this machine's artifact store."""
    uri = connect(params).get_model_version_download_uri(params.model.candidates, version)
    return Path(uri.removeprefix("file://")) / REGISTERED_BUNDLE


@pytest.fixture
def gated(quick, reports):
    """A trained candidate the gate said promote for (against the naive baseline)."""
    assert run_validation(quick, reports)
    trained = train(quick, reports)
    assert run_gate(quick, reports).decision == "promote"
    return trained


def test_a_candidate_changed_after_the_gate_is_not_promoted(quick, reports, gated):
    weights = _bundle_files(quick, gated.model_version) / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes() + b"\0")  # one byte appended after the gate scored it

    with pytest.raises(PromotionRefused) as refused:
        promote(quick, reports)
    assert gated.model_digest in str(refused.value), "the message names the digest recorded at training"
    client = connect(quick)
    assert alias_version(client, quick.model.name, CHAMPION) is None, "nothing may move"
    assert client.search_model_versions(f"name='{quick.model.name}'") == []
    assert not reports.promotion.exists()


class _RogueWriter:
    """A client beside which another writer, outside the promotion lock, removes the champion
    alias right after promotion sets it."""

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    def set_registered_model_alias(self, name, alias, version):
        self._client.set_registered_model_alias(name, alias, version)
        if alias == CHAMPION:
            self._client.delete_registered_model_alias(name, CHAMPION)


def test_promotion_reads_the_aliases_back_and_fails_when_another_writer_moved_them(quick, reports, gated, monkeypatch):
    monkeypatch.setattr(promote_module, "connect", lambda params: _RogueWriter(connect(params)))
    with pytest.raises(RegistryError, match="another writer moved them"):
        promote(quick, reports)
    assert not reports.promotion.exists(), "no promotion record for a champion that is not in place"


def test_a_gated_digest_that_no_longer_matches_names_both(quick, reports, gated):
    gate = json.loads(reports.gate.read_text())
    reports.write(reports.gate, json.dumps({**gate, "candidate_digest": "sha256:" + "0" * 64}))
    with pytest.raises(PromotionRefused, match="sha256:0{64}.*" + gated.model_digest):
        promote(quick, reports)
    assert alias_version(connect(quick), quick.model.name, CHAMPION) is None


def test_export_refuses_a_production_version_whose_files_changed(quick, reports, gated, tmp_path):
    version = promote(quick, reports)
    export_model(quick, version=version, directory=tmp_path / "model")
    exported = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert exported["model_digest"] == gated.model_digest

    architecture = _bundle_files(quick, gated.model_version) / ARCHITECTURE_FILE
    architecture.write_text(architecture.read_text().replace("\n", "\n ", 1))  # same model, other bytes
    with pytest.raises(DigestMismatch, match=gated.model_digest):
        export_model(quick, version=version, directory=tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_code_stored_in_the_registry_never_runs(quick, reports, tmp_path):
    """A version whose pyfunc code writes a marker when loaded: gate, promote and export use its
    data and never load the code; MLflow's own loader shows the trap is armed."""
    assert run_validation(quick, reports)
    honest = train(quick, reports)
    client = connect(quick)
    bundle = download_bundle(client, quick.model.candidates, honest.model_version, tmp_path / "honest")
    marker = tmp_path / "marker"
    trap = tmp_path / "trap.py"
    trap.write_text(TRAP.format(marker=str(marker)))
    mlflow.set_experiment(quick.mlflow.experiment)
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(trap),
            artifacts={Path(REGISTERED_BUNDLE).name: str(bundle)},
            registered_model_name=quick.model.candidates,
        )
    version = str(info.registered_model_version)
    client.set_model_version_tag(quick.model.candidates, version, "eval_data_hash", honest.eval_data_hash)
    client.set_model_version_tag(quick.model.candidates, version, DIGEST_TAG, bundle_digest(bundle))
    marker.unlink(missing_ok=True)  # logging a models-from-code file runs it once, here

    assert run_gate(quick, reports, version).decision == "promote"
    production = promote(quick, reports)
    export_model(quick, version=production, directory=tmp_path / "model")
    assert not marker.exists(), "the pipeline ran code stored in the registry"

    mlflow.pyfunc.load_model(f"models:/{quick.model.candidates}/{version}")
    assert marker.exists(), "the trap never fires: this test proves nothing"
