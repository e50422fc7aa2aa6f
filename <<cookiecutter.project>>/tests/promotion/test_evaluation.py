"""The gate's streaming pass gives what scoring the whole evaluation set at once gives."""

import numpy as np
import pytest

from << cookiecutter.package >>.data import DataError, class_names, frame_sha256, read_table, split, to_dataset
from << cookiecutter.package >>.preprocessing import Preprocessor
from << cookiecutter.package >>.promotion.evaluation import Stopwatch, score_eval_set
from << cookiecutter.package >>.training.model import ModelBundle


@pytest.fixture
def parquet_params(params, tmp_path):
    """The shipped data as Parquet in row groups of 50 rows."""
    path = tmp_path / "penguins.parquet"
    read_table(params.data.path).to_parquet(path, index=False, row_group_size=50)
    return params.data.model_copy(update={"path": path})


def _whole(data_params):
    frame = read_table(data_params.path)
    classes = class_names(frame, data_params)
    train, evaluation = split(frame, data_params)
    return (
        frame,
        classes,
        to_dataset(train, data_params, classes),
        to_dataset(evaluation, data_params, classes),
        evaluation,
    )


@pytest.mark.parametrize("batch_rows", [7, 50, 100_000])
def test_batches_score_as_the_whole_set_does(parquet_params, bundle, batch_rows):
    frame, classes, train, evaluation, eval_frame = _whole(parquet_params)
    champion = bundle  # any second model: the same network, its classes in another order
    reordered = ModelBundle(bundle.preprocessor, bundle.network, bundle.classes[::-1], bundle.architecture)
    stopwatch = Stopwatch()
    scored = score_eval_set(parquet_params, reordered, champion, stopwatch, batch_rows=batch_rows)
    assert (scored.classes, scored.rows_read, scored.eval_hash) == (classes, len(frame), frame_sha256(eval_frame))
    np.testing.assert_array_equal(scored.labels, evaluation.labels)
    expected = bundle.predict_outputs(evaluation.features)
    np.testing.assert_allclose(scored.baseline_proba, expected, rtol=1e-6)
    # columns follow `classes`, whatever order the model keeps them in
    np.testing.assert_allclose(scored.candidate_proba, expected[:, ::-1], rtol=1e-6)
    assert set(stopwatch.seconds) == {"read", "score_candidate", "score_baseline"}


def test_without_a_champion_the_baseline_is_the_training_class_priors(parquet_params, bundle):
    _, classes, train, evaluation, _ = _whole(parquet_params)
    scored = score_eval_set(parquet_params, bundle, None, Stopwatch(), batch_rows=50)
    priors = np.bincount(train.labels, minlength=len(classes)) / len(train.labels)
    np.testing.assert_allclose(scored.baseline_proba, np.tile(priors, (len(evaluation.labels), 1)))


def test_an_empty_evaluation_split_is_an_error(parquet_params, bundle):
    nothing_held_out = parquet_params.model_copy(update={"eval_fraction": 1e-9})
    with pytest.raises(DataError, match="eval rows"):
        score_eval_set(nothing_held_out, bundle, None, Stopwatch(), batch_rows=50)


def test_a_champion_with_its_own_preprocessor_is_scored_through_it(parquet_params, bundle, features):
    _, _, _, evaluation, _ = _whole(parquet_params)
    refitted = Preprocessor.fit(features.head(100))  # other means and deviations than the candidate's
    assert refitted != bundle.preprocessor
    champion = ModelBundle(refitted, bundle.network, bundle.classes, bundle.architecture)
    scored = score_eval_set(parquet_params, bundle, champion, Stopwatch(), batch_rows=50)
    np.testing.assert_allclose(scored.baseline_proba, champion.predict_outputs(evaluation.features), rtol=1e-6)
    np.testing.assert_allclose(scored.candidate_proba, bundle.predict_outputs(evaluation.features), rtol=1e-6)
