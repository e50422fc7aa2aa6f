"""The preprocessor in front of the network: standardise numerics, one-hot categoricals.

Fitted on the training split only and saved as JSON next to the weights, so the gate, the
server and the image apply exactly what training applied. It needs NumPy only (pandas is
duck-typed), because the serving image carries this module and neither pandas nor torch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

NUMERIC_KINDS = "iuf"  # NumPy dtype kinds standardised as numbers; bool and text are categories


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
            if values.dtype.kind in NUMERIC_KINDS:
                std = float(values.std(ddof=0))
                numeric[column] = (float(values.mean()), std if std > 0 else 1.0)
            else:
                categorical[column] = sorted(values.dropna().astype(str).unique())
        return cls(numeric=numeric, categorical=categorical, columns=list(features.columns))

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(categories) for categories in self.categorical.values())

    def transform(self, features: pd.DataFrame | Mapping[str, Sequence[Any]]) -> np.ndarray:
        """Float matrix for the network from a DataFrame or a {column: values} mapping (the server's
        batch); unknown categories encode as all zeros, missing numbers (None, NaN) as the mean."""
        blocks = []
        for column in self.columns:
            if column in self.numeric:
                mean, std = self.numeric[column]
                values = np.asarray(features[column], dtype=np.float64)
                blocks.append(np.nan_to_num((values - mean) / std)[:, None])
            else:
                values = np.asarray(features[column], dtype=object).astype(str)
                blocks.append(values[:, None] == np.asarray(self.categorical[column])[None, :])
        return np.hstack(blocks).astype(np.float32)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Preprocessor:
        raw = json.loads(text)
        numeric = {column: (stats[0], stats[1]) for column, stats in raw["numeric"].items()}
        return cls(numeric=numeric, categorical=raw["categorical"], columns=raw["columns"])
