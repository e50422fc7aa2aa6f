"""The model contract, run for every network of the catalog (built, saved as data, loaded back,
exported, trained and gated): a network a team adds is covered here as soon as it is named in
`training/networks/catalog.py`."""

import numpy as np
import pytest
import torch

from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.promotion.gate import run_gate
from << cookiecutter.package >>.training.model import ModelBundle, build_bundle
from << cookiecutter.package >>.training.networks.catalog import NETWORKS, UnknownNetwork
from << cookiecutter.package >>.training.onnx_export import export_bundle, parity
from << cookiecutter.package >>.training.train import train
from << cookiecutter.package >>.validation.report import run_validation
from tests.helpers import METADATA, with_settings

CLASSES = ["Adelie", "Chinstrap", "Gentoo"]


@pytest.fixture(params=sorted(NETWORKS))
def kind(request) -> str:
    return request.param


def test_a_network_maps_a_batch_to_one_logit_per_class(kind, params, features):
    bundle = build_bundle(Preprocessor.fit(features), CLASSES, params.model.model_copy(update={"kind": kind}))
    logits = bundle.network(torch.from_numpy(bundle.preprocessor.transform(features)))
    assert logits.shape == (len(features), len(CLASSES)) and logits.dtype == torch.float32
    assert bundle.architecture["kind"] == kind


def test_a_saved_network_loads_as_data_and_its_onnx_export_matches_it(kind, params, features, tmp_path):
    bundle = build_bundle(Preprocessor.fit(features), CLASSES, params.model.model_copy(update={"kind": kind}))
    bundle.save(tmp_path / "bundle")
    restored = ModelBundle.load(tmp_path / "bundle")
    assert type(restored.network) is type(bundle.network)
    np.testing.assert_allclose(restored.predict_outputs(features), bundle.predict_outputs(features), rtol=1e-6)
    np.testing.assert_allclose(restored.predict_outputs(features).sum(axis=1), 1, rtol=1e-5)
    exported = export_bundle(restored, tmp_path / "model", METADATA)
    assert parity(restored, exported, features) < 1e-5


@pytest.mark.slow
def test_every_network_trains_and_is_gated(kind, quick, reports):
    settings = with_settings(quick, "model", kind=kind)
    assert run_validation(settings, reports)
    trained = train(settings, reports)
    assert trained.model_version
    gate = run_gate(settings, reports)
    assert gate.decision in {"promote", "reject"}, gate.reason  # decided, whatever the verdict


def test_an_unknown_network_is_refused_naming_the_registered_ones(params, features):
    with pytest.raises(UnknownNetwork, match=r"'resnet'.*mlp.*training/networks/catalog\.py"):
        build_bundle(Preprocessor.fit(features), CLASSES, params.model.model_copy(update={"kind": "resnet"}))
