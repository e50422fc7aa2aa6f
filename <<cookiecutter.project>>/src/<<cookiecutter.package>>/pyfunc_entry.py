"""MLflow models-from-code entry point: MLflow runs this file to build the model on load,
so nothing is unpickled from the registry."""

import mlflow

from << cookiecutter.package >>.mlflow_model import TabularPyfunc

mlflow.models.set_model(TabularPyfunc())
