"""The model bundle: saved as data files and loaded back, it predicts exactly the same."""

import numpy as np

from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.training.model import ModelBundle, build_bundle


def test_saved_bundle_predicts_the_same(features, tmp_path):
    classes = ["Adelie", "Chinstrap", "Gentoo"]
    bundle = build_bundle(Preprocessor.fit(features), classes, [8], 0.0)
    bundle.save(tmp_path / "bundle")
    restored = ModelBundle.load(tmp_path / "bundle")
    np.testing.assert_allclose(restored.predict_proba(features), bundle.predict_proba(features), rtol=1e-6)
    np.testing.assert_allclose(restored.predict_proba(features).sum(axis=1), 1, rtol=1e-5)
