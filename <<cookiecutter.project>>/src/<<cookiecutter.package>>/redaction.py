"""Credentials out of everything the pipeline prints.

A tracking URI may carry `user:password@` (allowed outside CI, see `tracking.py`), and MLflow
and HTTP clients repeat the URI in log lines and exception messages: "View run ... at: URL",
"API request to URL failed". Redacting what reaches stdout and stderr, rather than each
message at its source, also covers libraries' messages and tracebacks. The host stays, so a
person can still see which server failed.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO

# A URL; its userinfo runs to the last "@" before the path, as `urllib.parse.urlsplit` reads it.
URL = re.compile(r"\b(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^/?#\s'\"]*@)?(?P<rest>[^\s'\"]*)", re.IGNORECASE)


def _without_userinfo(url: re.Match[str]) -> str:
    return url["scheme"] + ("***@" if url["userinfo"] else "") + url["rest"]


def redact_userinfo(text: str) -> str:
    """`text` with the user and password of every URL replaced: `http://***@host/path`."""
    return URL.sub(_without_userinfo, text)


class RedactingStream:
    """A text stream that redacts each write before passing it on.

    Redacts per write: `print`, logging handlers and `traceback` each write a URL within one
    call, so a URL is never split across two. Everything but writing goes to the wrapped stream.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(redact_userinfo(text))
        return len(text)  # what the caller handed over, as `TextIO.write` reports it

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)


@contextmanager
def redacted_output() -> Iterator[None]:
    """Redact stdout and stderr while the block runs, then put the original streams back."""
    stdout, stderr = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = RedactingStream(stdout), RedactingStream(stderr)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = stdout, stderr
