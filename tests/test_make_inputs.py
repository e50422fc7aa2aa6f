"""Make variables are data, never Make or shell syntax, whoever sets them (a user, CI inputs).

A rendered project's targets run for real with PYTHON= (and UV=) a stand-in that prints its
arguments one per line: an injected command would create the marker file. A value of a fixed
form (versions, the image digest, EXTRAS, NPROC, TORCH_BUILD) that is not of that form stops
make before any recipe runs, with an error naming the variable and the form; any other value
reaches the program as one argument, exactly as given.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.commands import run, tool_env

# (target, variable, injection that breaks out of the recipe as the Makefile pasted it before,
# a fragment of the form the error must name)
CHECKED = [
    ("gate", "CANDIDATE", "7; touch {marker} #", "^[0-9]+$"),
    ("export", "MODEL_VERSION", "3; touch {marker} #", "^[0-9]+$"),
    ("export", "CANDIDATE", "7 --version 1; touch {marker} #", "^[0-9]+$"),
    ("promote", "IMAGE_DIGEST", "sha256:0; touch {marker} #", "^sha256:[0-9a-f]{64}$"),
    ("install", "EXTRAS", 'dev]"; touch {marker}; echo "[', "comma list of extras names"),
    ("train", "NPROC", "2 -m x; touch {marker} #", "positive integer"),
    ("install", "TORCH_BUILD", "cpu; touch {marker} #", "auto, cpu or cuda"),
]
# (target, variable) whose values are free-form: each must reach the program as one argument.
FREE_FORM = [
    ("validate", "DATA"),
    ("expectations", "DATA"),
    ("drift", "SAMPLE"),
    ("train", "PARAMS"),
    ("update-template", "REF"),
    ("install", "TORCH_INDEX_URL"),
    ("install", "TORCH_FIND_LINKS"),
    ("serve", "HOST"),
    ("image", "BUILD_FLAGS"),
    ("image", "SOURCE_URL"),
    ("image", "GIT_SHA"),
    ("bench-hostile", "MODEL_DIR"),
    ("test", "MARKERS"),
]


@pytest.fixture
def argv_python(tmp_path: Path) -> Path:
    """A stand-in for the project's Python that prints its arguments, one per line."""
    script = tmp_path / "argv"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$@"\n')
    script.chmod(0o755)
    return script


def _make(project: Path, target: str, python: Path, **variables: str):
    programs = {"PYTHON": str(python), "UV": str(python)}  # `make install` runs uv
    assignments = [f"{name}={value}" for name, value in {**programs, **variables}.items()]
    return run(["make", "--no-print-directory", target, *assignments], cwd=project, env=tool_env(), check=False)


@pytest.mark.parametrize(("target", "variable", "injection", "form"), CHECKED)
@pytest.mark.parametrize("syntax", ["shell", "make"])
def test_a_value_not_of_its_form_stops_make_before_any_recipe(
    default_project, argv_python, tmp_path, target, variable, injection, form, syntax
):
    marker = tmp_path / "PWNED"
    value = injection.format(marker=marker) if syntax == "shell" else f"$(shell touch {marker})"
    result = _make(default_project, target, argv_python, **{variable: value})
    assert not marker.exists(), f"{variable}={value!r} ran a command"
    assert result.returncode != 0
    assert result.stdout == ""  # no recipe ran
    assert f"{variable}='{value}' is not valid: {variable} must be" in result.stderr
    assert form in result.stderr


@pytest.mark.parametrize(("target", "variable"), FREE_FORM)
@pytest.mark.parametrize("syntax", ["shell", "make"])
def test_a_free_form_value_reaches_the_program_as_one_argument(
    default_project, argv_python, tmp_path, target, variable, syntax
):
    marker = tmp_path / "PWNED"
    value = f"x; touch {marker} # 'q' \"$$HOME\" `id`" if syntax == "shell" else f"$(shell touch {marker})"
    result = _make(default_project, target, argv_python, **{variable: value})
    assert not marker.exists(), f"{variable}={value!r} ran a command"
    assert result.returncode == 0, result.stderr
    assert value in result.stdout.splitlines()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CANDIDATE", "12"),
        ("MODEL_VERSION", "3"),
        ("IMAGE_DIGEST", "sha256:" + "0123456789abcdef" * 4),
        ("EXTRAS", "validate,train,serve,dev"),
        ("EXTRAS", "train"),
        ("NPROC", "2"),
        ("TORCH_BUILD", "auto"),
        ("TORCH_BUILD", "cpu"),
        ("TORCH_BUILD", "cuda"),
    ],
)
def test_a_value_of_its_form_is_accepted(default_project, argv_python, variable, value):
    result = _make(default_project, "help", argv_python, **{variable: value})
    assert result.returncode == 0, result.stderr
