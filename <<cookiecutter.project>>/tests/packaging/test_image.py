"""The parts of the image builder that need no container engine."""

import pytest

from << cookiecutter.package >>.packaging.image import ImageError, detect_engine, parse_size


def test_image_engine_choice_and_size_parsing():
    with pytest.raises(ImageError, match="unknown container engine 'podman'"):
        detect_engine("podman")
    assert detect_engine("buildah") == "buildah"
    assert parse_size("307 MB") == 307_000_000
    assert parse_size("1.25GB") == 1_250_000_000
