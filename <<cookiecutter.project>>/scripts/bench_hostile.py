"""The server under hostile load: does /health stay fast and memory bounded while clients abuse it?

Starts the real server (`python -m << cookiecutter.package >>.serving.app`, the image's entry point,
with its default limits) on loopback, then for `--seconds` runs `--clients` hostile clients in a
process of their own, in four kinds:

    huge       a body declared (or streamed, chunked) far past the limit      -> 413, connection closed
    slowloris  a body dripped one byte at a time                              -> 408 after the body timeout
    nested     200 KiB of '['                                                 -> 422
    many-keys  one record of 17,000 unknown fields                      -> 422 with one error

while this process probes GET /health every 10 ms. It prints the outcomes of each kind, the
/health latency (p50, p99, max) and the server's peak RSS, and exits 1 when p99 passes
`--max-p99-ms` or the peak RSS `--max-rss-mb`, 2 when a hostile request got an unexpected answer
or the server was not healthy afterwards. Run from the project root (`make bench-hostile`):

    python scripts/bench_hostile.py [--seconds 15] [--clients 16] [--model-dir build/model] [--json]

Without `--model-dir`, an untrained network is exported to a temporary directory: the bench
measures the server, not the model.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SERVER = "<< cookiecutter.package >>.serving.app"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
KINDS = ("huge", "slowloris", "nested", "many-keys")
EXPECTED = {"huge": {"413"}, "slowloris": {"408", "pending"}, "nested": {"422"}, "many-keys": {"422"}}
NESTED = b"[" * (200 * 1024)
MANY_KEYS = json.dumps([{f"k{index:06d}": 0 for index in range(17_000)}]).encode()


def export_untrained(directory: Path) -> Path:
    """An untrained network on the shipped data's preprocessor, exported as `make export` does.
    Imported here, not at the top: the hostile clients' process re-imports this module, and
    must not pay for torch."""
    from << cookiecutter.package >>.config import load_params
    from << cookiecutter.package >>.data import class_names, read_table, to_dataset
    from << cookiecutter.package >>.preprocessing import Preprocessor
    from << cookiecutter.package >>.training.model import bundle_to_train
    from << cookiecutter.package >>.training.onnx_export import export_bundle

    params = load_params(PROJECT_ROOT / "params.yaml", environ={})
    frame = read_table(PROJECT_ROOT / params.data.path, params.data.na_values)
    classes = class_names(frame, params.data)
    dataset = to_dataset(frame, params.data, classes)
    preprocessor = Preprocessor.fit(dataset.features)
    bundle = bundle_to_train(preprocessor, classes, params.model, params.data.task, dataset.labels)
    metadata = {"model_name": "bench-hostile", "model_version": "0", "run_id": "none"}
    return export_bundle(bundle, directory, metadata)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_server(model_dir: Path, port: int, log_dir: Path) -> Iterator[subprocess.Popen]:
    """The server as the image runs it, in a process of its own (so its RSS is its own)."""
    command = [sys.executable, "-m", SERVER, "--model-dir", str(model_dir), "--port", str(port)]
    command += ["--log-level", "warning", "--prediction-log", str(log_dir / "predictions.jsonl")]
    env = os.environ | {"PYTHONPATH": str(PROJECT_ROOT / "src")}
    server = subprocess.Popen(command, env=env)
    try:
        deadline = time.monotonic() + 60
        while health_status(port) != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start")
            time.sleep(0.1)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=30)


def health_status(port: int) -> int | None:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", "/health")
        return connection.getresponse().status
    except OSError:
        return None


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the most resident memory the process has had (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- the hostile clients: asyncio in a child process, so they do not share a GIL with the probe


async def _answer(reader: asyncio.StreamReader) -> tuple[str, bytes]:
    """The status and body of a response, read as it arrives: a server that closes mid-upload
    resets the connection, and only what was read before the reset counts."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")), 0
    )
    return head.split(b" ", 2)[1].decode(), await reader.readexactly(length)


async def _exchange(port: int, head: bytes, send_body: Callable[[asyncio.StreamWriter], Awaitable[None]]) -> str:
    """Send a request while reading its answer, so an answer that comes before the body is seen."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head)
    answer = asyncio.ensure_future(_answer(reader))
    try:
        await send_body(writer)
    except OSError:
        pass  # the server closed the connection mid-body: its answer, if any, is already here
    try:
        status, body = await asyncio.wait_for(answer, 10)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        status, body = "reset", b""
    finally:
        writer.close()
    return status if status != "422" or len(json.loads(body)["detail"]) <= 21 else "422-unbounded"


def _head(extra: str) -> bytes:
    return f"POST /predict HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n{extra}\r\n".encode()


async def _huge(port: int, round_: int) -> str:
    """Alternately a body declared at 100 MB and one streamed in chunks with no declared size."""
    chunk = b"[" * 65536

    async def flood(writer: asyncio.StreamWriter, framed: bool) -> None:
        for _ in range(1600):  # 100 MB
            writer.write(b"10000\r\n" + chunk + b"\r\n" if framed else chunk)
            await writer.drain()

    if round_ % 2:
        return await _exchange(port, _head("Transfer-Encoding: chunked\r\n"), lambda writer: flood(writer, True))
    return await _exchange(port, _head("Content-Length: 104857600\r\n"), lambda writer: flood(writer, False))


async def _slowloris(port: int, deadline: float) -> str:
    async def drip(writer: asyncio.StreamWriter) -> None:
        while time.monotonic() < deadline:
            writer.write(b"[")
            await writer.drain()
            await asyncio.sleep(0.5)

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(_head("Content-Length: 100000\r\n"))
    answer = asyncio.ensure_future(_answer(reader))
    dripping = asyncio.ensure_future(drip(writer))
    done, _ = await asyncio.wait([answer], timeout=max(0.0, deadline - time.monotonic()))
    dripping.cancel()
    writer.close()
    if not done:
        answer.cancel()
        return "pending"
    return "reset" if answer.exception() else answer.result()[0]


async def _send(port: int, body: bytes) -> str:
    async def write(writer: asyncio.StreamWriter) -> None:
        writer.write(body)
        await writer.drain()

    return await _exchange(port, _head(f"Content-Length: {len(body)}\r\nConnection: close\r\n"), write)


async def _client(kind: str, port: int, deadline: float, outcomes: Counter) -> None:
    round_ = 0
    while time.monotonic() < deadline:
        if kind == "huge":
            status = await _huge(port, round_)
        elif kind == "slowloris":
            status = await _slowloris(port, deadline)
        else:
            status = await _send(port, NESTED if kind == "nested" else MANY_KEYS)
        outcomes[f"{kind} {status}"] += 1
        round_ += 1


def hostile_load(port: int, seconds: float, clients: int, results: multiprocessing.Queue) -> None:
    async def run() -> Counter:
        outcomes: Counter = Counter()
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(_client(KINDS[index % 4], port, deadline, outcomes) for index in range(clients)))
        return outcomes

    results.put(dict(asyncio.run(run())))


# ---- the probe and the report


def probe_health(port: int, until: Callable[[], bool]) -> tuple[list[float], int]:
    """/health latencies in ms over one keep-alive connection (reopened after a failure), and failures."""
    latencies, failures, connection = [], 0, None
    while not until():
        connection = connection or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        started = time.perf_counter()
        try:
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            ok = response.status == 200
        except OSError:
            ok, connection = False, None
        latencies.append((time.perf_counter() - started) * 1000)
        failures += not ok
        time.sleep(0.01)
    return latencies, failures


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def unexpected(outcomes: dict[str, int]) -> list[str]:
    """Outcomes a kind should never have: anything but its refusal (a reset huge upload is allowed:
    the server closed the connection while the client was still sending, as it should)."""
    allowed = {f"{kind} {status}" for kind, statuses in EXPECTED.items() for status in statuses} | {"huge reset"}
    return sorted(outcome for outcome in outcomes if outcome not in allowed)


def measure(args: argparse.Namespace, model_dir: Path, log_dir: Path) -> dict:
    port = free_port()
    with running_server(model_dir, port, log_dir) as server:
        spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing of this one's imports
        results = spawn.Queue()
        load = spawn.Process(target=hostile_load, args=(port, args.seconds, args.clients, results))
        load.start()
        latencies, failures = probe_health(port, lambda: not load.is_alive())
        outcomes = results.get(timeout=30)
        load.join()
        return {
            "seconds": args.seconds,
            "clients": args.clients,
            "outcomes": dict(sorted(outcomes.items())),
            "unexpected": unexpected(outcomes),
            "health_probes": len(latencies),
            "health_failures": failures,
            "health_p50_ms": round(statistics.median(latencies), 2),
            "health_p99_ms": round(percentile(latencies, 0.99), 2),
            "health_max_ms": round(max(latencies), 2),
            "peak_rss_mb": round(peak_rss_mb(server.pid), 1),
            "healthy_after": health_status(port) == 200,
        }


def verdict(report: dict, max_p99_ms: float, max_rss_mb: float) -> int:
    if report["unexpected"] or report["health_failures"] or not report["healthy_after"]:
        return 2
    return 1 if report["health_p99_ms"] > max_p99_ms or report["peak_rss_mb"] > max_rss_mb else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--model-dir", type=Path, help="an exported model (default: an untrained one)")
    parser.add_argument("--max-p99-ms", type=float, default=50)
    parser.add_argument("--max-rss-mb", type=float, default=300, help="idle, the server holds about 100 MB")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or export_untrained(Path(scratch) / "model")
        report = measure(args, model_dir, Path(scratch))
    if args.json:
        print(json.dumps(report))
    else:
        print("\n".join(f"{key:>16}  {value}" for key, value in report.items()))
    limits = f"limits: /health p99 <= {args.max_p99_ms} ms, peak RSS <= {args.max_rss_mb} MB"
    print(limits, file=sys.stderr)
    sys.exit(verdict(report, args.max_p99_ms, args.max_rss_mb))


if __name__ == "__main__":
    main()
