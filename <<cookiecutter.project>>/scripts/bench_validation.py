"""Time GX validation on a large table (default 1,000,000 rows x 10 columns).

The table is the shipped penguins data resampled with jitter, plus three derived columns, so
the suite built from it has every kind of check the real one has (dtype, not-null, range,
categories, label classes, column list, row count). Everything runs in a temporary copy of
gx/, so the project's suite and Data Docs are untouched. Run from the project root:

    python scripts/bench_validation.py [--rows 1000000] [--format parquet|csv] [--repeat 3]

`--memory` also runs `validate` on the file in a fresh process and prints its peak RSS: the
number behind the memory bound in docs/scaling.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from << cookiecutter.package >>.config import load_params
from << cookiecutter.package >>.data import read_table
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.validation.checks import check_frame
from << cookiecutter.package >>.validation.report import run_validation
from << cookiecutter.package >>.validation.suite import build_suite

SUITE = "bench"


def synthetic(reference: pd.DataFrame, rows: int, seed: int = 0) -> pd.DataFrame:
    """`rows` rows shaped like the reference: resampled, numeric columns jittered, 3 extra columns."""
    rng = np.random.default_rng(seed)
    frame = reference.sample(n=rows, replace=True, random_state=seed).reset_index(drop=True)
    for column in frame.select_dtypes("float").columns:
        frame[column] = (frame[column] + rng.normal(0, 0.1, rows)).round(2)
    frame["year"] = rng.integers(2007, 2010, rows)
    frame["bill_ratio"] = (frame["bill_length_mm"] / frame["bill_depth_mm"]).round(3)
    frame["clutch_completion"] = rng.choice(["Yes", "No"], rows)
    return frame


def timed(action: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """(first, best of the rest) wall seconds, and the action's last result."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return times[0], min(times[1:] or times), result


# Runs the real CLI in a child process and reports that process's own peak resident memory.
PEAK_RSS = (
    "import resource, sys\n"
    "from << cookiecutter.package >>.cli import main\n"
    "status = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    "sys.exit(status)\n"
)


def validate_peak_rss(params: Path, data: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in MiB) of `validate --data DATA` in a fresh process."""
    started = time.perf_counter()
    command = [sys.executable, "-c", PEAK_RSS, "--params", str(params), "validate", "--data", str(data)]
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}  # the same package, from any directory
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=environ)
    return time.perf_counter() - started, int(result.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS of `validate` on the file")
    args = parser.parse_args()

    params = load_params(args.params)
    reference = read_table(params.data.path, params.data.na_values)
    project = Path.cwd()
    with tempfile.TemporaryDirectory() as workdir:
        shutil.copytree(project / "gx", Path(workdir) / "gx", ignore=shutil.ignore_patterns("uncommitted"))
        os.chdir(workdir)
        frame = synthetic(reference, args.rows)
        data = Path(workdir) / f"bench.{args.format}"
        if args.format == "parquet":
            frame.to_parquet(data, index=False)
        else:
            frame.to_csv(data, index=False)
        params = params.model_copy(
            update={
                "data": params.data.model_copy(update={"path": data}),
                "validation": params.validation.model_copy(update={"suite": SUITE}),
            }
        )
        build_suite(params)
        target = params.data.target
        print(f"{len(frame):,} rows x {frame.shape[1]} columns, {data.stat().st_size / 1e6:.1f} MB {args.format}")
        rows = [
            ("read_table", *timed(lambda: read_table(data), args.repeat)[:2]),
            ("GX checkpoint, no Data Docs", *timed(lambda: check_frame(frame, SUITE, target, False), args.repeat)[:2]),
            ("GX checkpoint + Data Docs", *timed(lambda: check_frame(frame, SUITE, target), args.repeat)[:2]),
        ]
        reports = Reports(Path(workdir) / "reports")
        with contextlib.redirect_stdout(io.StringIO()):  # its summary, once per repeat
            first, best, passed = timed(lambda: run_validation(params, reports), args.repeat)
        rows.append(("run_validation (read, hash, GX, report)", first, best))
        if args.memory:
            bench_params = Path(workdir) / "bench-params.yaml"
            bench_params.write_text(yaml.safe_dump(params.model_dump(mode="json")))
            seconds, peak_mib = validate_peak_rss(bench_params, data)
            rows.append((f"validate CLI, fresh process: peak RSS {peak_mib} MiB", seconds, seconds))
        os.chdir(project)
    print(f"\n{'step':42} {'first s':>8} {'best s':>8}")
    for name, first, best in rows:
        print(f"{name:42} {first:8.2f} {best:8.2f}")
    print(f"validation passed: {passed}")


if __name__ == "__main__":
    main()
