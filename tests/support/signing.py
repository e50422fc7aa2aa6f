"""A model-signing key pair for the tests, made once per process: what a team keeps as the
production environment's secret MODEL_SIGNING_KEY and the variable MODEL_SIGNING_PUBLIC_KEY."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

_KEY = ec.generate_private_key(ec.SECP256R1())
SIGNING_KEY_PEM = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_KEY_PEM = (
    _KEY.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
)
