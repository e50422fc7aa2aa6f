"""The default network: a feed-forward MLP."""

from __future__ import annotations

import torch
from torch import nn

from << cookiecutter.package >>.training.networks.contract import TabularNetwork


class TabularMLP(TabularNetwork):
    """Linear layers with ReLU and dropout between them (`hidden_sizes`, `dropout`)."""

    SETTINGS = ("hidden_sizes", "dropout")

    def __init__(self, in_features: int, n_classes: int, hidden_sizes: list[int], dropout: float) -> None:
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
