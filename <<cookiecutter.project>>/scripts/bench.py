"""Wall time of each pipeline stage on the shipped data, then GX validation on 1M rows.

Each stage runs as CI runs it (`python -m << cookiecutter.package >> STAGE`, a fresh process,
imports included) in a temporary copy of the project with its own MLflow SQLite file, so the
project's reports and registry are untouched. Writes reports/bench.json. Run from the project
root: `make bench` (targets on a 2-core machine: validate + train + gate <= 60 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from << cookiecutter.package >>.paths import Reports

STAGES = ("validate", "train", "gate")
PROJECT_FILES = ("params.yaml", "data", "gx", "src")


def time_stages(params: Path) -> dict[str, float]:
    seconds = {}
    with tempfile.TemporaryDirectory() as workdir:
        for name in PROJECT_FILES:
            source = Path(name)
            copy = shutil.copytree if source.is_dir() else shutil.copy
            copy(source, Path(workdir) / name)
        shutil.copy(params, Path(workdir) / "params.yaml")
        environ = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir}/mlflow.db", "PYTHONPATH": "src"}
        for stage in STAGES:
            started = time.perf_counter()
            command = [sys.executable, "-m", "<< cookiecutter.package >>", "--params", "params.yaml", stage]
            subprocess.run(command, cwd=workdir, env=environ, check=True, stdout=subprocess.DEVNULL)
            seconds[stage] = time.perf_counter() - started
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the validation benchmark")
    args = parser.parse_args()

    seconds = time_stages(args.params)
    print(f"{'stage':10} {'wall s':>8}")
    for stage, value in seconds.items():
        print(f"{stage:10} {value:8.2f}")
    print(f"{'total':10} {sum(seconds.values()):8.2f}  (target <= 60 s on 2 cores)\n")
    reports = Reports()
    reports.write(reports.bench, json.dumps({"stage_seconds": seconds}, indent=2) + "\n")
    validation = [sys.executable, str(Path(__file__).with_name("bench_validation.py")), "--rows", str(args.rows)]
    subprocess.run([*validation, "--params", str(args.params)], check=True)


if __name__ == "__main__":
    main()
