"""The preprocessor: standardises numbers, one-hot encodes categories, survives a JSON round trip."""

import numpy as np
import pandas as pd

from << cookiecutter.package >>.data import class_names, read_table, to_dataset
from << cookiecutter.package >>.preprocessing import Preprocessor


def _features(params) -> tuple[pd.DataFrame, list[str]]:
    frame = read_table(params.data.path)
    classes = class_names(frame, params.data)
    return to_dataset(frame, params.data, classes).features, classes


def test_preprocessor_round_trips_and_standardises(params):
    features, _ = _features(params)
    preprocessor = Preprocessor.fit(features)
    restored = Preprocessor.from_json(preprocessor.to_json())
    matrix = restored.transform(features)
    assert matrix.shape == (len(features), preprocessor.width)
    numeric_only = Preprocessor.fit(features.select_dtypes("number")).transform(features)
    np.testing.assert_allclose(numeric_only.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(numeric_only.std(axis=0), 1, atol=1e-5)


def test_unknown_category_encodes_as_zeros(params):
    features, _ = _features(params)
    preprocessor = Preprocessor.fit(features)
    odd = features.head(1).assign(island="Atlantis")
    islands = Preprocessor(categorical={"island": preprocessor.categorical["island"]}, columns=["island"])
    assert islands.transform(features.head(1)).sum() == 1
    assert not islands.transform(odd).any()
