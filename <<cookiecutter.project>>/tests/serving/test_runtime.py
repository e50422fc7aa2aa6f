"""The serving runtime: the exported model checks its input and predicts what torch predicts."""

import numpy as np
import pytest

from << cookiecutter.package >>.serving.runtime import MAX_ERRORS, InvalidInput, ServedModel
from << cookiecutter.package >>.training.onnx_export import PARITY_TOLERANCE
from tests.helpers import records


def test_served_model_treats_null_as_missing_like_torch(exported, features, bundle):
    model = ServedModel.load(exported)
    numeric, categorical = next(iter(model.preprocessor.numeric)), next(iter(model.preprocessor.categorical))
    frame = features.head(20).copy()
    frame.loc[0, numeric], frame.loc[1, categorical] = np.nan, np.nan
    payload = records(frame, 20)
    assert payload[0][numeric] is None and payload[1][categorical] is None
    result = model.predict_columns(model.columns({"dataframe_records": payload}))
    expected = bundle.predict_outputs(frame)
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


def test_a_record_with_many_unknown_fields_is_one_error(exported, features):
    """400,000 unknown keys once built 400,000 error dicts and blocked the event loop for half a second."""
    model = ServedModel.load(exported)
    hostile = records(features, 1)[0] | {f"k{index}": 0 for index in range(400_000)}
    with pytest.raises(InvalidInput) as raised:
        model.columns([hostile])
    assert raised.value.errors == [
        {"record": 0, "field": None, "message": f"{len(hostile)} fields; the model takes {len(model.schema)}"}
    ]


def test_errors_are_capped_with_a_count_of_the_rest(exported):
    model = ServedModel.load(exported)
    with pytest.raises(InvalidInput) as raised:
        model.columns([{}] * 1000)
    shown = raised.value.errors
    assert len(shown) == MAX_ERRORS + 1
    assert shown[-1] == {
        "record": None,
        "field": None,
        "message": f"{1000 * len(model.schema) - MAX_ERRORS} more errors not shown",
    }
