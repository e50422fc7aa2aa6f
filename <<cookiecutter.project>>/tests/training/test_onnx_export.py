"""ONNX export: the served graph predicts what the torch model predicts."""

import json

from << cookiecutter.package >>.training.onnx_export import PARITY_TOLERANCE, parity
from tests.helpers import METADATA


def test_onnx_export_predicts_what_torch_predicts(bundle, exported, features):
    difference = parity(bundle, exported, features)
    print(f"ONNX Runtime vs torch on {len(features)} rows: max |probability difference| = {difference:.2e}")
    assert difference <= PARITY_TOLERANCE
    metadata = json.loads((exported / "metadata.json").read_text())
    assert metadata == {**METADATA, "task": "classification", "classes": bundle.classes}
