"""The tabular model: a JSON-serialisable preprocessor in front of a small torch MLP.

Preprocessing (standardise numerics, one-hot categoricals) is fitted on the training split
only and travels with the weights, so the gate, the server and the image all apply exactly
what training applied.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn


@dataclass
class Preprocessor:
    numeric: dict[str, tuple[float, float]] = field(default_factory=dict)  # column -> (mean, std)
    categorical: dict[str, list[str]] = field(default_factory=dict)  # column -> categories
    columns: list[str] = field(default_factory=list)  # input order

    @classmethod
    def fit(cls, features: pd.DataFrame) -> Preprocessor:
        numeric, categorical = {}, {}
        for column in features.columns:
            values = features[column]
            if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
                std = float(values.std(ddof=0))
                numeric[column] = (float(values.mean()), std if std > 0 else 1.0)
            else:
                categorical[column] = sorted(values.dropna().astype(str).unique())
        return cls(numeric=numeric, categorical=categorical, columns=list(features.columns))

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(categories) for categories in self.categorical.values())

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Float matrix for the network; unknown categories encode as all zeros, NaN as the mean."""
        blocks = []
        for column in self.columns:
            if column in self.numeric:
                mean, std = self.numeric[column]
                values = pd.to_numeric(features[column], errors="coerce").to_numpy(dtype=np.float64)
                blocks.append(np.nan_to_num((values - mean) / std)[:, None])
            else:
                values = features[column].astype(str).to_numpy()
                blocks.append(values[:, None] == np.asarray(self.categorical[column])[None, :])
        return np.hstack(blocks).astype(np.float32)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preprocessor:
        raw = json.loads(text)
        numeric = {column: (stats[0], stats[1]) for column, stats in raw["numeric"].items()}
        return cls(numeric=numeric, categorical=raw["categorical"], columns=raw["columns"])


class TabularMLP(nn.Module):
    """Feed-forward classifier returning logits."""

    def __init__(self, in_features: int, hidden_sizes: list[int], n_classes: int, dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.layers(inputs)


@dataclass(frozen=True)
class ModelBundle:
    """Everything needed to predict: preprocessing, architecture, weights and class names."""

    preprocessor: Preprocessor
    network: TabularMLP
    classes: list[str]
    architecture: dict

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        self.network.eval()
        with torch.no_grad():
            inputs = torch.from_numpy(self.preprocessor.transform(features))
            return torch.softmax(self.network(inputs).float(), dim=1).numpy()

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "preprocessor.json").write_text(self.preprocessor.to_json())
        (directory / "model.json").write_text(json.dumps({"classes": self.classes, **self.architecture}, indent=2))
        torch.save(self.network.state_dict(), directory / "weights.pt")

    @classmethod
    def load(cls, directory: Path) -> ModelBundle:
        preprocessor = Preprocessor.from_json((directory / "preprocessor.json").read_text())
        spec = json.loads((directory / "model.json").read_text())
        classes = spec.pop("classes")
        network = TabularMLP(**spec)
        network.load_state_dict(torch.load(directory / "weights.pt", map_location="cpu", weights_only=True))
        return cls(preprocessor, network.eval(), classes, spec)


def build_bundle(
    preprocessor: Preprocessor, classes: list[str], hidden_sizes: list[int], dropout: float
) -> ModelBundle:
    architecture = {
        "in_features": preprocessor.width,
        "hidden_sizes": list(hidden_sizes),
        "n_classes": len(classes),
        "dropout": dropout,
    }
    return ModelBundle(preprocessor, TabularMLP(**architecture), classes, architecture)
