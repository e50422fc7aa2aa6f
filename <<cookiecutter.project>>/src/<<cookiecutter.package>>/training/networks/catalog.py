"""The networks `model.kind` in params.yaml can name; add yours here (see `contract.py`)."""

from __future__ import annotations

from << cookiecutter.package >>.training.networks.contract import TabularNetwork
from << cookiecutter.package >>.training.networks.linear import LinearNetwork
from << cookiecutter.package >>.training.networks.mlp import TabularMLP

NETWORKS: dict[str, type[TabularNetwork]] = {
    "mlp": TabularMLP,
    "linear": LinearNetwork,
}


class UnknownNetwork(ValueError):
    """`model.kind` names no network of the catalog."""


def network_class(kind: str) -> type[TabularNetwork]:
    """The network registered as `kind`, or an error that lists the registered ones."""
    if kind not in NETWORKS:
        raise UnknownNetwork(
            f"model.kind {kind!r} in params.yaml is not a registered network ({', '.join(NETWORKS)}); "
            "add yours to training/networks/catalog.py"
        )
    return NETWORKS[kind]
