import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from << cookiecutter.package >>.data import (
    DataError,
    TableDigest,
    TargetProblem,
    class_names,
    eval_mask,
    frame_sha256,
    iter_table,
    label_indices,
    read_table,
    split,
    split_problems,
    target_problems,
    to_dataset,
)


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
    assert frame_sha256(frame) != frame_sha256(frame.iloc[::-1])  # row order
    assert frame_sha256(frame) != frame_sha256(frame.rename(columns={"sex": "gender"}))
    assert frame_sha256(frame) != frame_sha256(frame.head(-1))


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


def _parquet_with_a_null_in_one_row_group(path, frame, statistics=True):
    """Row groups of 100 rows; `year` (integer) and `tagged` (boolean) hold one null, in the last group only.
    Without `statistics` the file records no null counts, and the nulls must be found by reading."""
    year = pa.array([None if row == len(frame) - 1 else 2008 for row in range(len(frame))], pa.int64())
    tagged = pa.array([None if row == len(frame) - 1 else row % 2 == 0 for row in range(len(frame))], pa.bool_())
    table = (
        pa.Table.from_pandas(frame, preserve_index=False).append_column("year", year).append_column("tagged", tagged)
    )
    pq.write_table(table, path, row_group_size=100, write_statistics=statistics)
    return path


@pytest.mark.parametrize("statistics", [True, False], ids=["null-counts-recorded", "no-statistics"])
def test_parquet_parts_are_the_whole_table_in_pieces(params, tmp_path, statistics):
    frame = read_table(params.data.path)
    path = _parquet_with_a_null_in_one_row_group(tmp_path / "data.parquet", frame, statistics)
    whole = read_table(path)
    parts = list(iter_table(path, batch_rows=64))
    assert len(parts) > 2
    assert (whole["year"].dtype, whole["tagged"].dtype) == ("float64", "object")  # as pandas converts a null
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)  # dtypes included
    # so the split and the content hash of the parts are those of the whole table
    masks = [eval_mask(part, params.data.eval_fraction, params.data.split_seed) for part in parts]
    np.testing.assert_array_equal(
        np.concatenate(masks), eval_mask(whole, params.data.eval_fraction, params.data.split_seed)
    )
    digest = TableDigest()
    for part in parts:
        digest.update(part)
    assert digest.hexdigest() == frame_sha256(whole)


def test_a_csv_file_is_one_part(params):
    parts = list(iter_table(params.data.path, batch_rows=10))
    assert len(parts) == 1
    pd.testing.assert_frame_equal(parts[0], read_table(params.data.path))


def test_an_unreadable_or_empty_parquet_file_is_named(params, tmp_path):
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(DataError, match="broken.parquet cannot be read as parquet"):
        list(iter_table(broken, batch_rows=10))
    empty = tmp_path / "empty.parquet"
    read_table(params.data.path).head(0).to_parquet(empty)
    with pytest.raises(DataError, match="no data rows"):
        list(iter_table(empty, batch_rows=10))


def _problems(frame: pd.DataFrame, params) -> list[TargetProblem]:
    return target_problems(frame, params.data)


def test_a_continuous_target_is_refused_naming_column_and_count(params):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"bmi": rng.normal(26, 4, 442), "progression": rng.normal(150, 77, 442).round(1)})
    settings = params.data.model_copy(update={"target": "progression"})
    (problem,) = target_problems(frame, settings)
    distinct = frame["progression"].nunique()
    assert problem.critical and "'progression'" in problem.message and f"{distinct} distinct" in problem.message
    assert "use `task: regression`" in problem.message
    with pytest.raises(DataError, match="continuous quantity"):
        class_names(frame, settings)
    regression = settings.model_copy(update={"task": "regression"})
    assert target_problems(frame, regression) == []  # the same column is a fine regression target
    assert class_names(frame, regression) == []
    np.testing.assert_array_equal(label_indices(frame["progression"], regression, []), frame["progression"])


def test_a_regression_target_must_be_a_varying_number(regression):
    frame = read_table(regression.data.path)
    assert target_problems(frame, regression.data) == []
    (problem,) = target_problems(frame, regression.data.model_copy(update={"target": "species"}))
    assert problem.critical and "'species'" in problem.message and "not numeric" in problem.message
    (problem,) = target_problems(frame.assign(body_mass_g=4000), regression.data)
    assert problem.critical and "constant" in problem.message
    train, evaluation = split(frame, regression.data)
    assert split_problems(train, evaluation, regression.data) == []  # no classes to lose in the split


def test_more_classes_than_max_classes_is_refused_and_the_setting_named(params):
    frame = pd.DataFrame({"x": range(120), "code": [f"c{i % 60}" for i in range(120)]})
    settings = params.data.model_copy(update={"target": "code", "max_classes": 50})
    (problem,) = target_problems(frame, settings)
    assert "60 distinct values" in problem.message and "data.max_classes (50)" in problem.message
    assert target_problems(frame, settings.model_copy(update={"max_classes": 60})) == []


def test_whole_number_class_codes_are_classes_not_a_quantity(params):
    frame = pd.DataFrame({"x": range(100), "grade": [float(i % 5) for i in range(100)]})
    assert target_problems(frame, params.data.model_copy(update={"target": "grade"})) == []


def test_missing_labels_are_refused_naming_the_count_and_what_counts_as_missing(params):
    frame = read_table(params.data.path)
    frame.loc[[3, 5, 8], params.data.target] = None
    (problem,) = _problems(frame, params)
    assert problem.critical and "3 missing value(s)" in problem.message and repr(params.data.target) in problem.message
    assert "an empty CSV field or a Parquet null; data.na_values" in problem.message
    marked = params.data.model_copy(update={"na_values": ["?"]})
    assert "or one of data.na_values ['?']" in target_problems(frame, marked)[0].message


# A field of each kind pandas reads as missing by default, and one only this file uses.
MARKED = "label,size\nNone,1\nNA,2\nnull,?\n,4\nn/a,5\n"


def test_only_an_empty_csv_field_is_missing_unless_data_na_values_says_more(tmp_path):
    """R writes a level "None" (or "NA", a word in a column of classes) as that word: a class."""
    path = tmp_path / "marked.csv"
    path.write_text(MARKED)
    frame = read_table(path)
    assert frame["label"].tolist()[:3] == ["None", "NA", "null"] and frame["label"].isna().tolist() == [0, 0, 0, 1, 0]
    assert frame["size"].tolist() == ["1", "2", "?", "4", "5"]  # "?" is text until data.na_values lists it
    marked = read_table(path, na_values=["?", "n/a"])
    assert marked["label"].isna().tolist() == [0, 0, 0, 1, 1]
    assert marked["size"].dtype == "float64" and marked["size"].isna().sum() == 1
    [part] = iter_table(path, batch_rows=2, na_values=["?", "n/a"])
    pd.testing.assert_frame_equal(part, marked)


def test_one_class_only_is_refused(params):
    frame = read_table(params.data.path)
    only = frame[frame[params.data.target] == "Adelie"]
    assert "one class only" in _problems(only, params)[0].message


def test_a_class_only_in_evaluation_is_refused_and_one_missing_from_it_is_a_warning(params):
    frame = read_table(params.data.path)
    train, evaluation = split(frame, params.data)
    target = params.data.target
    rare = evaluation.head(2).assign(**{target: "Emperor"})
    (problem,) = split_problems(train, pd.concat([evaluation, rare]), params.data)
    assert problem.critical and "['Emperor']" in problem.message and "2 row(s)" in problem.message
    without_gentoo = evaluation[evaluation[target] != "Gentoo"]
    (warning,) = split_problems(train, without_gentoo, params.data)
    assert not warning.critical and "['Gentoo']" in warning.message
    assert split_problems(train, evaluation, params.data) == []
