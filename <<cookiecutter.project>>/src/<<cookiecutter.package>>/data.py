"""Loading the training table, the frozen train/eval split, and content hashes.

The split is by a seeded hash of each row's content, not by position: a row stays on the
same side when rows are appended, so the evaluation set of existing data never moves.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from << cookiecutter.package >>.config import DataParams

SUPPORTED_SUFFIXES = (".csv", ".parquet", ".pq")
# A numeric target with more distinct fractional values than this is a measured quantity, not classes.
CONTINUOUS_DISTINCT = 10


class DataError(ValueError):
    """The data file cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class TargetProblem:
    """Why the target cannot be learned as classes (critical), or a doubt about it (a warning)."""

    message: str
    critical: bool = True


@dataclass(frozen=True)
class Dataset:
    features: pd.DataFrame
    labels: np.ndarray  # int class indices into `classes`; for regression the float target values
    classes: list[str]  # empty for regression


def _usable_file(path: Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} not found: check data.path in params.yaml or DATA=")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes): expected a header row and data rows")
    return path


def missing_markers(na_values: Sequence[str]) -> str:
    """What was read as missing, for the messages that count missing values: so that a user whose
    file marks them otherwise ("NA", "?") learns where to say so."""
    if na_values:
        return f"missing = an empty CSV field, a Parquet null or one of data.na_values {list(na_values)}"
    return "missing = an empty CSV field or a Parquet null; data.na_values in params.yaml adds markers"


def _unreadable(path: Path, error: Exception) -> DataError:
    return DataError(f"{path} cannot be read as {path.suffix[1:]}: {error}")


def read_table(path: Path, na_values: Sequence[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every way it can be unusable into a DataError.

    In a CSV file only an empty field and the `na_values` given (data.na_values) are missing:
    pandas' default markers ("NA", "None", "null", ...) would read a class of that name as a
    missing label, and every read must agree on what is missing.
    """
    path = _usable_file(path)
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, keep_default_na=False, na_values=["", *na_values])
        else:
            frame = pd.read_parquet(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise _unreadable(path, error) from None
    if frame.empty:
        raise DataError(f"{path} has a header but no data rows")
    return frame


def iter_table(path: Path, batch_rows: int, na_values: Sequence[str] = ()) -> Iterator[pd.DataFrame]:
    """The table as consecutive parts, each with the dtypes `read_table` gives the whole.

    Parquet is read a batch of at most `batch_rows` rows at a time (row group by row group), so
    memory holds one part, not the table. A CSV file is one part: its column types are
    inferred from every row, with `read_table`'s missing markers.
    """
    path = _usable_file(path)
    if path.suffix.lower() == ".csv":
        yield read_table(path, na_values)
        return
    try:
        source = pq.ParquetFile(path)
        dtypes = _dtypes_of_whole(source)
    except (OSError, ValueError) as error:
        raise _unreadable(path, error) from None
    if source.metadata.num_rows == 0:
        raise DataError(f"{path} has a header but no data rows")
    for batch in source.iter_batches(batch_size=batch_rows):
        yield batch.to_pandas().astype(dtypes)


def _dtypes_of_whole(source: pq.ParquetFile) -> dict[str, object]:
    """pandas turns an integer or boolean column that holds a null into float64 or object; a part
    without the null would convert otherwise, and hash and split differently from the whole."""
    schema = source.schema_arrow
    with_nulls = [
        column.name
        for column in schema
        if (pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)) and _has_nulls(source, column.name)
    ]
    all_null = pa.table([pa.nulls(1, column.type) for column in schema], schema=schema).to_pandas()
    return {name: all_null[name].dtype for name in with_nulls}


def _has_nulls(source: pq.ParquetFile, name: str) -> bool:
    """From the row groups' statistics when every one records its null count (no data read),
    else by reading the column."""
    metadata, index = source.metadata, source.schema_arrow.get_field_index(name)  # a flat table: one chunk per field
    counts = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(index).statistics
        if statistics is None or not statistics.has_null_count:
            return bool(source.read(columns=[name]).column(0).null_count)
        counts.append(statistics.null_count)
    return any(counts)


def file_sha256(path: Path) -> str:
    """Content hash of a file, used to tie a validation result to exactly that data."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


class TableDigest:
    """`frame_sha256` of a table fed in consecutive parts, so a large one is never held whole.

    SHA-256 of the column names, then of every row's 64-bit content hash (pandas'
    `hash_pandas_object`, vectorised): formatting the rows as text cost ten times more.
    """

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._started = False

    def update(self, part: pd.DataFrame) -> None:
        if not self._started:
            self._digest.update(json.dumps([str(column) for column in part.columns]).encode())
            self._started = True
        self._digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of a table (column names, order and values), independent of its file."""
    digest = TableDigest()
    digest.update(frame)
    return digest.hexdigest()


def feature_columns(frame: pd.DataFrame, params: DataParams) -> list[str]:
    if params.target not in frame.columns:
        raise DataError(f"target column {params.target!r} is not in the data (columns: {', '.join(frame.columns)})")
    if params.features is None:
        return [column for column in frame.columns if column != params.target]
    missing = [column for column in params.features if column not in frame.columns]
    if missing:
        raise DataError(f"feature column(s) {', '.join(missing)} from params.yaml are not in the data")
    return list(params.features)


def eval_mask(frame: pd.DataFrame, fraction: float, seed: int) -> np.ndarray:
    """True for rows in the frozen evaluation set (seeded hash of each row's content)."""
    hashes = pd.util.hash_pandas_object(frame, index=False, hash_key=f"{seed:016d}"[-16:])
    return (hashes.to_numpy() / np.float64(2**64)) < fraction


def split(frame: pd.DataFrame, params: DataParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, eval) frames; both keep every column, target included."""
    mask = eval_mask(frame, params.eval_fraction, params.split_seed)
    train, evaluation = frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)
    check_split(len(train), len(evaluation))
    return train, evaluation


def check_split(train_rows: int, eval_rows: int) -> None:
    if not train_rows or not eval_rows:
        raise DataError(
            f"split gave {train_rows} train and {eval_rows} eval rows: add data or change data.eval_fraction"
        )


def to_dataset(frame: pd.DataFrame, params: DataParams, classes: list[str]) -> Dataset:
    """Features and integer labels; a label outside `classes` is an error, never a guess."""
    return Dataset(
        features=features_of(frame, params),
        labels=label_indices(frame[params.target], params, classes),
        classes=classes,
    )


def features_of(frame: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    features = frame[feature_columns(frame, params)]
    # integers as float64: the model signature must accept a missing value at serving time
    return features.astype({column: "float64" for column in features.select_dtypes("integer").columns})


def label_indices(target: pd.Series, params: DataParams, classes: list[str]) -> np.ndarray:
    """Class indices; for regression the target values as float64 (a non-number is an error)."""
    if params.task == "regression":
        values = pd.to_numeric(target, errors="coerce")
        if values.isna().any() or not np.isfinite(values.to_numpy(np.float64)).all():
            raise DataError(f"target column {params.target!r} holds values that are not finite numbers")
        return values.to_numpy(np.float64)
    labels = target.astype(str)
    unknown = sorted(set(labels.unique()) - set(classes))
    if unknown:
        raise DataError(f"column {params.target!r} has label(s) {unknown} the model does not know ({classes})")
    return pd.Categorical(labels, categories=classes).codes.astype(np.int64)


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(value) for value in values.drop_duplicates().head(3).tolist())


def target_problems(frame: pd.DataFrame, params: DataParams) -> list[TargetProblem]:
    """What stops the target column from being learned as the task says, before any training:
    missing labels, a continuous quantity, too many classes, a single class; for regression a
    column that is not numeric or is constant. Each names the column."""
    target = params.target
    if target not in frame.columns:
        return [TargetProblem(f"target column {target!r} is not in the data (columns: {', '.join(frame.columns)})")]
    values = frame[target]
    missing = int(values.isna().sum())
    if missing:
        return [
            TargetProblem(
                f"target column {target!r} has {missing} missing value(s) in {len(values)} rows ("
                f"{missing_markers(params.na_values)}): a row without a label can be neither learned nor "
                "scored; drop or fill those rows"
            )
        ]
    distinct = int(values.nunique())
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if params.task == "regression":
        return _regression_target_problems(values, target, numeric, distinct)
    if numeric and distinct > CONTINUOUS_DISTINCT and bool((values % 1 != 0).any()):
        return [
            TargetProblem(
                f"target column {target!r} holds {distinct} distinct numbers ({_examples(values)}, ...): a "
                "continuous quantity, not a set of classes, which a classification model cannot learn; "
                "to predict the number, use `task: regression` (data.task in params.yaml), or point "
                "data.target at a column of classes"
            )
        ]
    if distinct > params.max_classes:
        return [
            TargetProblem(
                f"target column {target!r} has {distinct} distinct values, more classes than data.max_classes "
                f"({params.max_classes}): if they are classes, raise data.max_classes in params.yaml; if the "
                "column is a quantity, use `task: regression` (data.task in params.yaml)"
            )
        ]
    if distinct < 2:
        return [TargetProblem(f"target column {target!r} has one class only ({_examples(values)}): nothing to learn")]
    return []


def _regression_target_problems(values: pd.Series, target: str, numeric: bool, distinct: int) -> list[TargetProblem]:
    if not numeric:
        return [
            TargetProblem(
                f"target column {target!r} is not numeric ({values.dtype}: {_examples(values)}, ...): a "
                "regression model predicts a number; point data.target at a numeric column, or use "
                "`task: classification` (data.task in params.yaml) if the column holds classes"
            )
        ]
    if not np.isfinite(values.to_numpy(np.float64)).all():
        return [TargetProblem(f"target column {target!r} holds infinite values: drop or fix those rows")]
    if distinct < 2:
        return [TargetProblem(f"target column {target!r} is constant ({_examples(values)}): nothing to learn")]
    return []


def split_problems(train: pd.DataFrame, evaluation: pd.DataFrame, params: DataParams) -> list[TargetProblem]:
    """Classes the frozen split leaves on one side: one only in evaluation can never be learned
    (critical); one absent from evaluation is never measured by the gate (a warning). A
    regression target has no classes to lose."""
    target = params.target
    if params.task == "regression":
        return []
    train_classes, eval_classes = set(train[target].astype(str)), set(evaluation[target].astype(str))
    problems = []
    if only_eval := sorted(eval_classes - train_classes):
        rows = int(evaluation[target].astype(str).isin(only_eval).sum())
        problems.append(
            TargetProblem(
                f"class(es) {only_eval} of target column {target!r} fall only in the evaluation split ({rows} "
                "row(s)): the model never sees them in training; add rows of those classes, or remove them"
            )
        )
    if unmeasured := sorted(train_classes - eval_classes):
        problems.append(
            TargetProblem(
                f"class(es) {unmeasured} of target column {target!r} have no row in the evaluation split, so the "
                "gate never measures them; add rows of those classes",
                critical=False,
            )
        )
    return problems


def raise_critical(problems: list[TargetProblem]) -> None:
    """Stop on the first critical problem: the pipeline must not train or score on this target."""
    for problem in problems:
        if problem.critical:
            raise DataError(problem.message)


def class_names(frame: pd.DataFrame, params: DataParams) -> list[str]:
    """The classes of the target column, once it is known to be learnable; none for regression."""
    raise_critical(target_problems(frame, params))
    if params.task == "regression":
        return []
    return sorted(frame[params.target].astype(str).unique())
