"""The tabular model: the JSON-serialisable preprocessor (`preprocessing.py`) in front of a
network of the catalog (`networks/`), saved and loaded together so that every consumer predicts
the same way.

A saved bundle is data only (weights, architecture JSON, preprocessor JSON): the gate and the
export load it with this checkout's code, never with code stored beside it in the registry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from << cookiecutter.package >>.config import ModelParams
from << cookiecutter.package >>.paths import PREPROCESSOR_FILE
from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.training.networks.catalog import network_class
from << cookiecutter.package >>.training.networks.contract import TabularNetwork

WEIGHTS_FILE, ARCHITECTURE_FILE = "weights.pt", "model.json"


@dataclass(frozen=True)
class ModelBundle:
    """Everything needed to predict: preprocessing, architecture, weights and class names."""

    preprocessor: Preprocessor
    network: TabularNetwork
    classes: list[str]
    architecture: dict

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """Class probabilities, on whatever device the network is (training evaluates on the GPU)."""
        return self.proba_of(self.preprocessor.transform(features))

    def proba_of(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities of rows this bundle's preprocessor (or an equal one) transformed."""
        was_training = self.network.training
        self.network.eval()
        device = next(self.network.parameters()).device
        with torch.no_grad():
            proba = torch.softmax(self.network(torch.from_numpy(inputs).to(device)).float(), dim=1).cpu().numpy()
        self.network.train(was_training)
        return proba

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / PREPROCESSOR_FILE).write_text(self.preprocessor.to_json())
        (directory / ARCHITECTURE_FILE).write_text(json.dumps({"classes": self.classes, **self.architecture}, indent=2))
        torch.save(self.network.state_dict(), directory / WEIGHTS_FILE)

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        preprocessor = Preprocessor.from_json((directory / PREPROCESSOR_FILE).read_text())
        spec = json.loads((directory / ARCHITECTURE_FILE).read_text())
        classes = spec.pop("classes")
        kind = spec.pop("kind", "mlp")  # bundles saved before the catalog existed are MLPs
        network = network_class(kind)(**spec)
        network.load_state_dict(torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True))
        return cls(preprocessor, network.eval(), classes, {"kind": kind, **spec})


def build_bundle(preprocessor: Preprocessor, classes: list[str], settings: ModelParams) -> ModelBundle:
    """A fresh (untrained) bundle with the network `settings.kind` names."""
    network = network_class(settings.kind)
    arguments = {
        "in_features": preprocessor.width,
        "n_classes": len(classes),
        **{name: getattr(settings, name) for name in network.SETTINGS},
    }
    return ModelBundle(preprocessor, network(**arguments), classes, {"kind": settings.kind, **arguments})
