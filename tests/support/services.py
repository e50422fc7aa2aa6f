"""Real services for the team-scale tests: a private PostgreSQL cluster and `mlflow server` on it.

Both listen on 127.0.0.1 only, on free ports, with their data in a temporary directory, and
can be stopped and started again to test outages. `AuthMlflowServer` is the same server with
MLflow's basic-auth app in front of it, as a team runs it when credentials must mean something.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from support.commands import BIN_DIR


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def _pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]), None)
    if not found:
        pytest.skip(f"PostgreSQL's {name} is not installed (Debian: apt-get install postgresql)")
    return found


class Postgres:
    """A throw-away cluster; as root it runs as the `postgres` user, as PostgreSQL requires.

    Its directory comes from `mkdtemp`, not pytest's tmp_path: pytest's base directory is
    private to root (mode 700), which the `postgres` user could not enter. `remove` deletes it.
    """

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_owner:
            shutil.chown(self.root, "postgres")
        self._run(_pg_bin("initdb"), "-D", str(self.data), "-U", "mlflow", "--auth=trust", "-E", "UTF8")

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_owner, *args], check=True, capture_output=True, text=True)

    @property
    def uri(self) -> str:
        return f"postgresql+psycopg2://mlflow@127.0.0.1:{self.port}/postgres"

    def create_database(self, name: str) -> str:
        """A second, empty database in this cluster (e.g. MLflow's user store); its URI."""
        self._run(_pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "mlflow", name)
        return self.uri.rsplit("/", 1)[0] + f"/{name}"

    def start(self) -> None:
        options = f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root}"
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self) -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        stop = [*self.as_owner, _pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]
        subprocess.run(stop, check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


class MlflowServer:
    """`mlflow server` with a PostgreSQL backend and proxied artifacts, as a team runs it."""

    def __init__(self, backend_uri: str, artifacts: Path) -> None:
        self.backend_uri, self.artifacts = backend_uri, artifacts
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        if self.process and self.process.poll() is not None:
            log = (self.artifacts.parent / "mlflow-server.log").read_text()[-3000:]
            raise RuntimeError(f"mlflow server exited with {self.process.returncode}:\n{log}")
        try:
            with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:  # noqa: S310 - loopback
                return response.status == 200
        except OSError:
            return False

    def _command(self) -> list[str]:
        return [
            str(BIN_DIR / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", self.backend_uri, "--artifacts-destination", self.artifacts.as_uri(),
            "--serve-artifacts", "--workers", "2",
        ]  # fmt: skip

    def _env(self) -> dict[str, str]:
        return {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}

    def start(self) -> None:
        with (self.artifacts.parent / "mlflow-server.log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                self._command(), stdout=log, stderr=subprocess.STDOUT, env=self._env(), start_new_session=True
            )
        _wait_until(self._healthy, f"mlflow server on {self.uri}", timeout=120)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=30)


class AuthMlflowServer(MlflowServer):
    """`mlflow server --app-name basic-auth`: every request needs a user's credentials, and each
    user may do only what the admin granted.

    Its user store is a second database in the same PostgreSQL cluster (`auth_database_uri`).
    `default_permission` is what a user may do with a resource nobody granted them anything
    on: NO_PERMISSIONS by default here, so every read a pipeline needs must be an explicit
    grant, and a test against this server proves that the grants listed are complete.
    """

    ADMIN = "admin"

    def __init__(
        self, backend_uri: str, artifacts: Path, auth_database_uri: str, default_permission: str = "NO_PERMISSIONS"
    ) -> None:
        super().__init__(backend_uri, artifacts)
        self.admin_password, self.secret_key = secrets.token_urlsafe(16), secrets.token_urlsafe(32)
        self.config = artifacts.parent / "basic_auth.ini"
        self.config.write_text(
            "[mlflow]\n"
            f"default_permission = {default_permission}\n"
            f"database_uri = {auth_database_uri}\n"
            f"admin_username = {self.ADMIN}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )

    def _command(self) -> list[str]:
        return [*super()._command(), "--app-name", "basic-auth"]

    def _env(self) -> dict[str, str]:
        return {
            **super()._env(),
            "MLFLOW_AUTH_CONFIG_PATH": str(self.config),
            "MLFLOW_AUTH_ADMIN_PASSWORD": self.admin_password,  # read once: when the admin is created
            "MLFLOW_FLASK_SERVER_SECRET_KEY": self.secret_key,  # CSRF protection; the same for every worker
        }

    def credentials(self, username: str, password: str) -> dict[str, str]:
        """The environment a client (or a rendered project's `make`) uses to act as that user."""
        return {
            "MLFLOW_TRACKING_URI": self.uri,
            "MLFLOW_TRACKING_USERNAME": username,
            "MLFLOW_TRACKING_PASSWORD": password,
        }

    @property
    def admin_credentials(self) -> dict[str, str]:
        return self.credentials(self.ADMIN, self.admin_password)
