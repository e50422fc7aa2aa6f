#!/usr/bin/env bash
# Prepare the CUDA check for a lent GPU machine (no registry access there): Python 3.12 wheels
# of what its image lacks (MLflow and pydantic with their needs) into .whl/, and a rendered,
# validated default project into .gpu/. Both folders are git-ignored via .git/info/exclude;
# carry them to the machine and run tests/gpu/cuda_check.sh there (docs/decisions.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .git/info .whl .gpu
for path in /.whl/ /.gpu/; do grep -qx "$path" .git/info/exclude || echo "$path" >> .git/info/exclude; done
wheels=(mlflow==3.17.2 mlflow-skinny==3.17.2 mlflow-tracing==3.17.2 alembic mako sqlalchemy sqlparse cachetools
  databricks-sdk gitpython gitdb smmap importlib-metadata opentelemetry-api opentelemetry-proto opentelemetry-sdk
  opentelemetry-semantic-conventions pydantic pydantic-core annotated-types typing-inspection python-dotenv
  prettytable wcwidth fastapi starlette google-auth pyasn1 pyasn1-modules cryptography cffi pycparser uvicorn)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl "${wheels[@]}"
rm -rf .gpu/penguin-classifier
.venv/bin/cookiecutter --no-input . -o .gpu
make -C .gpu/penguin-classifier validate PYTHON="$PWD/.venv/bin/python"
