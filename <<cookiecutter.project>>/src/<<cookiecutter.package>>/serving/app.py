"""`make serve` and the image's entry point: the exported model over HTTP, with Prometheus metrics.

    POST /predict   a JSON list of records (or {"dataframe_records": [...]}) -> labels + probabilities
    GET  /health    200 with the model's name and version (the port opens only once the model is loaded)
    GET  /metrics   requests by path and status, latency histogram, predicted classes, model info

One process, one event loop (uvloop + httptools where installed): inference of a small model
takes microseconds, so it runs inline instead of paying a thread hand-off per request. Scale
out with replicas; each has its own metrics.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from << cookiecutter.package >>.monitoring.prediction_log import PredictionLog
from << cookiecutter.package >>.paths import MODEL_DIR, PREDICTION_LOG
from << cookiecutter.package >>.serving.runtime import InvalidInput, ServedModel

MAX_BODY_BYTES = 4_000_000  # about 1000 records of a wide table; MAX_RECORDS bounds the rest
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
            "model_predictions", "Predicted labels by class", ["predicted_class"], registry=self.registry
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


async def _read_bounded(request: Request) -> bytes | None:
    """The body, or None when it passes MAX_BODY_BYTES; the rest is read and dropped, so the
    client still gets its 422 and memory stays bounded."""
    body, too_large = bytearray(), False
    async for chunk in request.stream():
        too_large = too_large or len(body) + len(chunk) > MAX_BODY_BYTES
        if not too_large:
            body += chunk
    return None if too_large else bytes(body)


def _unprocessable(message: str) -> JSONResponse:
    return JSONResponse({"detail": [{"message": message}]}, status_code=422)


def create_app(model_dir: Path, prediction_log: PredictionLog | None = None) -> Starlette:
    """The ASGI app serving the model exported to `model_dir`, loaded at start-up; checked
    requests and their predictions are sampled into `prediction_log` for `make drift`."""
    metrics = Metrics()
    served: dict[str, ServedModel] = {}

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        model = ServedModel.load(model_dir)
        info = model.metadata
        metrics.model.info({key: str(info[key]) for key in ("model_name", "model_version", "run_id")})
        for name in model.classes:
            metrics.predictions.labels(name)
        served["model"] = model
        log.info("serving %s version %s from %s", info["model_name"], info["model_version"], model_dir)
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
        body = await _read_bounded(request)
        if body is None:
            return _unprocessable(f"body larger than {MAX_BODY_BYTES} bytes: send smaller batches")
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
        for name, count in Tally(result["predictions"]).items():
            metrics.predictions.labels(name).inc(count)
        if prediction_log:
            try:
                prediction_log.record(columns, result["predictions"], str(model.metadata["model_version"]))
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
        info = model.metadata
        return JSONResponse({"status": "ready", **{key: info[key] for key in ("model_name", "model_version")}})

    async def prometheus(_: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/predict", predict, methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("MODEL_DIR", MODEL_DIR)))
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to listen on every interface (the image does)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--log-level", default="info")
    parser.add_argument(
        "--prediction-log",
        default=os.environ.get("PREDICTION_LOG", str(PREDICTION_LOG)),
        help="sample of inputs and predictions for `make drift` ('' turns it off)",
    )
    parser.add_argument(
        "--prediction-log-sample-rate", type=float, default=float(os.environ.get("PREDICTION_LOG_SAMPLE_RATE", "1"))
    )
    parser.add_argument(
        "--prediction-log-max-mb", type=float, default=float(os.environ.get("PREDICTION_LOG_MAX_MB", "50"))
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper())
    prediction_log = (
        PredictionLog(Path(args.prediction_log), args.prediction_log_sample_rate, int(args.prediction_log_max_mb * 1e6))
        if args.prediction_log
        else None
    )
    app = create_app(args.model_dir, prediction_log)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
