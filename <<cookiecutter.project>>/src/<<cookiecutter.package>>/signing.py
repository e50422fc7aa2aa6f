"""OpenSSF model signatures over the served bundle: promotion signs, the image build and the
server's start verify, so a production model is provably the bytes the default branch gated.

Who signs is set by the environment, never by params.yaml (a pull request edits that):
  MODEL_SIGNING_KEY         an EC private key (a PEM file, or its text): local promotions and tests
  (GitHub Actions)          keyless Sigstore with the job's OIDC token (the promote job has id-token: write)
Who is trusted when verifying:
  MODEL_SIGNING_PUBLIC_KEY  the EC public key of that pair
  MODEL_SIGNING_IDENTITY    the signing workflow's identity (its job_workflow_ref URL), with
  MODEL_SIGNING_ISSUER      the OIDC issuer (default: GitHub Actions')
The signature covers every file of the bundle's directory (the release file and the signature
sit beside it, not in it); a bundle with no signature, an extra or altered file, or another
signer is refused, and the message names the file. model_signing is imported only when used.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from << cookiecutter.package >>.paths import signature_file

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
# The file model_signing's error names, however the message quotes it
_FILE_IN_ERROR = re.compile(
    r"(?:Hash mismatch for|Missing files in model [^:]*:|Extra files[^:]*:)\s*\\?['\"]?([\w./-]+)"
)


class SignatureError(RuntimeError):
    """The bundle is unsigned, altered, or signed by someone not trusted; it must not be served."""


def sign_bundle(
    bundle_dir: Path, signature: Path, environ: Mapping[str, str] = os.environ, local_key: Path | None = None
) -> str:
    """Sign the bundle's files into `signature`; return how it was signed (for the report).

    `local_key` (a local registry only): with no signer configured, sign with a development key
    pair kept there, made on first use, so a laptop's first promotion needs no set-up.
    """
    from model_signing import signing

    config = signing.Config()
    if environ.get("MODEL_SIGNING_KEY"):
        with key_file(environ["MODEL_SIGNING_KEY"]) as private:
            config.use_elliptic_key_signer(private_key=private)
        method = "key"
    elif environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"):
        config.use_sigstore_signer(use_ambient_credentials=True)
        method = "sigstore"
    elif local_key is not None:
        config.use_elliptic_key_signer(private_key=development_key(local_key))
        method = "key"
    else:
        raise SignatureError(
            "promotion signs every production bundle: set MODEL_SIGNING_KEY to an EC private key (PEM), "
            "or promote from GitHub Actions with `id-token: write` (keyless Sigstore)"
        )
    signature.parent.mkdir(parents=True, exist_ok=True)
    config.sign(bundle_dir, signature)
    return _certificate_identity(signature) if method == "sigstore" else method


def _certificate_identity(signature: Path) -> str:
    """The signer identity a keyless signature's certificate names (the workflow's URL): what a
    verifier must trust, so `make promote` reports it and the release image fixes it."""
    from cryptography import x509

    bundle = json.loads(signature.read_text())
    der = base64.b64decode(bundle["verificationMaterial"]["certificate"]["rawBytes"])
    names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return next(iter(names.value.get_values_for_type(x509.UniformResourceIdentifier)), "sigstore")


def trust_configured(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether a trusted signer is set: then every bundle must carry its valid signature."""
    return bool(environ.get("MODEL_SIGNING_PUBLIC_KEY") or environ.get("MODEL_SIGNING_IDENTITY"))


def verify_bundle(bundle_dir: Path, signature: Path, environ: Mapping[str, str] = os.environ) -> str:
    """Raise SignatureError unless `signature` covers exactly the bundle's bytes and comes from
    the trusted signer; return who that is."""
    from model_signing import verifying

    if not signature.is_file():
        raise SignatureError(
            f"{signature} missing: the bundle in {bundle_dir} is unsigned; only promoted models are served"
        )
    config = verifying.Config()
    if environ.get("MODEL_SIGNING_PUBLIC_KEY"):
        with key_file(environ["MODEL_SIGNING_PUBLIC_KEY"]) as public:
            config.use_elliptic_key_verifier(public_key=public)
        signer = "the configured public key"
    elif environ.get("MODEL_SIGNING_IDENTITY"):
        issuer = environ.get("MODEL_SIGNING_ISSUER", GITHUB_ISSUER)
        config.use_sigstore_verifier(identity=environ["MODEL_SIGNING_IDENTITY"], oidc_issuer=issuer)
        signer = environ["MODEL_SIGNING_IDENTITY"]
    else:
        raise SignatureError(
            "no trusted signer configured: set MODEL_SIGNING_PUBLIC_KEY (a key pair) or MODEL_SIGNING_IDENTITY "
            "(keyless: the promote workflow's identity) to verify the bundle's signature"
        )
    try:
        config.verify(bundle_dir, signature)
    except Exception as error:  # noqa: BLE001 - model_signing raises ValueError and sigstore's own errors
        files = sorted(set(_FILE_IN_ERROR.findall(str(error))))
        which = f"{', '.join(files)} differs from what was signed" if files else str(error).splitlines()[0]
        raise SignatureError(f"the bundle in {bundle_dir} fails its signature: {which}; refusing it") from None
    return signer


def development_key(private: Path) -> Path:
    """The local development key pair (`private`, and its public key beside it as `.pub.pem`),
    made on first use and said so: verify with MODEL_SIGNING_PUBLIC_KEY=<that public key>."""
    if not private.is_file():
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        key, pem = ec.generate_private_key(ec.SECP256R1()), serialization.Encoding.PEM
        private.parent.mkdir(parents=True, exist_ok=True)
        private.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        private.chmod(0o600)
        public = key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
        private.with_suffix(".pub.pem").write_bytes(public)
        print(f"made a development signing key {private} (public key beside it); never for production")
    return private


@contextmanager
def key_file(value: str) -> Iterator[Path]:
    """A key given as a file path, or as the PEM text itself (how a CI secret holds it), as a file
    for the length of the block: PEM text goes into a private temporary directory, removed after
    (model_signing reads the key when it is configured)."""
    if not value.lstrip().startswith("-----BEGIN"):
        yield Path(value)
        return
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "key.pem"
        path.write_text(value)
        yield path


def main(argv: list[str] | None = None) -> int:
    """`python -m <package>.signing BUNDLE_DIR`: verify as the server would (the release image's build)."""
    bundle_dir = Path((argv if argv is not None else sys.argv[1:])[0])
    try:
        print(f"{bundle_dir}: signature verified ({verify_bundle(bundle_dir, signature_file(bundle_dir))})")
    except SignatureError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
