"""The gate is a trust boundary: against MLflow's basic-auth server, the credential that trains
and gates (every branch's CI) cannot touch the production model; only the promotion credential
(the production environment's) can, and `make promote` with it moves `champion` to exactly the
bytes the gate scored.

`grant_pipeline` is the platform admin's whole set-up, as docs/trust-model.md describes it.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server import get_app_client
from mlflow.server.auth.client import AuthServiceClient

from support.commands import PYTHON, make, read_report, tool_env
from support.services import AuthMlflowServer, Postgres
from support.signing import PUBLIC_KEY_PEM
from support.template import DEFAULT_PACKAGE, DEFAULT_PROJECT, render

pytestmark = pytest.mark.slow

PRODUCTION = DEFAULT_PACKAGE  # params.yaml model.name
CANDIDATES = f"{DEFAULT_PACKAGE}-candidates"  # params.yaml model.candidates
LOCK = f"{DEFAULT_PACKAGE}.promotion-lock"  # `make promote` and `make rollback` queue in its versions
EXPERIMENT = DEFAULT_PROJECT  # params.yaml mlflow.experiment
CANDIDATE_USER, PROMOTE_USER = "ci-candidate", "ci-promote"


# --- the platform admin's set-up -----------------------------------------------------------


def grant_pipeline(
    auth: AuthServiceClient,
    registry: MlflowClient,
    *,
    model: str = PRODUCTION,
    experiment: str = EXPERIMENT,
    candidate_user: str = CANDIDATE_USER,
    promote_user: str = PROMOTE_USER,
) -> None:
    """What an MLflow admin runs once per project, with admin credentials in the environment
    (MLFLOW_TRACKING_USERNAME/PASSWORD) and both users already created (`auth.create_user`).

    The admin creates the experiment and the three registered models, so that neither CI user
    owns (MANAGE) anything the other relies on; each user is then granted the least it needs.
    Creating a registered model needs no grant while workspaces are off, so a name nobody has
    taken yet could be taken, or another model renamed onto it, by either CI user: the lock
    exists before CI runs, and stays.
    """
    experiment_id = registry.create_experiment(experiment)
    production_id = registry.create_experiment(f"{experiment}-production")
    registry.create_registered_model(model, description="production: written only by make promote / rollback")
    registry.create_registered_model(f"{model}-candidates", description="every training run registers here")
    registry.create_registered_model(f"{model}.promotion-lock", description="make promote / rollback queue here")

    # CI on every branch: runs, artifacts and versions in the candidates model; the champion read-only.
    auth.grant_user_permission(candidate_user, "experiment", experiment_id, "EDIT")
    auth.grant_user_permission(candidate_user, "registered_model", f"{model}-candidates", "EDIT")
    auth.grant_user_permission(candidate_user, "registered_model", model, "READ")
    # Production bytes: the gate reads the champion's, nothing on a branch writes them.
    auth.grant_user_permission(candidate_user, "experiment", production_id, "READ")
    # The production environment: copies a candidate into production, moves aliases, tags both
    # sides of the copy (a candidate records the production version it became). EDIT, not
    # MANAGE: it cannot delete either model or change anyone's permissions.
    auth.grant_user_permission(promote_user, "experiment", experiment_id, "READ")
    auth.grant_user_permission(promote_user, "experiment", production_id, "EDIT")
    auth.grant_user_permission(promote_user, "registered_model", f"{model}-candidates", "EDIT")
    auth.grant_user_permission(promote_user, "registered_model", model, "EDIT")
    # The lock's versions are its queue: leaving it deletes a version, which needs MANAGE. The
    # candidate user gets nothing on it, so it can neither queue, nor rename or delete the lock.
    auth.grant_user_permission(promote_user, "registered_model", f"{model}.promotion-lock", "MANAGE")


# --- fixtures ------------------------------------------------------------------------------


@contextmanager
def acting_as(credentials: dict[str, str]) -> Iterator[MlflowClient]:
    """An MLflow client (and the fluent API) that authenticates as the given user."""
    saved = {name: os.environ.get(name) for name in credentials}
    os.environ.update(credentials)
    # The fluent API prefers a URI set in this process (another test may have set one) to the
    # environment: point it here explicitly.
    mlflow.set_tracking_uri(credentials["MLFLOW_TRACKING_URI"])
    try:
        yield MlflowClient(tracking_uri=credentials["MLFLOW_TRACKING_URI"])
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class Registry:
    """An auth-enabled server set up by `grant_pipeline`, and the credentials of its CI users."""

    def __init__(self, server: AuthMlflowServer) -> None:
        self.server = server
        self.passwords = {CANDIDATE_USER: secrets.token_urlsafe(16), PROMOTE_USER: secrets.token_urlsafe(16)}
        with acting_as(server.admin_credentials) as admin:
            auth = get_app_client("basic-auth", tracking_uri=server.uri)
            for user, password in self.passwords.items():
                auth.create_user(user, password)
            grant_pipeline(auth, admin)

    def env(self, user: str) -> dict[str, str]:
        return self.server.credentials(user, self.passwords[user])

    @property
    def candidate(self) -> dict[str, str]:
        return self.env(CANDIDATE_USER)

    @property
    def promoter(self) -> dict[str, str]:
        return self.env(PROMOTE_USER)

    @property
    def admin(self) -> dict[str, str]:
        return self.server.admin_credentials


@pytest.fixture(scope="module")
def new_registry(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], Registry]]:
    """Each call: a fresh auth-enabled server (its own tracking and user databases), set up."""
    servers: list[AuthMlflowServer] = []

    def start() -> Registry:
        name = f"registry{len(servers)}"
        artifacts = tmp_path_factory.mktemp(name) / "artifacts"
        artifacts.mkdir()
        backend = postgres.create_database(name)
        server = AuthMlflowServer(backend, artifacts, postgres.create_database(f"{name}_auth"))
        servers.append(server)
        server.start()
        return Registry(server)

    yield start
    for server in servers:
        server.stop()


# --- the candidate credential cannot write production -------------------------------------


def _register_candidate(registry: Registry) -> str:
    """A small candidate version registered with the candidate credential, as `make train` does."""
    with acting_as(registry.candidate) as client:
        experiment_id = client.get_experiment_by_name(EXPERIMENT).experiment_id
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_text("weights", "model/weights.txt")
        version = client.create_model_version(
            CANDIDATES, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
        )
    return str(version.version)


@pytest.fixture(scope="module")
def champion_registry(new_registry: Callable[[], Registry]) -> Registry:
    """A registry whose production model has a champion, put there with the promotion credential."""
    registry = new_registry()
    candidate_version = _register_candidate(registry)
    with acting_as(registry.promoter) as client:
        production = client.copy_model_version(f"models:/{CANDIDATES}/{candidate_version}", PRODUCTION)
        client.set_registered_model_alias(PRODUCTION, "champion", production.version)
    return registry


def _denied(error: BaseException) -> bool:
    """The server answered 403, here or in what this error wraps (`copy_model_version` wraps it)."""
    while error is not None:
        if isinstance(error, MlflowException) and error.error_code == "PERMISSION_DENIED":
            return error.get_http_status_code() == 403
        error = error.__cause__
    return False


def _production_state(registry: Registry) -> tuple:
    with acting_as(registry.admin) as client:
        model = client.get_registered_model(PRODUCTION)
        versions = client.search_model_versions(f"name='{PRODUCTION}'")
    return dict(model.aliases), model.tags, sorted(str(version.version) for version in versions)


def test_candidate_credential_registers_candidates_and_reads_the_champion(champion_registry: Registry):
    version = _register_candidate(champion_registry)
    with acting_as(champion_registry.candidate) as client:
        assert str(client.get_model_version(CANDIDATES, version).version) == version
        champion = client.get_model_version_by_alias(PRODUCTION, "champion")
        assert str(champion.version) == "1"
        local = mlflow.artifacts.download_artifacts(f"models:/{PRODUCTION}@champion")
    assert (Path(local) / "weights.txt").read_text() == "weights"


PRODUCTION_WRITES = {
    "set-alias": lambda client: client.set_registered_model_alias(PRODUCTION, "champion", "1"),
    "create-version": lambda client: client.create_model_version(
        PRODUCTION, source=f"models:/{CANDIDATES}/1", run_id=client.get_model_version(CANDIDATES, "1").run_id
    ),
    "copy-version": lambda client: client.copy_model_version(f"models:/{CANDIDATES}/1", PRODUCTION),
    "set-tag": lambda client: client.set_registered_model_tag(PRODUCTION, "approved", "yes"),
    "delete-model": lambda client: client.delete_registered_model(PRODUCTION),
}


@pytest.mark.parametrize("write", PRODUCTION_WRITES.values(), ids=PRODUCTION_WRITES.keys())
def test_candidate_credential_cannot_write_the_production_model(champion_registry: Registry, write):
    before = _production_state(champion_registry)
    with acting_as(champion_registry.candidate) as client, pytest.raises(MlflowException) as refused:
        write(client)
    assert _denied(refused.value), refused.value
    assert _production_state(champion_registry) == before


# --- the promotion lock: only the promotion credential can queue in it ------------------------


def _rest(registry: Registry, user: str, method: str, endpoint: str, body: dict) -> requests.Response:
    """One REST call as `user`, without the client's own reads first: what the server itself allows."""
    url = f"{registry.server.uri}/api/2.0/mlflow/{endpoint}"
    return requests.request(method, url, json=body, auth=(user, registry.passwords[user]), timeout=30)


def _lock_state(registry: Registry) -> tuple:
    """The lock model and its queue, and the candidates model's versions, as the admin sees them."""
    with acting_as(registry.admin) as client:
        lock = client.get_registered_model(LOCK)
        queue, candidates = (
            sorted(str(version.version) for version in client.search_model_versions(f"name='{name}'"))
            for name in (LOCK, CANDIDATES)
        )
    return lock.description, lock.tags, queue, candidates


LOCK_ATTACKS = {  # (method, endpoint, body) that a branch could send with the candidate credential
    "rename-candidates-onto-the-lock": ("POST", "registered-models/rename", {"name": CANDIDATES, "new_name": LOCK}),
    "queue-in-the-lock": ("POST", "model-versions/create", {"name": LOCK, "source": "promotion-lock:/queue"}),
    "delete-the-lock": ("DELETE", "registered-models/delete", {"name": LOCK}),
    "rename-the-lock": ("POST", "registered-models/rename", {"name": LOCK, "new_name": f"{LOCK}-moved"}),
}


@pytest.mark.parametrize("attack", LOCK_ATTACKS.values(), ids=LOCK_ATTACKS.keys())
def test_candidate_credential_cannot_touch_the_promotion_lock(champion_registry: Registry, attack):
    """Else a branch could hold the lock and stall every promotion, or have the lock's stale-holder
    breaker work on a model of its choosing. Renaming needs EDIT on the source model only, which
    the candidate holds on its own model: a name already taken is what refuses that one."""
    before = _lock_state(champion_registry)
    response = _rest(champion_registry, CANDIDATE_USER, *attack)
    assert response.status_code == 403 or "RESOURCE_ALREADY_EXISTS" in response.text, response.text
    assert _lock_state(champion_registry) == before


def _in_project(project: Path, credentials: dict[str, str], code: str) -> str:
    """Run `code` with the rendered project's package as `credentials`; return its output, which
    must end in an error (the tests below expect refusals)."""
    result = subprocess.run(
        [PYTHON, "-c", code], cwd=project, env=tool_env(**credentials), capture_output=True, text=True, check=False
    )
    assert result.returncode != 0, result.stdout
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("lock-project"))


def test_a_lock_left_by_a_killed_promotion_times_out_naming_its_holder(champion_registry: Registry, project: Path):
    """Not a bare 403: the waiter says who holds the lock and for how long it has been silent."""
    killed = "pid 4242 on a-runner-that-was-killed (0)"
    with acting_as(champion_registry.promoter) as client:
        held = client.create_model_version(LOCK, "promotion-lock:/queue", description=killed, await_creation_for=0)
    try:
        code = (
            "from mlflow import MlflowClient\n"
            f"from {DEFAULT_PACKAGE}.promotion.lock import alias_lock\n"
            f"with alias_lock(MlflowClient(), {PRODUCTION!r}, timeout=1):\n"
            "    raise SystemExit('took a held lock')\n"
        )
        output = _in_project(project, champion_registry.promoter, code)
        assert f"LockTimeout: {LOCK!r} is held by {killed} (version {held.version}" in output, output
        assert _lock_state(champion_registry)[2] == [str(held.version)], "the waiter did not leave the queue"
    finally:
        with acting_as(champion_registry.admin) as client:
            client.delete_model_version(LOCK, held.version)


def test_a_403_names_the_grant_it_lacks(champion_registry: Registry, project: Path):
    """With NO_PERMISSIONS a model nobody granted (or that does not exist) answers 403, not 404."""
    read = (
        "from mlflow import MlflowClient\n"
        f"from {DEFAULT_PACKAGE}.promotion.registry import alias_version\n"
        "alias_version(MlflowClient(), 'no-such-model', 'champion')\n"
    )
    output = _in_project(project, champion_registry.candidate, read)
    assert f"the MLflow user {CANDIDATE_USER!r} lacks READ on registered model 'no-such-model' (403)" in output
    assert "also answers 403 for a model that does not exist" in output, output

    lock = (
        "from mlflow import MlflowClient\n"
        f"from {DEFAULT_PACKAGE}.promotion.lock import alias_lock\n"
        "with alias_lock(MlflowClient(), 'no-such-model'):\n"
        "    pass\n"
    )
    output = _in_project(project, champion_registry.promoter, lock)
    assert f"{PROMOTE_USER!r} lacks MANAGE on registered model 'no-such-model.promotion-lock' (403)" in output
    assert "grants MANAGE on it to the production credential's user, and to no other" in output, output


def test_promotion_credential_tags_versions_and_moves_aliases_but_deletes_no_model(champion_registry: Registry):
    with acting_as(champion_registry.promoter) as client:
        client.set_model_version_tag(PRODUCTION, "1", "reviewed", "yes")
        client.set_registered_model_alias(PRODUCTION, "previous-champion", "1")
        client.set_model_version_tag(CANDIDATES, "1", "promoted.version", "1")
        assert client.get_model_version(PRODUCTION, "1").tags["reviewed"] == "yes"
        for model in (PRODUCTION, CANDIDATES):
            with pytest.raises(MlflowException) as refused:
                client.delete_registered_model(model)
            assert _denied(refused.value), refused.value


# --- end to end: a rendered project's Make targets with each credential --------------------


def test_only_the_promotion_credential_promotes_and_the_champion_is_the_gated_digest(
    tmp_path: Path, new_registry: Callable[[], Registry]
):
    registry = new_registry()
    project = render(tmp_path)
    candidate_env, promote_env = tool_env(**registry.candidate), tool_env(**registry.promoter)

    make(project, "validate", env=tool_env())  # needs no registry at all
    make(project, "train", "gate", env=candidate_env)
    trained, gated = read_report(project, "train.json"), read_report(project, "gate.json")
    assert trained["model_name"] == CANDIDATES
    assert gated["decision"] == "promote"
    assert gated["candidate_digest"] == trained["model_digest"]

    refused = make(project, "promote", env=candidate_env, check=False)
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "403" in output or "permission" in output.lower(), output
    with acting_as(registry.admin) as client:
        assert "champion" not in client.get_registered_model(PRODUCTION).aliases

    make(project, "promote", env=promote_env)
    promoted = read_report(project, "promote.json")
    with acting_as(registry.admin) as client:
        champion = client.get_model_version_by_alias(PRODUCTION, "champion")
        assert client.search_model_versions(f"name='{LOCK}'") == [], "the promotion lock was not released"
    assert str(champion.version) == promoted["champion"]
    assert champion.tags["model.digest"] == trained["model_digest"] == promoted["model_digest"]
    assert promoted["candidate_model"] == CANDIDATES
    assert promoted["candidate_version"] == trained["model_version"]


# --- attacks with the candidate credential on a real pipeline -------------------------------
# Each replays what a branch's CI (which holds the candidate credential) could try against the
# served bundle, production's bytes and its tags, and asserts the refusal or that it had no effect.


def _swap_candidate(registry: Registry, version: str, scratch: Path) -> str:
    """Attack 1's first half, as the candidate credential: other bytes in the candidate version's
    served bundle, and its `model.digest` tag rewritten to match; return the forged digest."""
    with acting_as(registry.candidate) as client:
        source = client.get_model_version_download_uri(CANDIDATES, version)
        run_id = client.get_model_version(CANDIDATES, version).run_id
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=str(scratch)))
        onnx = local / "model.onnx"
        onnx.write_bytes(onnx.read_bytes() + b"\0")
        client.log_artifact(run_id, str(onnx), "served")
        forged = _bundle_digest(local)
        client.set_model_version_tag(CANDIDATES, version, "model.digest", forged)
    return forged


def _bundle_digest(directory: Path) -> str:
    """The project's digest.py, computed here: names and contents of the three bundle files."""
    outer = hashlib.sha256()
    for name in ("model.onnx", "preprocessor.json", "metadata.json"):
        outer.update(f"{name}\0{hashlib.sha256((directory / name).read_bytes()).hexdigest()}\n".encode())
    return f"sha256:{outer.hexdigest()}"


def test_attack_1_a_candidate_swapped_after_the_gate_is_neither_imaged_nor_promoted(
    tmp_path: Path, new_registry: Callable[[], Registry]
):
    registry = new_registry()
    project = render(tmp_path / "render")
    candidate_env = tool_env(**registry.candidate)
    make(project, "validate", env=tool_env())
    make(project, "train", "gate", env=candidate_env)
    trained, gated = read_report(project, "train.json"), read_report(project, "gate.json")
    assert gated["decision"] == "promote"
    forged = _swap_candidate(registry, trained["model_version"], tmp_path / "attack")

    staged = make(project, "export", env=candidate_env, CANDIDATE=trained["model_version"], check=False)
    assert staged.returncode != 0
    assert f"now gives {forged}, but the gate scored {gated['candidate_digest']}" in staged.stderr, staged.stderr
    assert not (project / "build" / "model").exists(), "the image's build context got the swapped bytes"

    image_of_other_bytes = make(
        project, "promote", env=tool_env(**registry.promoter), IMAGE_MODEL_DIGEST=forged, check=False
    )
    assert image_of_other_bytes.returncode != 0
    assert "built from other bytes" in image_of_other_bytes.stderr, image_of_other_bytes.stderr
    swapped = make(project, "promote", env=tool_env(**registry.promoter), check=False)
    assert swapped.returncode != 0 and gated["candidate_digest"] in swapped.stderr, swapped.stderr
    with acting_as(registry.admin) as client:
        assert client.search_model_versions(f"name='{PRODUCTION}'") == [], "a swapped model reached production"


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory, new_registry: Callable[[], Registry]) -> dict:
    """A real promotion on a fresh server: trained and gated with the candidate credential, which
    also plants an `image.digest` tag on the candidate (attack 4), then promoted and signed."""
    registry = new_registry()
    project = render(tmp_path_factory.mktemp("promoted"))
    make(project, "validate", env=tool_env())
    make(project, "train", "gate", env=tool_env(**registry.candidate))
    trained = read_report(project, "train.json")
    with acting_as(registry.candidate) as client:
        client.set_model_version_tag(CANDIDATES, trained["model_version"], "image.digest", "sha256:" + "6" * 64)
    make(project, "promote", env=tool_env(**registry.promoter))
    return {"registry": registry, "project": project, "trained": trained, **read_report(project, "promote.json")}


def test_attack_2_production_bytes_are_out_of_the_candidate_credentials_reach(promoted: dict, tmp_path: Path):
    registry, version = promoted["registry"], promoted["champion"]
    with acting_as(registry.admin) as client:
        production_run = client.get_model_version(PRODUCTION, version).run_id
        files = [item.path for item in client.list_artifacts(production_run)]
        served = [item.path for item in client.list_artifacts(production_run, "served")]
    assert sorted(files) == ["served", "served.sig"] and not [path for path in served if path.endswith(".py")]

    payload = tmp_path / "pyfunc_entry.py"
    payload.write_text("import os; os.system('id')\n")
    with acting_as(registry.candidate) as client, pytest.raises(Exception) as refused:
        client.log_artifact(production_run, str(payload), "served")
    assert "403" in str(refused.value) or _denied(refused.value), refused.value

    _swap_candidate(registry, promoted["trained"]["model_version"], tmp_path / "after")  # after the promotion
    project = promoted["project"]
    env = tool_env(**registry.candidate, MODEL_SIGNING_PUBLIC_KEY=PUBLIC_KEY_PEM)
    exported = make(project, "export", env=env)
    assert "signature verified" in exported.stdout
    release = json.loads((project / "build" / "model.release.json").read_text())
    assert release["model_digest"] == promoted["model_digest"] == promoted["trained"]["model_digest"]


def test_attack_4_candidate_tags_never_reach_production(promoted: dict):
    with acting_as(promoted["registry"].admin) as client:
        tags = client.get_model_version(PRODUCTION, promoted["champion"]).tags
    assert "image.digest" not in tags, "a candidate-set image digest arrived on production"
    assert tags["model.digest"] == promoted["model_digest"] and tags["model.signature"] == "key"
    assert not {key for key in tags if key.startswith("gate.digest")}, "only lineage tags are copied"


def test_attack_7_no_password_in_what_the_pipeline_prints(promoted: dict):
    registry, project = promoted["registry"], promoted["project"]
    password = registry.passwords[CANDIDATE_USER]
    with_password = f"http://{CANDIDATE_USER}:{password}@{registry.server.uri.removeprefix('http://')}"
    env = {**tool_env(), "MLFLOW_TRACKING_URI": with_password}
    env.pop("CI", None)
    env.pop("GITHUB_ACTIONS", None)
    trained = make(project, "train", env=env)  # MLflow ends the run with "View run ... at: <URL>"
    output = trained.stdout + trained.stderr
    assert "View run" in output and f"http://***@{registry.server.uri.removeprefix('http://')}" in output, output
    assert password not in output

    refused = make(project, "gate", env={**env, "CI": "true"}, check=False)
    assert refused.returncode == 2
    output = refused.stdout + refused.stderr
    assert "MLFLOW_TRACKING_USERNAME" in output and "MLFLOW_TRACKING_PASSWORD" in output, output
    assert password not in output
