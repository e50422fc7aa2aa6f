"""Loading the training table, the frozen train/eval split, and content hashes.

The split is by a seeded hash of each row's content, not by position: a row stays on the
same side when rows are appended, so the evaluation set of existing data never moves.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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
    labels: np.ndarray  # int class indices into `classes`
    classes: list[str]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every way it can be unusable into a DataError."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file {path} not found: check data.path in params.yaml or DATA=")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise DataError(f"{path}: unsupported file type {path.suffix!r}; use .csv or .parquet")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes): expected a header row and data rows")
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path)
        else:
            frame = pd.read_parquet(path)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        raise DataError(f"{path} cannot be read as {path.suffix[1:]}: {error}") from None
    if frame.empty:
        raise DataError(f"{path} has a header but no data rows")
    return frame


def file_sha256(path: Path) -> str:
    """Content hash of a file, used to tie a validation result to exactly that data."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def frame_sha256(frame: pd.DataFrame) -> str:
    """Content hash of a table (column names, order and values), independent of its file."""
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


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
    if train.empty or evaluation.empty:
        raise DataError(
            f"split gave {len(train)} train and {len(evaluation)} eval rows: add data or change data.eval_fraction"
        )
    return train, evaluation


def to_dataset(frame: pd.DataFrame, params: DataParams, classes: list[str]) -> Dataset:
    """Features and integer labels; a label outside `classes` is an error, never a guess."""
    labels = frame[params.target].astype(str)
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise DataError(f"column {params.target!r} has label(s) {unknown} the model does not know ({classes})")
    index = {label: position for position, label in enumerate(classes)}
    features = frame[feature_columns(frame, params)]
    # integers as float64: the model signature must accept a missing value at serving time
    features = features.astype({column: "float64" for column in features.select_dtypes("integer").columns})
    return Dataset(
        features=features,
        labels=labels.map(index).to_numpy(dtype=np.int64),
        classes=classes,
    )


def _examples(values: pd.Series) -> str:
    return ", ".join(repr(value) for value in values.drop_duplicates().head(3).tolist())


def target_problems(frame: pd.DataFrame, params: DataParams) -> list[TargetProblem]:
    """What stops the target column from being learned as classes, before any training: missing
    labels, a continuous quantity, too many classes, a single class. Each names the column."""
    target = params.target
    if target not in frame.columns:
        return [TargetProblem(f"target column {target!r} is not in the data (columns: {', '.join(frame.columns)})")]
    values = frame[target]
    missing = int(values.isna().sum())
    if missing:
        return [
            TargetProblem(
                f"target column {target!r} has {missing} missing value(s) in {len(values)} rows: a row without "
                "a label can be neither learned nor scored; drop or fill those rows"
            )
        ]
    distinct = int(values.nunique())
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if numeric and distinct > CONTINUOUS_DISTINCT and bool((values % 1 != 0).any()):
        return [
            TargetProblem(
                f"target column {target!r} holds {distinct} distinct numbers ({_examples(values)}, ...): a "
                "continuous quantity, not a set of classes, which a classification model cannot learn; "
                "predict it with a regression model, or point data.target at a column of classes"
            )
        ]
    if distinct > params.max_classes:
        return [
            TargetProblem(
                f"target column {target!r} has {distinct} distinct values, more classes than data.max_classes "
                f"({params.max_classes}): if they are classes, raise data.max_classes in params.yaml; if the "
                "column is a quantity, it needs a regression model"
            )
        ]
    if distinct < 2:
        return [TargetProblem(f"target column {target!r} has one class only ({_examples(values)}): nothing to learn")]
    return []


def split_problems(train: pd.DataFrame, evaluation: pd.DataFrame, params: DataParams) -> list[TargetProblem]:
    """Classes the frozen split leaves on one side: one only in evaluation can never be learned
    (critical); one absent from evaluation is never measured by the gate (a warning)."""
    target = params.target
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
    """The classes of the target column, once it is known to be a learnable set of classes."""
    raise_critical(target_problems(frame, params))
    return sorted(frame[params.target].astype(str).unique())
