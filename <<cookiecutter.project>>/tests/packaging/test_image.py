"""The parts of the image builder that need no container engine."""

import json

import pytest

from << cookiecutter.package >>.packaging.image import ImageError, detect_engine, image_tag, parse_size, public_url
from << cookiecutter.package >>.paths import METADATA_FILE, MODEL_DIR


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
    (tmp_path / MODEL_DIR / METADATA_FILE).write_text(json.dumps(metadata))
    assert image_tag("img", tmp_path) == tag


@pytest.mark.parametrize(
    ("remote", "label"),
    [
        ("https://ci:ghp_s3cret@github.com/acme/model.git", "https://github.com/acme/model.git"),
        ("https://oauth2:tok@en@gitlab.example.com:8443/a/b", "https://gitlab.example.com:8443/a/b"),
        ("https://github.com/acme/model.git", "https://github.com/acme/model.git"),
        ("git@github.com:acme/model.git", "git@github.com:acme/model.git"),  # scp form: a user, no secret
        ("", ""),
    ],
)
def test_the_source_label_never_carries_credentials(remote, label):
    assert public_url(remote) == label
