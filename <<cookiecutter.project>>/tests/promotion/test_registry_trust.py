"""What a registry writer cannot do to the pipeline: swap the model that ships, or reach production.

The candidate credential can rewrite a candidate version's files and tags. The gate's report
carries the digest of the bytes it scored; export and promotion accept no others. Promotion
copies those bytes into the production experiment, so rewriting the candidate afterwards
changes nothing that production serves or that a later gate scores as the champion.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from << cookiecutter.package >>.digest import DIGEST_TAG, bundle_digest
from << cookiecutter.package >>.packaging.export import ExportError, export_model
from << cookiecutter.package >>.paths import BUNDLE_FILES, MODEL_FILE, release_file, signature_file
from << cookiecutter.package >>.promotion import promote as promote_module
from << cookiecutter.package >>.promotion.gate import run_gate
from << cookiecutter.package >>.promotion.promote import PromotionRefused, promote
from << cookiecutter.package >>.promotion.registry import CHAMPION, DigestMismatch, RegistryError, alias_version
from << cookiecutter.package >>.serving.app import create_app
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training.train import train
from << cookiecutter.package >>.validation.report import run_validation
from tests.helpers import PROJECT_ROOT, running

pytestmark = pytest.mark.slow


def _files(params, model: str, version: str) -> Path:
    """Where a version's bundle lies on this machine's artifact store."""
    uri = connect(params).get_model_version_download_uri(model, version)
    return Path(uri.removeprefix("file://"))


def _swap(params, model: str, version: str) -> str:
    """What an attacker with write access to a version's files does: other bytes, and the digest
    tag rewritten to match them; returns the new digest."""
    files = _files(params, model, version)
    (files / MODEL_FILE).write_bytes((files / MODEL_FILE).read_bytes() + b"\0")
    digest = bundle_digest(files)
    connect(params).set_model_version_tag(model, version, DIGEST_TAG, digest)
    return digest


@pytest.fixture
def gated(quick, reports):
    """A trained candidate the gate said promote for (against the naive baseline)."""
    assert run_validation(quick, reports)
    trained = train(quick, reports)
    assert run_gate(quick, reports).decision == "promote"
    return trained


def test_a_version_holds_exactly_the_served_bundle(quick, gated):
    files = _files(quick, quick.model.candidates, gated.model_version)
    assert sorted(path.name for path in files.iterdir()) == sorted(BUNDLE_FILES), "no code, no torch files"
    assert bundle_digest(files) == gated.model_digest


def test_a_candidate_changed_after_the_gate_is_not_promoted(quick, reports, gated):
    weights = _files(quick, quick.model.candidates, gated.model_version) / MODEL_FILE
    weights.write_bytes(weights.read_bytes() + b"\0")  # one byte appended after the gate scored it

    with pytest.raises(PromotionRefused) as refused:
        promote(quick, reports)
    assert gated.model_digest in str(refused.value), "the message names the digest recorded at training"
    client = connect(quick)
    assert alias_version(client, quick.model.name, CHAMPION) is None, "nothing may move"
    assert client.search_model_versions(f"name='{quick.model.name}'") == []
    assert not reports.promotion.exists()


def test_a_candidate_swapped_with_its_tag_is_neither_exported_nor_promoted(quick, reports, gated, tmp_path):
    swapped = _swap(quick, quick.model.candidates, gated.model_version)
    with pytest.raises(ExportError, match=f"{swapped}.*{gated.model_digest}"):
        export_model(quick, reports, candidate=gated.model_version, directory=tmp_path / "model")
    assert not (tmp_path / "model").exists()
    with pytest.raises(PromotionRefused, match=gated.model_digest):
        promote(quick, reports)
    assert alias_version(connect(quick), quick.model.name, CHAMPION) is None


def test_promotion_refuses_an_image_of_other_bytes(quick, reports, gated):
    with pytest.raises(PromotionRefused, match="built from other bytes"):
        promote(quick, reports, "sha256:" + "1" * 64, "sha256:" + "2" * 64)
    with pytest.raises(PromotionRefused, match="IMAGE_MODEL_DIGEST"):
        promote(quick, reports, "sha256:" + "1" * 64)
    assert alias_version(connect(quick), quick.model.name, CHAMPION) is None


def test_production_bytes_are_a_signed_copy_that_candidate_writes_cannot_reach(quick, reports, gated, tmp_path):
    version = promote(quick, reports, "sha256:" + "1" * 64, gated.model_digest)
    production = _files(quick, quick.model.name, version)
    candidate = _files(quick, quick.model.candidates, gated.model_version)
    assert production.parent != candidate.parent, "production reads its own copy, not the candidate's files"
    tags = connect(quick).get_model_version(quick.model.name, version).tags
    assert "gate.digest" not in tags and tags[DIGEST_TAG] == gated.model_digest, "lineage tags only"

    _swap(quick, quick.model.candidates, gated.model_version)  # after the promotion: production is untouched
    digest = export_model(quick, reports, version=version, directory=tmp_path / "model")
    assert digest == gated.model_digest
    assert json.loads(release_file(tmp_path / "model").read_text())["model_digest"] == gated.model_digest
    assert signature_file(tmp_path / "model").is_file()


def test_export_refuses_a_production_version_whose_files_changed(quick, reports, gated, tmp_path):
    version = promote(quick, reports)
    metadata = _files(quick, quick.model.name, version) / "metadata.json"
    metadata.write_text(metadata.read_text().replace("\n", "\n ", 1))  # same model, other bytes
    with pytest.raises(DigestMismatch, match=gated.model_digest):
        export_model(quick, reports, version=version, directory=tmp_path / "again")
    assert not (tmp_path / "again").exists()


def test_a_flipped_byte_in_a_signed_bundle_stops_the_server(quick, reports, gated, tmp_path, monkeypatch, signing_keys):
    version = promote(quick, reports)
    monkeypatch.setenv("MODEL_SIGNING_PUBLIC_KEY", str(signing_keys.public))
    model = tmp_path / "model"
    export_model(quick, reports, version=version, directory=model)  # verifies the signature
    with running(create_app(model)) as url:
        assert url

    onnx = bytearray((model / MODEL_FILE).read_bytes())
    onnx[len(onnx) // 2] ^= 0x01
    (model / MODEL_FILE).write_bytes(bytes(onnx))
    started = _start_server(model)
    assert started.returncode != 0 and f"{MODEL_FILE} differs from what was signed" in started.stderr, started.stderr
    signature_file(model).unlink()
    started = _start_server(model)
    assert started.returncode != 0 and "unsigned" in started.stderr, started.stderr


def _start_server(model: Path) -> subprocess.CompletedProcess:
    """`python -m <package>.serving.app` as the image starts it; it must exit on its own."""
    command = [sys.executable, "-m", "<< cookiecutter.package >>.serving.app", "--model-dir", str(model), "--port", "0"]
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, env=environment)


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
