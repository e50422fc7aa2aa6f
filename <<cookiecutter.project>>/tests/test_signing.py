"""Model signatures over a served bundle: what verifies, and what each refusal names."""

import shutil
import tempfile

import pytest

from << cookiecutter.package >>.paths import signature_file
from << cookiecutter.package >>.signing import SignatureError, sign_bundle, trust_configured, verify_bundle


@pytest.fixture
def signed(exported, tmp_path, signing_keys):
    """A copy of the test bundle, signed with the session's key pair; the verifier's environment."""
    bundle = shutil.copytree(exported, tmp_path / "model")
    assert sign_bundle(bundle, signature_file(bundle), {"MODEL_SIGNING_KEY": str(signing_keys.private)}) == "key"
    return bundle, {"MODEL_SIGNING_PUBLIC_KEY": str(signing_keys.public)}


def test_a_signed_bundle_verifies(signed):
    bundle, trust = signed
    assert trust_configured(trust) and not trust_configured({})
    assert verify_bundle(bundle, signature_file(bundle), trust) == "the configured public key"


@pytest.mark.parametrize("name", ["model.onnx", "preprocessor.json", "metadata.json"])
def test_a_flipped_byte_names_the_file(signed, name):
    bundle, trust = signed
    data = bytearray((bundle / name).read_bytes())
    data[len(data) // 2] ^= 0x01
    (bundle / name).write_bytes(bytes(data))
    with pytest.raises(SignatureError, match=f"{name} differs from what was signed"):
        verify_bundle(bundle, signature_file(bundle), trust)


def test_a_missing_file_is_named(signed):
    bundle, trust = signed
    (bundle / "metadata.json").unlink()
    with pytest.raises(SignatureError, match="metadata.json differs from what was signed"):
        verify_bundle(bundle, signature_file(bundle), trust)


def test_unsigned_another_signer_and_no_signer_are_refused(signed, tmp_path):
    bundle, trust = signed
    other = tmp_path / "other.pem"
    sign_bundle(bundle, tmp_path / "other.sig", {}, local_key=other)  # a development key: another signer
    with pytest.raises(SignatureError, match="fails its signature"):
        verify_bundle(bundle, tmp_path / "other.sig", trust)
    with pytest.raises(SignatureError, match="unsigned"):
        verify_bundle(bundle, tmp_path / "missing.sig", trust)
    with pytest.raises(SignatureError, match="no trusted signer configured"):
        verify_bundle(bundle, signature_file(bundle), {})
    with pytest.raises(SignatureError, match="MODEL_SIGNING_KEY"):
        sign_bundle(bundle, tmp_path / "none.sig", {})


def test_a_key_given_as_pem_text_leaves_no_copy_behind(signed, tmp_path, monkeypatch, signing_keys):
    """A CI secret holds the key's text: it is written to a file only while model_signing reads it."""
    bundle, _ = signed
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    private, public = signing_keys.private.read_text(), signing_keys.public.read_text()
    sign_bundle(bundle, tmp_path / "text.sig", {"MODEL_SIGNING_KEY": private})
    verify_bundle(bundle, tmp_path / "text.sig", {"MODEL_SIGNING_PUBLIC_KEY": public})
    assert list(scratch.iterdir()) == [], "the key's text was left on disk"
