"""MLflow models-from-code entry point: MLflow runs this file to build the model on load, so
nothing is unpickled. Only for those who serve with MLflow; the pipeline itself never runs
code stored in the registry (it reads the bundle's data files, see `promotion/registry.py`)."""

import mlflow

from << cookiecutter.package >>.training.registration import TabularPyfunc

mlflow.models.set_model(TabularPyfunc())
