"""The tabular model: the JSON-serialisable preprocessor (`preprocessing.py`) in front of a
network of the catalog (`networks/`), saved and loaded together so that every consumer predicts
the same way.

A saved bundle is data only (weights, architecture JSON, preprocessor JSON): the gate and the
export load it with this checkout's code, never with code stored beside it in the registry.

The task (`data.task`) decides the head after the network, the one place that knows it:
classification turns logits into class probabilities (softmax); regression trains on the
target standardised with the training split's mean and standard deviation, which the bundle
keeps, and its head turns the network's one output back into target units. So every consumer
(gate, export, server) gets the same outputs: probabilities (rows x classes), or predictions
(rows x 1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from << cookiecutter.package >>.config import ModelParams
from << cookiecutter.package >>.paths import PREPROCESSOR_FILE
from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.training.networks.catalog import network_class
from << cookiecutter.package >>.training.networks.contract import TabularNetwork

WEIGHTS_FILE, ARCHITECTURE_FILE = "weights.pt", "model.json"


class OutputHead(nn.Module):
    """The network followed by the task's head: what `ModelBundle.outputs_of` computes and the
    ONNX export traces (the task and the target scale are constants, not data)."""

    def __init__(self, network: nn.Module, task: str, target: tuple[float, float] | None) -> None:
        super().__init__()
        self.network, self.task = network, task
        self.mean, self.std = target or (0.0, 1.0)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        raw = self.network(inputs).float()
        if self.task == "regression":
            return raw * self.std + self.mean
        return torch.softmax(raw, dim=1)


@dataclass(frozen=True)
class ModelBundle:
    """Everything needed to predict: preprocessing, architecture, weights, the task and its
    class names (classification) or target mean and standard deviation (regression)."""

    preprocessor: Preprocessor
    network: TabularNetwork
    classes: list[str]
    architecture: dict
    task: str = "classification"
    target: tuple[float, float] | None = None  # regression: (mean, std) of the training target

    def predict_outputs(self, features: pd.DataFrame) -> np.ndarray:
        """Class probabilities or predictions, on whatever device the network is (training evaluates on the GPU)."""
        return self.outputs_of(self.preprocessor.transform(features))

    def outputs_of(self, inputs: np.ndarray) -> np.ndarray:
        """Outputs for rows this bundle's preprocessor (or an equal one) transformed."""
        was_training = self.network.training
        self.network.eval()
        device = next(self.network.parameters()).device
        with torch.no_grad():
            outputs = self.head()(torch.from_numpy(inputs).to(device)).cpu().numpy()
        self.network.train(was_training)
        return outputs

    def head(self) -> OutputHead:
        return OutputHead(self.network, self.task, self.target)

    def loss(self, raw: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """The training loss of the network's raw outputs: cross-entropy on classes, mean squared
        error on the standardised target."""
        if self.task == "regression":
            mean, std = self.target
            return nn.functional.mse_loss(raw[:, 0], (labels - mean) / std)
        return nn.functional.cross_entropy(raw, labels)

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PREPROCESSOR_FILE).write_text(self.preprocessor.to_json())
        spec = {"classes": self.classes, "task": self.task, **self.architecture}
        if self.target is not None:
            spec["target"] = list(self.target)
        (directory / ARCHITECTURE_FILE).write_text(json.dumps(spec, indent=2))
        torch.save(self.network.state_dict(), directory / WEIGHTS_FILE)

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        preprocessor = Preprocessor.from_json((directory / PREPROCESSOR_FILE).read_text())
        spec = json.loads((directory / ARCHITECTURE_FILE).read_text())
        classes = spec.pop("classes")
        task = spec.pop("task", "classification")  # bundles saved before tasks existed are classifiers
        target = spec.pop("target", None)
        kind = spec.pop("kind", "mlp")  # bundles saved before the catalog existed are MLPs
        network = network_class(kind)(**spec)
        network.load_state_dict(torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True))
        return cls(preprocessor, network.eval(), classes, {"kind": kind, **spec}, task, target and tuple(target))


def _target_scale(labels: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation of a regression target (1 for a constant one)."""
    std = float(np.std(labels))
    return float(np.mean(labels)), std if std > 0 else 1.0


def bundle_to_train(
    preprocessor: Preprocessor, classes: list[str], settings: ModelParams, task: str, labels: np.ndarray
) -> ModelBundle:
    """A fresh bundle of the `task` for training on `labels`: a regression one keeps their scale."""
    target = _target_scale(labels) if task == "regression" else None
    return build_bundle(preprocessor, classes, settings, task, target)


def build_bundle(
    preprocessor: Preprocessor,
    classes: list[str],
    settings: ModelParams,
    task: str = "classification",
    target: tuple[float, float] | None = None,
) -> ModelBundle:
    """A fresh (untrained) bundle with the network `settings.kind` names: one output per class,
    or one output for regression (whose `target` scale it keeps)."""
    if task == "regression" and target is None:
        raise ValueError("a regression bundle needs the training target's (mean, std)")
    network = network_class(settings.kind)
    arguments = {
        "in_features": preprocessor.width,
        "n_classes": len(classes) if task == "classification" else 1,
        **{name: getattr(settings, name) for name in network.SETTINGS},
    }
    architecture = {"kind": settings.kind, **arguments}
    return ModelBundle(preprocessor, network(**arguments), classes, architecture, task, target)
