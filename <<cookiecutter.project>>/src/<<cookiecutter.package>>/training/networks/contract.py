"""The model contract: what the pipeline needs from a network, so a team can bring its own.

Training, the gate, the export, the server and drift monitoring never look inside a network.
They need only what this base class states:

- it is built from the preprocessed width (`in_features`), the number of outputs
  (`n_classes`) and its own settings, the `model:` keys of params.yaml named in `SETTINGS`;
- `forward` maps a float32 batch (rows x in_features) to logits (rows x n_classes) with no
  control flow that depends on the data, so the ONNX export can trace it and must match it;
- its weights are its `state_dict`, and `kind` plus the constructor's arguments (the bundle's
  architecture JSON) rebuild it, so a saved bundle stays data only.

Add a network: subclass `TabularNetwork` in a module of this package, then name it in
`catalog.py`; `model.kind` in params.yaml selects it. tests/training/test_networks.py runs
every network in the catalog through the whole contract.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn


class TabularNetwork(nn.Module, ABC):
    """A torch module the pipeline can train, save, load, score and export."""

    # The params.yaml `model:` keys this network's constructor takes after in_features and n_classes.
    SETTINGS: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits, one row per input row and one column per output."""
