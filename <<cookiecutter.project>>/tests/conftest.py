"""Shared fixtures: the project's own params and data, fast settings on a private registry, a
small trained bundle, its export and the real server around it (uvicorn on a free loopback port)."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from << cookiecutter.package >>.config import ModelParams, Params, load_params
from << cookiecutter.package >>.data import class_names, read_table, to_dataset
from << cookiecutter.package >>.monitoring.prediction_log import PredictionLog
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.serving.app import create_app
from << cookiecutter.package >>.training.model import ModelBundle, build_bundle
from tests.helpers import PROJECT_ROOT, as_task, exported_bundle, running


@pytest.fixture
def params(monkeypatch: pytest.MonkeyPatch) -> Params:
    """params.yaml as committed, set up for classification (the `regression` fixture is the other
    task), with relative paths resolved from the project root."""
    monkeypatch.chdir(PROJECT_ROOT)
    return as_task(load_params(PROJECT_ROOT / "params.yaml", environ={}), "classification")


@pytest.fixture
def regression(monkeypatch: pytest.MonkeyPatch) -> Params:
    """params.yaml as committed, set up for regression of the body mass."""
    monkeypatch.chdir(PROJECT_ROOT)
    return as_task(load_params(PROJECT_ROOT / "params.yaml", environ={}), "regression")


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite registry for the session (a fresh one costs seconds of migrations); tests use their own models."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def _quick(params: Params, tmp_path: Path, tracking_uri: str, name: str) -> Params:
    return params.model_copy(
        update={
            "train": params.train.model_copy(update={"epochs": 8, "checkpoint_dir": tmp_path / "checkpoints"}),
            "model": params.model.model_copy(update={"name": name, "candidates": f"{name}-candidates"}),
            "mlflow": params.mlflow.model_copy(update={"tracking_uri": tracking_uri}),
        }
    )


@pytest.fixture
def quick(params: Params, tmp_path: Path, tracking_uri: str, request: pytest.FixtureRequest) -> Params:
    """Fast settings, models of this test's own, private checkpoints (Data Docs still land in gx/uncommitted/)."""
    return _quick(params, tmp_path, tracking_uri, request.node.name[:60])


@pytest.fixture
def quick_regression(regression: Params, tmp_path: Path, tracking_uri: str, request: pytest.FixtureRequest) -> Params:
    """`quick` for regression of the body mass."""
    return _quick(regression, tmp_path, tracking_uri, request.node.name[:60])


@pytest.fixture
def reports(tmp_path: Path) -> Reports:
    return Reports(tmp_path / "reports")


@pytest.fixture(scope="session")
def features() -> pd.DataFrame:
    """The shipped data's features, as the model sees them."""
    params = as_task(load_params(PROJECT_ROOT / "params.yaml", environ={}), "classification")
    frame = read_table(PROJECT_ROOT / params.data.path)
    return to_dataset(frame, params.data, class_names(frame, params.data)).features


@pytest.fixture(scope="session")
def bundle(features: pd.DataFrame) -> ModelBundle:
    """An untrained network behind a fitted preprocessor: enough to test everything but learning."""
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    settings = ModelParams(name="bundle", hidden_sizes=[16, 8], dropout=0.1)
    return build_bundle(Preprocessor.fit(features), classes, settings)


@pytest.fixture(scope="session")
def exported(bundle: ModelBundle, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return exported_bundle(bundle, tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def prediction_log_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs") / "predictions.jsonl"


@pytest.fixture(scope="module")
def server(exported: Path, prediction_log_path: Path) -> Iterator[str]:
    """A server of the module's own, so each module counts its own requests in /metrics."""
    with running(create_app(exported, PredictionLog(prediction_log_path))) as url:
        yield url


@dataclass(frozen=True)
class SigningKeys:
    private: Path
    public: Path


@pytest.fixture(scope="session", autouse=True)
def signing_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKeys]:
    """A throw-away EC key pair; promotions in this session sign with it (MODEL_SIGNING_KEY), as on
    a laptop. A test that verifies sets MODEL_SIGNING_PUBLIC_KEY itself."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    directory = tmp_path_factory.mktemp("keys")
    key = ec.generate_private_key(ec.SECP256R1())
    keys = SigningKeys(directory / "signing.pem", directory / "signing.pub.pem")
    keys.private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    keys.public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODEL_SIGNING_KEY", str(keys.private))
        yield keys
