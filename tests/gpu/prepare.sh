#!/usr/bin/env bash
# Prepare the CUDA check for a lent GPU machine (no registry access there): a rendered,
# validated default project into .gpu/, and Python 3.12 wheels of what the machine's image lacks
# (MLflow and pydantic with their needs, at the versions of that project's uv.lock) into .whl/.
# Both folders are git-ignored via .git/info/exclude; carry them to the machine and run
# tests/gpu/cuda_check.sh there (docs/decisions.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .git/info .whl .gpu
for path in /.whl/ /.gpu/; do grep -qx "$path" .git/info/exclude || echo "$path" >> .git/info/exclude; done
rm -rf .gpu/penguin-classifier
.venv/bin/cookiecutter --no-input . -o .gpu
make -C .gpu/penguin-classifier validate PYTHON="$PWD/.venv/bin/python"
# The packages the machine's image lacks, at the versions the project's uv.lock holds (its
# torch and CUDA libraries are the image's own).
names=(mlflow mlflow-skinny mlflow-tracing alembic mako sqlalchemy sqlparse cachetools
  databricks-sdk gitpython gitdb smmap importlib-metadata opentelemetry-api opentelemetry-proto opentelemetry-sdk
  opentelemetry-semantic-conventions pydantic pydantic-core annotated-types typing-inspection python-dotenv
  prettytable wcwidth fastapi starlette google-auth pyasn1 pyasn1-modules cryptography cffi pycparser uvicorn)
(cd .gpu/penguin-classifier && "$OLDPWD/.venv/bin/uv" export --frozen --extra train --extra serve --no-emit-project \
  --no-hashes --no-header --format requirements-txt) | sed 's/ *;.*//' > .whl/locked.txt
pins=()
for name in "${names[@]}"; do
  pin="$(grep -m1 -i "^${name}==" .whl/locked.txt)" || { echo "$name is not in uv.lock" >&2; exit 1; }
  pins+=("$pin")
done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl "${pins[@]}"
