"""The serving image under load: size, start-up, latency and throughput against the serving budget.

Measures the image's size and what it adds over its base image, the time from container start
to a ready /health, and p50/p99 latency and requests/s of single-row POSTs at concurrency 1 and
8 (wrk, loopback only). Prints a table and the serving budget (below), and writes
reports/serve_bench.json. Nothing here serves a registered version through MLflow: a version
holds no code to serve, and a benchmark must not run what a registry holds. Run from the
project root after `make image`:

    make bench-serve            # or: python scripts/bench_serve.py --image NAME [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from << cookiecutter.package >>.config import Params, load_params
from << cookiecutter.package >>.data import class_names, read_table, to_dataset
from << cookiecutter.package >>.packaging.image import (
    detect_engine,
    image_config,
    image_size,
    image_tag,
    model_metadata,
    running,
)
from << cookiecutter.package >>.paths import Reports

CONCURRENCY = (1, 8)
READY_TIMEOUT_S = 180
BASE_LABEL = "org.opencontainers.image.base.name"
MB = 10**6
# wrk reports through this hook: one JSON line that the script reads back
WRK_REPORT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format('WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    errors.connect + errors.read + errors.write + errors.status + errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(url: str, process: subprocess.Popen, started: float) -> float:
    """Seconds from `started` until `url` answers 200; fails if the server exits or takes too long."""
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL built here
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.02)
    raise RuntimeError(f"{url} not ready after {READY_TIMEOUT_S} s")


def one_row(params: Params) -> dict:
    """The first complete row of the project's data, as the JSON both servers accept."""
    frame = read_table(params.data.path, params.data.na_values)
    features = to_dataset(frame, params.data, class_names(frame, params.data)).features.dropna()
    return {"dataframe_records": features.head(1).to_dict(orient="records")}


def load(url: str, body: str, connections: int, seconds: int) -> dict[str, float]:
    """wrk with `connections` open connections POSTing `body` for `seconds`."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        script.write(f"wrk.body = [==[{body}]==]\n{WRK_REPORT}")
        script.flush()
        command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", script.name, url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^WRK (\{.*\})$", output, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no report from wrk:\n{output}")
    raw = json.loads(match[1])
    if raw["errors"]:
        raise RuntimeError(f"{raw['errors']} failed requests against {url}:\n{output}")
    return {
        "requests_per_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
    }


def handler_p99_ms(metrics: str) -> float:
    """Upper bound of the latency bucket holding the 99th percentile of /predict, as the server itself
    timed it: what the model and the checks cost, without queueing and scheduling on this machine."""
    buckets = [
        (float(bound), float(count))
        for bound, count in re.findall(
            r'^http_request_duration_seconds_bucket\{le="([^"]+)",path="/predict"\} (\S+)$', metrics, re.M
        )
    ]
    total = buckets[-1][1]
    return 1000 * next(bound for bound, count in buckets if count >= 0.99 * total)


def measure(process: subprocess.Popen, started: float, port: int, path: str, body: str, seconds: int) -> dict:
    """Start-to-ready time of a starting server, then its latency and throughput at each concurrency."""
    base_url = f"http://127.0.0.1:{port}"
    ready = wait_ready(f"{base_url}/health", process, started)
    load(f"{base_url}{path}", body, 1, 2)  # warm-up, not reported
    cells = {f"c{connections}": load(f"{base_url}{path}", body, connections, seconds) for connections in CONCURRENCY}
    return {"start_to_ready_s": ready, **cells}


def table(report: dict) -> str:
    ours = report["servers"]["image"]
    lines = [f"{'':28}{'image (ONNX Runtime)':>22}"]
    image = report["image"]
    lines.append(f"{'image size MB':28}{image['size_bytes'] / MB:22.0f}")
    lines.append(f"{'  added over base MB':28}{image['added_bytes'] / MB:22.0f}   (base {image['base']})")
    lines.append(f"{'start to ready s':28}{ours['start_to_ready_s']:22.2f}")
    for cell in (f"c{connections}" for connections in CONCURRENCY):
        for key, label in (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms"), ("requests_per_s", "req/s")):
            lines.append(f"{f'{cell} {label}':28}{ours[cell][key]:22.2f}")
    lines.append(
        f"{'p99 inside the server ms':28}{ours['handler_p99_ms']:22.2f}   (histogram bucket bound, all requests)"
    )
    return "\n".join(lines)


def targets(report: dict) -> dict[str, bool]:
    """The serving budget: what a single-row model server must beat to be worth its own image."""
    ours = report["servers"]["image"]
    return {
        "added over base <= 300 MB": report["image"]["added_bytes"] <= 300 * MB,
        "p99 at c=1 <= 3 ms": ours["c1"]["p99_ms"] <= 3,
        "p99 at c=8 <= 20 ms": ours["c8"]["p99_ms"] <= 20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--image", required=True, help="image name (the tag is model-<exported version>)")
    parser.add_argument("--engine", help="docker or buildah (default: docker if its engine answers, else buildah)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per concurrency level")
    args = parser.parse_args()

    params = load_params(args.params)
    engine = detect_engine(args.engine)
    tag, version = image_tag(args.image, Path()), model_metadata(Path())["model_version"]
    base = image_config(engine, tag)["Labels"][BASE_LABEL]
    size, base_size = image_size(engine, tag), image_size(engine, base)
    body = json.dumps(one_row(params))
    report: dict = {
        "image": {"tag": tag, "engine": engine, "base": base, "size_bytes": size, "added_bytes": size - base_size},
        "model": {"name": params.model.name, "version": version},
        "load": {"tool": "wrk -t1", "body": body, "seconds_per_level": args.duration},
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()},
        "servers": {},
    }
    port = free_port()
    started = time.perf_counter()
    with running(engine, tag, port) as process:
        report["servers"]["image"] = measure(process, started, port, "/predict", body, args.duration)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:  # noqa: S310 - loopback
            report["servers"]["image"]["handler_p99_ms"] = handler_p99_ms(response.read().decode())
    report["targets"] = targets(report)

    print(table(report))
    for name, met in report["targets"].items():
        print(f"  target {name}: {'met' if met else 'MISSED'}")
    reports = Reports()
    print(f"wrote {reports.write(reports.serve_bench, json.dumps(report, indent=2) + chr(10))}")


if __name__ == "__main__":
    main()
