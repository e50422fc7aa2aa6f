"""`make train`: fit the model on validated data, track everything in MLflow, register a candidate.

Seeded end to end (two CPU runs with the same params give the same metrics), one progress
line per epoch for CI logs, a checkpoint per epoch, and `--resume` continues a killed run in
the same MLflow run. Under `torchrun` (`make train NPROC=2`) each process trains on its shard
with DistributedDataParallel; only the main process logs, checkpoints and registers.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import mlflow
import numpy as np
import torch
from mlflow.exceptions import MlflowException
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from << cookiecutter.package >>.config import Params
from << cookiecutter.package >>.data import (
    Dataset,
    class_names,
    file_sha256,
    frame_sha256,
    raise_critical,
    read_table,
    split,
    split_problems,
    to_dataset,
)
from << cookiecutter.package >>.metrics import score_all
from << cookiecutter.package >>.paths import Reports
from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.tracking import connect
from << cookiecutter.package >>.training import distributed
from << cookiecutter.package >>.training.checkpoint import (
    checkpoint_path,
    discard_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from << cookiecutter.package >>.training.model import ModelBundle, bundle_to_train
from << cookiecutter.package >>.training.networks.catalog import network_class
from << cookiecutter.package >>.training.registration import register_bundle
from << cookiecutter.package >>.validation.report import validation_passed_for


class TrainingError(RuntimeError):
    """Training cannot start or continue; the message says why and what to run."""


@dataclass(frozen=True)
class TrainResult:
    run_id: str
    model_name: str
    model_version: str
    model_digest: str
    metrics: dict[str, float]
    eval_data_hash: str
    epochs_run: int
    resumed_from_epoch: int | None

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries that use the global NumPy RNG
    torch.use_deterministic_algorithms(True, warn_only=True)


def git_commit() -> str:
    result = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)  # noqa: S607
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def params_fingerprint(params: Params) -> str:
    """What must not change between a run and its resume."""
    relevant = params.model_dump(mode="json", include={"data", "model", "train"})
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _flat_params(params: Params) -> dict[str, object]:
    flat = {}
    for section in ("data", "model", "train"):
        for key, value in params.model_dump(mode="json")[section].items():
            flat[f"{section}.{key}"] = value
    return flat


class _Progress:
    """One line per epoch in logs; an updating bar on a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.interactive = sys.stdout.isatty()

    def update(self, epoch: int, values: dict[str, float], seconds: float) -> None:
        text = " ".join(f"{key}={value:.4f}" for key, value in values.items())
        if self.interactive:
            done = int(30 * epoch / self.total)
            end = "\n" if epoch == self.total else ""
            print(f"\r[{'#' * done}{'.' * (30 - done)}] epoch {epoch}/{self.total} {text}", end=end, flush=True)
        else:
            print(f"epoch {epoch}/{self.total} {text} ({seconds:.2f}s)", flush=True)


def _train_epoch(
    network: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
    device: torch.device,
    processes: distributed.Processes,
) -> float:
    """One pass over this process's shard; returns the mean loss over all processes."""
    network.train()
    order = distributed.shard(torch.randperm(len(labels), generator=generator), processes)
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        batch_inputs, batch_labels = inputs[batch].to(device), labels[batch].to(device)
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = loss_fn(network(batch_inputs).float(), batch_labels)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return distributed.mean_over_processes(total / len(order), processes)


def _eval_scores(bundle: ModelBundle, evaluation: Dataset) -> dict[str, float]:
    return score_all(evaluation.labels, bundle.predict_outputs(evaluation.features), bundle.task)


def _load_resume_state(params: Params, resume: bool, eval_hash: str) -> dict | None:
    ckpt_file = checkpoint_path(params.train.checkpoint_dir, params.model.name)
    state = load_checkpoint(ckpt_file) if resume else None
    if resume and state is None:
        raise TrainingError(f"--resume: no checkpoint at {ckpt_file}; run `make train` without RESUME")
    if state is not None and state["fingerprint"] != params_fingerprint(params):
        raise TrainingError("--resume: params.yaml changed since the checkpoint; run `make train` afresh")
    if state is not None and state["eval_data_hash"] != eval_hash:
        raise TrainingError("--resume: the evaluation set changed since the checkpoint; run `make train` afresh")
    return state


def _run_tags(params: Params, eval_hash: str, training: Dataset, evaluation: Dataset, device: torch.device) -> dict:
    return {
        "git_commit": git_commit(),
        "data_hash": file_sha256(params.data.path),
        "eval_data_hash": eval_hash,
        "device": device.type,
        "train_rows": str(len(training.labels)),
        "eval_rows": str(len(evaluation.labels)),
        "classes": json.dumps(evaluation.classes),
    }


def train(params: Params, reports: Reports, resume: bool = False) -> TrainResult | None:
    """Train and register a candidate; returns its report on the main process, None on the others."""
    network_class(params.model.kind)  # an unknown network stops here, before any data is read
    validated, reason = validation_passed_for(params.data.path, params.validation.suite, reports)
    if not validated:
        raise TrainingError(reason)
    try:
        with distributed.process_group() as processes:  # every rank leaves once the main one registered
            return _train(params, resume, reports, processes)
    except MlflowException as error:
        raise TrainingError(
            f"the tracking server failed: {error}. The last epoch checkpoint is kept: "
            "fix the server, then `make train RESUME=1`"
        ) from error


def _train(params: Params, resume: bool, reports: Reports, processes: distributed.Processes) -> TrainResult | None:
    frame = read_table(params.data.path, params.data.na_values)
    classes = class_names(frame, params.data)
    train_frame, eval_frame = split(frame, params.data)
    raise_critical(split_problems(train_frame, eval_frame, params.data))
    training, evaluation = to_dataset(train_frame, params.data, classes), to_dataset(eval_frame, params.data, classes)
    eval_hash = frame_sha256(eval_frame)
    state = _load_resume_state(params, resume, eval_hash)

    seed_everything(params.train.seed)
    device = distributed.device_for(processes)
    preprocessor = Preprocessor.from_json(state["preprocessor"]) if state else Preprocessor.fit(training.features)
    task = params.data.task
    bundle = bundle_to_train(preprocessor, classes, params.model, task, training.labels)
    bundle.network.to(device)
    network = DistributedDataParallel(bundle.network) if processes.is_distributed else bundle.network
    optimizer = torch.optim.AdamW(
        network.parameters(), lr=params.train.learning_rate, weight_decay=params.train.weight_decay
    )
    generator = torch.Generator().manual_seed(params.train.seed)
    first_epoch = 1
    if state:
        bundle.network.load_state_dict(state["network"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        first_epoch = state["epoch"] + 1
        if processes.is_main:
            print(f"resuming run {state['run_id']} from epoch {first_epoch} (checkpoint after epoch {state['epoch']})")

    inputs = torch.from_numpy(preprocessor.transform(training.features))
    # a copy: pandas hands out read-only arrays; classes as int64, a regression target as float32
    labels = torch.tensor(training.labels, dtype=torch.int64 if task == "classification" else torch.float32)
    ckpt_file = checkpoint_path(params.train.checkpoint_dir, params.model.name)

    if processes.is_main:
        connect(params)
        mlflow.set_experiment(params.mlflow.experiment)
    tracking = mlflow.start_run(run_id=state["run_id"] if state else None) if processes.is_main else nullcontext()
    with tracking as run:
        if run and state:
            mlflow.set_tag("resumed_from_epoch", str(first_epoch))
        elif run:
            mlflow.log_params({**_flat_params(params), "train.processes": processes.world_size})
            mlflow.set_tags(_run_tags(params, eval_hash, training, evaluation, device))
        progress = _Progress(params.train.epochs)
        for epoch in range(first_epoch, params.train.epochs + 1):
            started = time.perf_counter()
            loss = _train_epoch(
                network, bundle.loss, optimizer, inputs, labels, params.train.batch_size, generator, device, processes
            )
            if not run:
                continue
            scores = _eval_scores(bundle, evaluation)
            values = {"train_loss": loss, **{f"eval_{name}": value for name, value in scores.items()}}
            mlflow.log_metrics(values, step=epoch)
            save_checkpoint(
                ckpt_file,
                {
                    "epoch": epoch,
                    "run_id": run.info.run_id,
                    "fingerprint": params_fingerprint(params),
                    "eval_data_hash": eval_hash,
                    "preprocessor": preprocessor.to_json(),
                    "network": bundle.network.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                    "torch_rng": torch.get_rng_state(),
                },
            )
            progress.update(epoch, values, time.perf_counter() - started)
        if not run:
            return None  # the other ranks: wait in distributed.process_group() for the main one

        bundle.network.to("cpu")
        final = _eval_scores(bundle, evaluation)
        mlflow.log_metrics({f"eval_{name}": value for name, value in final.items()})
        registered = register_bundle(
            bundle, evaluation.features, params.model.candidates, {"eval_data_hash": eval_hash}
        )
        version, digest = registered.version, registered.digest

    discard_checkpoint(ckpt_file)
    result = TrainResult(
        run_id=run.info.run_id,
        model_name=params.model.candidates,
        model_version=version,
        model_digest=digest,
        metrics=final,
        eval_data_hash=eval_hash,
        epochs_run=params.train.epochs - first_epoch + 1,
        resumed_from_epoch=first_epoch if state else None,
    )
    reports.write(reports.train, result.to_json() + "\n")
    metric = params.gate.metric
    print(f"registered {params.model.candidates} v{version} (run {run.info.run_id}); eval {metric}={final[metric]:.4f}")
    return result
