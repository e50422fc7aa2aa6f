"""In CI, credentials travel in MLflow's variables, never in the tracking URI that logs repeat."""

import pytest

from << cookiecutter.package >>.config import ConfigError
from << cookiecutter.package >>.tracking import connect
from tests.helpers import PASSWORD, with_settings


@pytest.mark.parametrize("variable", ["CI", "GITHUB_ACTIONS"])
def test_ci_refuses_a_tracking_uri_with_a_password_without_repeating_it(params, monkeypatch, variable):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv(variable, "true")
    with_password = with_settings(params, "mlflow", tracking_uri=f"http://ci-user:{PASSWORD}@mlflow.example:5000")
    with pytest.raises(ConfigError) as refused:
        connect(with_password)
    message = str(refused.value)
    assert "MLFLOW_TRACKING_USERNAME" in message and "MLFLOW_TRACKING_PASSWORD" in message
    assert PASSWORD not in message and "mlflow.example:5000" in message
