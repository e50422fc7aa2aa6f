import pandas as pd
import pytest

from << cookiecutter.package >>.data import DataError, class_names, frame_sha256, read_table, split, to_dataset


def test_split_is_reproducible_and_disjoint(params):
    frame = read_table(params.data.path)
    train, evaluation = split(frame, params.data)
    again_train, again_eval = split(frame, params.data)
    pd.testing.assert_frame_equal(evaluation, again_eval)
    assert len(train) + len(evaluation) == len(frame)
    assert 0.1 < len(evaluation) / len(frame) < 0.3
    assert set(evaluation[params.data.target]) == set(frame[params.data.target])


def test_eval_set_is_frozen_when_rows_are_appended(params):
    frame = read_table(params.data.path)
    _, evaluation = split(frame, params.data)
    grown = pd.concat([frame, frame.sample(50, random_state=0).assign(body_mass_g=9999)], ignore_index=True)
    _, grown_eval = split(grown, params.data)
    original_rows = grown_eval[grown_eval["body_mass_g"] != 9999].reset_index(drop=True)
    pd.testing.assert_frame_equal(original_rows, evaluation)


def test_content_hash_tracks_values(params):
    frame = read_table(params.data.path)
    changed = frame.copy()
    changed.loc[0, "bill_length_mm"] += 0.1
    assert frame_sha256(frame) == frame_sha256(frame.copy())
    assert frame_sha256(frame) != frame_sha256(changed)


def test_unknown_label_is_an_error_not_a_guess(params):
    frame = read_table(params.data.path)
    classes = class_names(frame, params.data)
    odd = frame.head(3).assign(**{params.data.target: "Emperor"})
    with pytest.raises(DataError, match="Emperor"):
        to_dataset(odd, params.data, classes)


def test_integer_features_become_float(params):
    frame = read_table(params.data.path)
    features = to_dataset(frame, params.data, class_names(frame, params.data)).features
    assert not list(features.select_dtypes("integer").columns)
