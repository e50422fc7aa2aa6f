"""A linear baseline: multinomial logistic regression on the preprocessed features.

Worth training beside any deeper network: if it scores as well, the extra depth buys nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from << cookiecutter.package >>.training.networks.contract import TabularNetwork


class LinearNetwork(TabularNetwork):
    """One linear layer; it takes no settings (`hidden_sizes` and `dropout` do not apply)."""

    def __init__(self, in_features: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, n_classes)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.linear(inputs)
