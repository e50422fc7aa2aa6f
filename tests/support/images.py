"""Building images here, without a registry or a Docker engine.

buildah runs as root with chroot isolation; the Python base image is made locally with
`debootstrap --variant=minbase` and committed into buildah's storage under a tag keyed by the
Debian suite, so later runs of the suite reuse it (rebuilt when older than BASE_MAX_AGE).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support.commands import BIN_DIR, tool_env

SUITE = os.environ.get("DEBIAN_SUITE", "bookworm")  # bookworm's python3 is 3.11, the template's minimum
MIRROR = os.environ.get("DEBIAN_MIRROR", "http://deb.debian.org/debian")
BASE_IMAGE = f"localhost/ml-cicd-template/python-base:{SUITE}"
BASE_MAX_AGE = timedelta(days=30)  # then rebuilt, to pick up Debian's security updates
BASE_LOCK = Path(tempfile.gettempdir()) / "ml-cicd-template-python-base.lock"
BUILDAH_ENV = {"STORAGE_DRIVER": "vfs", "BUILDAH_ISOLATION": "chroot"}
# Only what python:3.x-slim also leaves out: package caches, docs, man pages, translations.
TRIMMED = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")


def buildah_env(**extra: str) -> dict[str, str]:
    """tool_env plus buildah's storage driver and isolation."""
    return tool_env(**BUILDAH_ENV, **extra)


def buildah(*args: str) -> str:
    """Run buildah; on failure show its output in the test failure."""
    result = subprocess.run(["buildah", *args], env=buildah_env(), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"buildah {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def require_buildah() -> None:
    """Skip (with the reason) where images cannot be built; on this machine and in CI they can."""
    if shutil.which("buildah") is None:
        pytest.skip("buildah is not installed (Debian: apt-get install buildah)")
    if os.geteuid() != 0:
        pytest.skip("building images here needs root (buildah with chroot isolation)")
    probe = subprocess.run(["buildah", "info"], env=buildah_env(), capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"buildah cannot run here: {probe.stderr.strip()[:300]}")


def _base_is_fresh() -> bool:
    probe = subprocess.run(
        ["buildah", "inspect", "--type", "image", BASE_IMAGE], env=buildah_env(), capture_output=True, check=False
    )
    if probe.returncode != 0:
        return False
    created = datetime.fromisoformat(json.loads(probe.stdout)["OCIv1"]["created"][:19]).replace(tzinfo=UTC)
    return datetime.now(UTC) - created < BASE_MAX_AGE


def python_base_image() -> str:
    """The Debian + python3 base image, built on first use (about a minute) and kept; one builder
    at a time (`make test`'s workers run the image tests side by side)."""
    with BASE_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not _base_is_fresh():
            _build_base_image()
    return BASE_IMAGE


def _build_base_image() -> None:
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (Debian: apt-get install debootstrap)")
    with tempfile.TemporaryDirectory(prefix="rootfs-") as rootfs:
        packages = "--include=python3,python3-venv,ca-certificates"
        command = ["debootstrap", "--variant=minbase", packages, SUITE, rootfs, MIRROR]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            pytest.fail(f"debootstrap failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        for relative in TRIMMED:
            shutil.rmtree(Path(rootfs, relative), ignore_errors=True)
        container = buildah("from", "scratch").strip()
        buildah("copy", "--quiet", container, f"{rootfs}/", "/")
        environment = ["--env", "PATH=/usr/local/bin:/usr/bin:/bin", "--env", "LANG=C.UTF-8"]
        buildah("config", *environment, "--cmd", "python3", container)
        buildah("commit", "--quiet", "--rm", container, BASE_IMAGE)


def pip_trust_flags(scratch: Path) -> list[str]:
    """Build flags that let pip inside RUN steps trust what pip trusts here.

    Where pip is configured with a CA bundle (`cert`), bind-mount that bundle and a pip.conf
    naming it, read-only and for the build only: neither ends up in a layer.
    """
    command = [BIN_DIR / "pip", "config", "get", "global.cert"]
    configured = subprocess.run(command, capture_output=True, text=True, check=False)
    bundle = os.environ.get("PIP_CERT") or configured.stdout.strip()
    if not bundle:
        return []
    config = scratch / "pip.conf"
    config.write_text(f"[global]\ncert = {bundle}\n")
    return ["-v", f"{bundle}:{bundle}:ro", "-v", f"{config}:/etc/pip.conf:ro"]
