"""Credentials in a URL never reach the output, whatever prints it; the host stays for debugging."""

import io
import sys
import traceback

import pytest

from << cookiecutter.package >>.redaction import RedactingStream, redact_userinfo, redacted_output
from tests.helpers import PASSWORD

URI = f"http://ci-user:{PASSWORD}@mlflow.example:5000"


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        (f"View run at: {URI}/#/runs/1", "View run at: http://***@mlflow.example:5000/#/runs/1"),
        ("https://user:p@ss@host/x", "https://***@host/x"),  # an unencoded "@" in it  # pragma: allowlist secret
        ("https://token@host", "https://***@host"),
        (
            "API request to 'http://u:pw@host/api' failed",  # pragma: allowlist secret
            "API request to 'http://***@host/api' failed",
        ),
    ],
)
def test_userinfo_is_replaced_and_the_host_kept(text, redacted):
    assert redact_userinfo(text) == redacted


@pytest.mark.parametrize(
    "text", ["http://mlflow.example:5000/x?to=a@b.c", "sqlite:///mlflow.db", "mail dev@localhost", "no url"]
)
def test_text_without_credentials_is_unchanged(text):
    assert redact_userinfo(text) == text


def test_a_traceback_written_through_the_stream_is_redacted():
    target = io.StringIO()
    try:
        raise ConnectionError(f"API request to {URI}/api/2.0/mlflow/runs/create failed")
    except ConnectionError:
        traceback.print_exc(file=RedactingStream(target))
    text = target.getvalue()
    assert text.startswith("Traceback") and PASSWORD not in text
    assert "ConnectionError: API request to http://***@mlflow.example:5000/api/2.0/mlflow/runs/create" in text


def test_redacted_output_covers_stdout_and_stderr_then_restores_them(capsys):
    stdout, stderr = sys.stdout, sys.stderr
    with redacted_output():
        print(f"View run at: {URI}")
        sys.stderr.write(f"error: {URI}\n")
    assert (sys.stdout, sys.stderr) == (stdout, stderr)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "View run at: http://***@mlflow.example:5000\n",
        "error: http://***@mlflow.example:5000\n",
    )
