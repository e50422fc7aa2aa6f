"""`make serve` and the image's entry point: the exported model over HTTP, with Prometheus metrics.

    POST /predict   a JSON list of records (or {"dataframe_records": [...]}) -> labels + probabilities,
                    or numbers (regression)
    GET  /health    200 with the model's name, version, digest and signature check (the port opens once it is loaded)

With a trusted signer configured (MODEL_SIGNING_PUBLIC_KEY or MODEL_SIGNING_IDENTITY, see
signing.py) the server refuses to start on a bundle that is unsigned or differs from what was
signed, naming the file.
    GET  /metrics   requests by path and status, latency histogram, predicted classes, model info

One process, one event loop (uvloop where installed; h11, or httptools with SERVE_HTTP): inference of a small model
takes microseconds, so it runs inline instead of paying a thread hand-off per request. Scale
out with replicas; each has its own metrics.

What one client can cost is bounded (README > "Serving" lists the settings): a body over
SERVE_MAX_BODY_BYTES is a 413 at once, a body not sent within SERVE_BODY_TIMEOUT_S a 408, and
both close the connection instead of reading the rest; uvicorn caps connections
(SERVE_LIMIT_CONCURRENCY), idle keep-alive (SERVE_TIMEOUT_KEEP_ALIVE_S) and header size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from << cookiecutter.package >>.digest import bundle_digest
from << cookiecutter.package >>.monitoring.prediction_log import ClientQuota, PredictionLog
from << cookiecutter.package >>.paths import BUNDLE_FILES, MODEL_DIR, PREDICTION_LOG, signature_file
from << cookiecutter.package >>.serving.runtime import InvalidInput, ServedModel
from << cookiecutter.package >>.signing import SignatureError, trust_configured, verify_bundle

# The one `predicted_class` series a regression model's predictions are counted under
REGRESSION_SERIES = "number"
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
log = logging.getLogger(__name__)


class Metrics:
    """The server's Prometheus metrics, in a registry of their own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests", "Requests by path and status", ["path", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time in the handler: body, checks, inference, response",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.predictions = Counter(
            "model_predictions",
            f"Predictions by predicted class ({REGRESSION_SERIES!r} for a regression model's numbers)",
            ["predicted_class"],
            registry=self.registry,
        )
        self.model = Info("model", "The served model version", registry=self.registry)
        self.prediction_log_failures = Counter(
            "prediction_log_failures",
            "Sampled rows that could not be written to the prediction log",
            registry=self.registry,
        )

    def observe(self, path: str, status: int, started: float) -> None:
        self.requests.labels(path, str(status)).inc()
        self.latency.labels(path).observe(time.perf_counter() - started)


@dataclass(frozen=True)
class RequestLimits:
    """What one request may cost before it is refused. 256 KiB holds the MAX_RECORDS batch of
    a table of about 15 columns; a wider table raises it (SERVE_MAX_BODY_BYTES)."""

    max_body_bytes: int = 256 * 1024
    body_timeout_s: float = 10.0


class Refused(Exception):
    """A request refused before its body was read in full; the connection closes after the answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def response(self) -> JSONResponse:
        """`Connection: close` makes uvicorn drop the connection instead of draining the rest of the body."""
        return JSONResponse({"detail": [{"message": self.message}]}, self.status, headers={"Connection": "close"})


async def _read_bounded(request: Request, limits: RequestLimits) -> bytes:
    """The body, or Refused as soon as its declared or streamed size passes the limit, or it
    takes longer than the body timeout (a slow-loris client holds no connection for long)."""
    too_large = Refused(413, f"body larger than {limits.max_body_bytes} bytes: send smaller batches")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise too_large
    body = bytearray()
    try:
        async with asyncio.timeout(limits.body_timeout_s):
            async for chunk in request.stream():
                body += chunk
                if len(body) > limits.max_body_bytes:
                    raise too_large
    except TimeoutError:
        raise Refused(408, f"body not received within {limits.body_timeout_s} s") from None
    except ClientDisconnect:
        raise Refused(400, "client disconnected before sending the whole body") from None
    return bytes(body)


def _unprocessable(message: str) -> JSONResponse:
    return JSONResponse({"detail": [{"message": message}]}, status_code=422)


def create_app(
    model_dir: Path,
    prediction_log: PredictionLog | None = None,
    limits: RequestLimits | None = None,
    signature: str | None = None,
) -> Starlette:
    """The ASGI app serving the model exported to `model_dir`, loaded at start-up; checked
    requests and their predictions are sampled into `prediction_log` for `make drift`.
    `signature` is `signature_status(model_dir)` when the caller already checked it (the
    command line does, before the port opens); otherwise the app checks it as it starts."""
    limits = limits or RequestLimits()
    metrics = Metrics()
    served: dict[str, ServedModel] = {}
    identity: dict[str, str] = {}  # name, version, run and the digest of the bytes loaded

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        digest = bundle_digest(model_dir)
        identity["model_digest"] = digest
        identity["signature"] = signature or signature_status(model_dir)
        model = ServedModel.load(model_dir)
        identity.update(model_name=model.name, model_version=model.version, run_id=model.release.get("run_id", ""))
        metrics.model.info(identity)
        for name in model.classes or [REGRESSION_SERIES]:
            metrics.predictions.labels(name)
        served["model"] = model
        log.info("serving %s version %s (%s) from %s", model.name, model.version, digest, model_dir)
        yield

    async def predict(request: Request) -> Response:
        started = time.perf_counter()
        response = await _predict(request)
        metrics.observe("/predict", response.status_code, started)
        return response

    async def _predict(request: Request) -> Response:
        model = served.get("model")
        if model is None:
            return JSONResponse({"detail": [{"message": "the model is not loaded yet"}]}, status_code=503)
        try:
            body = await _read_bounded(request, limits)
        except Refused as refused:
            return refused.response()
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:  # not JSON, not UTF-8, or nested too deep
            return _unprocessable(f"body is not valid JSON: {str(error)[:200]}")
        try:
            columns = model.columns(payload)
            result = model.predict_columns(columns)
        except InvalidInput as error:
            return JSONResponse({"detail": error.errors}, status_code=422)
        except Exception:  # noqa: BLE001 - one bad request must never take the server down
            log.exception("prediction failed")
            return JSONResponse({"detail": [{"message": "internal error; see the server log"}]}, status_code=500)
        if model.task == "classification":
            for name, count in Tally(result["predictions"]).items():
                metrics.predictions.labels(name).inc(count)
        else:  # a number is no class to count by, but the no-predictions alert needs the total
            metrics.predictions.labels(REGRESSION_SERIES).inc(len(result["predictions"]))
        if prediction_log:
            try:
                client = request.client.host if request.client else ""
                prediction_log.record(columns, result["predictions"], model.version, client)
            except OSError:  # a full disk must not cost the client its prediction
                metrics.prediction_log_failures.inc()
                log.exception("could not write the prediction log")
        return Response(json.dumps(result), media_type="application/json")

    async def health(_: Request) -> Response:
        """Ready (200) only with the model loaded; uvicorn opens the port after start-up, so a
        probe that connects at all normally sees 200."""
        model = served.get("model")
        if model is None:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse({"status": "ready", **identity})

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/predict", predict, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def signature_status(model_dir: Path) -> str:
    """Either "verified: <signer>", when a trusted signer is configured and the bundle's signature holds
    (SignatureError otherwise, naming the file); "unverified" when no signer is configured."""
    if not trust_configured():
        return "unverified: no trusted signer configured (MODEL_SIGNING_PUBLIC_KEY or MODEL_SIGNING_IDENTITY)"
    return f"verified: {verify_bundle(model_dir, signature_file(model_dir))}"


def _env(name: str, default: str) -> str:
    """An empty variable counts as unset: the Makefile exports each of its inputs, empty unless
    given, so `make serve` without MODEL_DIR= must still serve the default."""
    return os.environ.get(name) or default


def _add_limit_options(parser: argparse.ArgumentParser) -> None:
    """The bounds on one client's cost; each defaults to an environment variable, which is how
    the image is configured (`docker run -e SERVE_MAX_BODY_BYTES=...`)."""
    add = parser.add_argument
    add("--max-body-bytes", type=int, default=int(_env("SERVE_MAX_BODY_BYTES", str(256 * 1024))), help="else 413")
    add("--body-timeout", type=float, default=float(_env("SERVE_BODY_TIMEOUT_S", "10")), help="seconds, else 408")
    add(
        "--limit-concurrency",
        type=int,
        default=int(_env("SERVE_LIMIT_CONCURRENCY", "256")),
        help="open connections and requests in flight; above it, 503",
    )
    add("--timeout-keep-alive", type=int, default=int(_env("SERVE_TIMEOUT_KEEP_ALIVE_S", "5")), help="seconds")
    add(
        "--max-header-bytes",
        type=int,
        default=int(_env("SERVE_MAX_HEADER_BYTES", str(16 * 1024))),
        help="request line and headers, else 400 (h11's max incomplete event size)",
    )
    add(
        "--http",
        choices=["h11", "httptools"],
        default=_env("SERVE_HTTP", "h11"),
        help="h11 bounds the headers; httptools is faster but holds headers of any size (use it behind a proxy)",
    )


def _add_log_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--prediction-log",
        default=_env("PREDICTION_LOG", str(PREDICTION_LOG)),
        help="sample of inputs and predictions for `make drift` ('' turns it off)",
    )
    add("--prediction-log-sample-rate", type=float, default=float(_env("PREDICTION_LOG_SAMPLE_RATE", "1")))
    add("--prediction-log-max-mb", type=float, default=float(_env("PREDICTION_LOG_MAX_MB", "50")))
    add(
        "--prediction-log-client-rows",
        type=int,
        default=int(_env("PREDICTION_LOG_CLIENT_ROWS", "200")),
        help="rows one client address may add per window, so no single caller fills the drift sample",
    )
    add("--prediction-log-window", type=float, default=float(_env("PREDICTION_LOG_WINDOW_S", "600")), help="seconds")


def _prediction_log(args: argparse.Namespace) -> PredictionLog | None:
    if not args.prediction_log:
        return None
    return PredictionLog(
        Path(args.prediction_log),
        args.prediction_log_sample_rate,
        int(args.prediction_log_max_mb * 1e6),
        ClientQuota(args.prediction_log_client_rows, args.prediction_log_window),
    )


def _missing_export_files(model_dir: Path) -> list[str]:
    """The files of an export that `model_dir` lacks, checked before start-up: there ONNX Runtime
    would fail inside uvicorn's lifespan, with a traceback that never says to export first."""
    return [name for name in BUNDLE_FILES if not (model_dir / name).is_file()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path(_env("MODEL_DIR", str(MODEL_DIR))))
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on every interface (the image does)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log-level", default="info")
    _add_limit_options(parser)
    _add_log_options(parser)
    args = parser.parse_args(argv)
    if missing := _missing_export_files(args.model_dir):
        parser.exit(2, f"no exported model in {args.model_dir} ({', '.join(missing)} missing): run `make export`\n")
    try:  # before the port opens, as one line
        signature = signature_status(args.model_dir)
    except SignatureError as error:
        parser.exit(2, f"error: {error}\n")
    logging.basicConfig(level=args.log_level.upper())
    limits = RequestLimits(args.max_body_bytes, args.body_timeout)
    app = create_app(args.model_dir, _prediction_log(args), limits, signature)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        limit_concurrency=args.limit_concurrency,
        timeout_keep_alive=args.timeout_keep_alive,
        http=args.http,
        h11_max_incomplete_event_size=args.max_header_bytes,
    )


if __name__ == "__main__":
    main()
