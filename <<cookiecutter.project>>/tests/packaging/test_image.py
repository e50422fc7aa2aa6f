"""The parts of the image builder that need no container engine."""

import json
import re

import pytest

from << cookiecutter.package >>.packaging.image import (
    ImageError,
    detect_engine,
    image_tag,
    parse_size,
    pinned_python_base,
    public_url,
)
from << cookiecutter.package >>.paths import MODEL_DIR, release_file
from tests.helpers import PROJECT_ROOT


def test_image_engine_choice_and_size_parsing():
    with pytest.raises(ImageError, match="unknown container engine 'podman'"):
        detect_engine("podman")
    assert detect_engine("buildah") == "buildah"
    assert parse_size("307 MB") == 307_000_000
    assert parse_size("1.25GB") == 1_250_000_000


@pytest.mark.parametrize(
    ("metadata", "tag"),
    [
        ({"model_name": "m", "model_version": "1", "candidate_version": "3"}, "img:model-3"),  # a promoted copy
        ({"model_name": "m-candidates", "model_version": "3", "candidate_version": "3"}, "img:model-3"),  # staged
        ({"model_name": "m", "model_version": "2", "candidate_version": None}, "img:model-2"),  # before candidates
    ],
)
def test_one_model_keeps_one_tag_before_and_after_promotion(tmp_path, metadata, tag):
    (tmp_path / MODEL_DIR).mkdir(parents=True)
    release_file(tmp_path / MODEL_DIR).write_text(json.dumps(metadata))
    assert image_tag("img", tmp_path) == tag


@pytest.mark.parametrize(
    ("remote", "label"),
    [
        (
            "https://ci:ghp_s3cret@github.com/acme/model.git",  # pragma: allowlist secret
            "https://github.com/acme/model.git",
        ),
        (
            "https://oauth2:tok@en@gitlab.example.com:8443/a/b",  # pragma: allowlist secret
            "https://gitlab.example.com:8443/a/b",
        ),
        ("https://github.com/acme/model.git", "https://github.com/acme/model.git"),
        ("git@github.com:acme/model.git", "git@github.com:acme/model.git"),  # scp form: a user, no secret
        ("", ""),
    ],
)
def test_the_source_label_never_carries_credentials(remote, label):
    assert public_url(remote) == label


def test_the_image_is_built_on_the_digest_pinned_python_base(tmp_path):
    """`make image` passes the python-base stage's reference, so the base label names the digest."""
    reference = pinned_python_base(PROJECT_ROOT / "Dockerfile")
    assert re.fullmatch(r"python:3\.1\d-slim-bookworm@sha256:[0-9a-f]{64}", reference)
    unpinned = tmp_path / "Dockerfile"
    unpinned.write_text("FROM python:3.12-slim-bookworm AS python-base\n")
    with pytest.raises(ImageError, match="pin the base by digest"):
        pinned_python_base(unpinned)
