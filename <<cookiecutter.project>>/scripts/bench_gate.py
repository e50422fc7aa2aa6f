"""The gate at scale: read, score and bootstrap on synthetic Parquet evaluation sets of 10^4..10^7 rows.

For each size it writes a table shaped like the shipped data (`bench_validation.synthetic`:
resampled, jittered, three extra columns) to Parquet with `data.eval_fraction` set to 0.9, so
the table holds about size / 0.9 rows, then runs the gate's own code in a fresh process: the
streaming pass (`score_eval_set`: read by row groups, split, hash, score the candidate and
the champion in batches) and the paired bootstrap of every metric with `gate:` settings. The
two models are untrained networks of the configured kind and size (`model:`), exported once as
served bundles and scored with ONNX Runtime, as the gate scores them (the measured process
imports no torch): scoring costs the same whatever the weights. Not measured: the MLflow calls (connect, fetch
both bundles, tag the version), whose cost does not grow with the rows (`make bench` times
the whole `gate` stage on the shipped data). Run from the project root (`make bench-gate`):

    python scripts/bench_gate.py [--sizes 10000 100000 1000000 10000000]

Prints a table and writes reports/gate_bench.json. Targets on a 2-core machine: bootstrap
<= 0.5 s for label metrics at any size, <= 5 s for log_loss at 10^7 rows; the whole gate at
10^7 rows <= 60 s with a peak RSS <= 3 GiB.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from bench_validation import synthetic

from << cookiecutter.package >>.config import Params, load_params
from << cookiecutter.package >>.data import class_names, features_of, label_indices, read_table
from << cookiecutter.package >>.metrics import METRICS, task_metrics
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.promotion.bootstrap import paired_bootstrap
from << cookiecutter.package >>.promotion.evaluation import Stopwatch, score_eval_set
from << cookiecutter.package >>.serving.runtime import ServedModel

EVAL_FRACTION = 0.9
WRITE_ROWS = 1_000_000  # rows generated and written at a time (one row group each)


def write_table(params: Params, eval_rows: int, path: Path) -> int:
    """A synthetic table with about `eval_rows` evaluation rows; returns its row count."""
    reference = read_table(params.data.path, params.data.na_values)
    rows = math.ceil(eval_rows / EVAL_FRACTION)
    with pq.ParquetWriter(path, pa.Schema.from_pandas(synthetic(reference, 1), preserve_index=False)) as writer:
        for seed, start in enumerate(range(0, rows, WRITE_ROWS)):
            part = synthetic(reference, min(WRITE_ROWS, rows - start), seed=seed)
            writer.write_table(pa.Table.from_pandas(part, preserve_index=False))
    return rows


def export_models(params: Params, directory: Path) -> None:
    """Candidate and champion as served bundles in `directory`/candidate and /champion: two
    differently seeded networks of the configured architecture and task."""
    import torch

    from << cookiecutter.package >>.training.model import bundle_to_train
    from << cookiecutter.package >>.training.onnx_export import export_bundle

    sample = synthetic(read_table(params.data.path, params.data.na_values), 10_000)
    preprocessor = Preprocessor.fit(features_of(sample, params.data))
    classes = class_names(sample, params.data)
    labels = label_indices(sample[params.data.target], params.data, classes)
    for seed, role in ((1, "candidate"), (2, "champion")):
        torch.manual_seed(seed)
        bundle = bundle_to_train(preprocessor, classes, params.model, params.data.task, labels)
        export_bundle(bundle, directory / role, {})


def measure(params: Params, path: Path, models: Path) -> dict:
    """Seconds per phase and the peak RSS of this process: the gate's path on the table at `path`."""
    data = params.data.model_copy(update={"path": path, "eval_fraction": EVAL_FRACTION})
    candidate, champion = ServedModel.load(models / "candidate"), ServedModel.load(models / "champion")
    stopwatch = Stopwatch()
    scored = score_eval_set(data, candidate, champion, stopwatch)
    with stopwatch.phase("values"):  # both models' value of every metric
        for metric in (METRICS[name] for name in task_metrics(params.data.task)):
            metric.compute(scored.labels, scored.candidate_proba)
            metric.compute(scored.labels, scored.baseline_proba)
    bootstrap, settings = {}, params.gate
    for name in task_metrics(params.data.task):
        metric = METRICS[name]
        started = time.perf_counter()
        paired_bootstrap(
            metric, scored.labels, scored.candidate_proba, scored.baseline_proba,
            settings.bootstrap_samples, settings.confidence, settings.seed,
        )  # fmt: skip
        bootstrap[name] = time.perf_counter() - started
    return {
        "eval_rows": len(scored.labels),
        "rows_read": scored.rows_read,
        "seconds": dict(stopwatch.seconds),
        "bootstrap_seconds": bootstrap,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "load_average": os.getloadavg()[0],  # other work on the machine slows every phase
    }


def run_size(params_path: Path, params: Params, eval_rows: int, workdir: Path) -> dict:
    path = workdir / f"eval-{eval_rows}.parquet"
    write_table(params, eval_rows, path)
    command = [sys.executable, __file__, "--params", str(params_path), "--measure", str(path)]
    command += ["--models", str(workdir)]
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=environ)
    path.unlink()
    return json.loads(result.stdout)


def print_table(results: list[dict]) -> None:
    phases = {"read": 7, "score_candidate": 7, "score_baseline": 7, "values": 8}  # column widths
    print(f"{'eval rows':>10} {'read s':>7} {'cand s':>7} {'champ s':>7} {'values s':>8} ", end="")
    names = list(results[0]["bootstrap_seconds"])  # the metrics of the task
    print(" ".join(f"{'bs ' + name[:8]:>11}" for name in names), f"{'gate s':>7} {'peak RSS':>9} {'load':>5}")
    for result in results:
        seconds, bootstrap = result["seconds"], result["bootstrap_seconds"]
        cells = [f"{seconds[name]:{width}.2f}" for name, width in phases.items()]
        cells += [f"{bootstrap[name]:11.3f}" for name in names]
        line = f"{result['eval_rows']:>10,} " + " ".join(cells)
        total = sum(seconds[phase] for phase in phases) + max(bootstrap.values())
        print(line + f" {total:7.1f} {result['peak_rss_mib']:>5} MiB {result['load_average']:5.1f}")
    print("bs: the paired bootstrap of that metric; gate s: every phase and the slowest bootstrap;")
    print("load: the 1-minute load average as the size finished (other work slows every phase)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6, 10**7])
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child process's job
    parser.add_argument("--models", type=Path, help=argparse.SUPPRESS)  # the bundles the child scores
    args = parser.parse_args()
    params = load_params(args.params)
    if args.measure:
        print(json.dumps(measure(params, args.measure, args.models)))
        return

    results = []
    with tempfile.TemporaryDirectory() as workdir:
        export_models(params, Path(workdir))
        for size in args.sizes:
            results.append(run_size(args.params, params, size, Path(workdir)))
            print(f"{size:,} rows done", file=sys.stderr)
    print_table(results)
    reports = Reports()
    reports.write(reports.gate_bench, json.dumps({"cpus": os.cpu_count(), "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
