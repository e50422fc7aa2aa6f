"""The serving runtime: the exported model checks its input and predicts what torch predicts."""

import numpy as np
import pytest

from << cookiecutter.package >>.packaging.export import PARITY_TOLERANCE
from << cookiecutter.package >>.serving.runtime import InvalidInput, ServedModel
from tests.helpers import records


def test_served_model_treats_null_as_missing_like_torch(exported, features, bundle):
    model = ServedModel.load(exported)
    numeric, categorical = next(iter(model.preprocessor.numeric)), next(iter(model.preprocessor.categorical))
    frame = features.head(20).copy()
    frame.loc[0, numeric], frame.loc[1, categorical] = np.nan, np.nan
    payload = records(frame, 20)
    assert payload[0][numeric] is None and payload[1][categorical] is None
    result = model.predict_columns(model.columns({"dataframe_records": payload}))
    expected = bundle.predict_proba(frame)
    np.testing.assert_allclose(result["probabilities"], expected, atol=PARITY_TOLERANCE)
    assert result["predictions"] == [bundle.classes[index] for index in expected.argmax(axis=1)]


def test_invalid_input_names_the_record_and_field(exported, features):
    model = ServedModel.load(exported)
    good = records(features, 1)[0]
    numeric, categorical = next(iter(model.preprocessor.numeric)), next(iter(model.preprocessor.categorical))
    with pytest.raises(InvalidInput) as raised:
        model.columns([good, {**good, numeric: "12", categorical: 3, "extra": 1}])
    assert {(error["record"], error["field"]) for error in raised.value.errors} == {
        (1, numeric),
        (1, categorical),
        (1, "extra"),
    }
    assert f"records.1.{numeric}" in str(raised.value)
