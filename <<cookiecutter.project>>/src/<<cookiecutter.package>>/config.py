"""`params.yaml` as one typed, frozen settings object.

Every stage reads its settings from here, so a typo in a key or a bad value stops the
pipeline before any work with a message that names the key and the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from << cookiecutter.package >>.metrics import METRICS, task_metrics
from << cookiecutter.package >>.paths import PREDICTION_LOG

DEFAULT_PARAMS = Path("params.yaml")

# environment variable -> (section, key) it overrides
ENV_OVERRIDES = {
    "MLFLOW_TRACKING_URI": ("mlflow", "tracking_uri"),
    "MLFLOW_EXPERIMENT_NAME": ("mlflow", "experiment"),
    "MODEL_NAME": ("model", "name"),
    "MODEL_CANDIDATES": ("model", "candidates"),
    "GATE_METRIC": ("gate", "metric"),
    "GATE_MIN_IMPROVEMENT": ("gate", "min_improvement"),
    "GATE_MODE": ("gate", "mode"),
    "GATE_REQUIRE_SIGNIFICANCE": ("gate", "require_significance"),
}

Fraction = Annotated[float, Field(gt=0, lt=1)]


class ConfigError(ValueError):
    """params.yaml (or an override) cannot be used; the message says what to fix."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Section):
    path: Path
    target: str = Field(min_length=1)
    # classification: the target holds classes; regression: a number to predict
    task: Literal["classification", "regression"] = "classification"
    features: list[str] | None = None
    # CSV fields read as missing besides the empty one; pandas' own list would turn a class named
    # "None", "NA" or "null" into a missing label
    na_values: list[str] = []
    eval_fraction: Fraction = 0.2
    split_seed: int = 42
    max_classes: int = Field(default=50, ge=2)  # more distinct target values: not a classification target


class ValidationParams(_Section):
    suite: str = Field(default="training_data", pattern=r"^[A-Za-z0-9_.-]+$")
    numeric_margin: float = Field(default=0.1, ge=0)
    row_count_margin: float = Field(default=0.5, ge=0)
    max_categories: int = Field(default=50, ge=1)
    # the label's contract (README > "The label contract"): how far, in absolute share, each class
    # may move from its share of the reference (classification), and how far each quartile of a
    # regression target may move, as a share of the reference's range (max - min)
    class_share_tolerance: Fraction = 0.1
    quantile_tolerance: Fraction = 0.1


class ModelParams(_Section):
    """Two registered models: `candidates` takes every training run's version; `name`, the
    production model, is written only by promotion (a copy of a gated candidate)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    candidates: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: str = Field(default="mlp", pattern=r"^[a-z0-9_]+$")  # a network of training/networks/catalog.py
    hidden_sizes: list[Annotated[int, Field(ge=1)]] = [64, 32]
    dropout: float = Field(default=0.1, ge=0, lt=1)

    @model_validator(mode="after")
    def _separate_registries(self) -> ModelParams:
        if self.candidates is None:
            object.__setattr__(self, "candidates", f"{self.name}-candidates")  # null: derived from name
        if self.candidates == self.name:
            raise ValueError(
                f"candidates and name are both {self.name!r}: training must not write the production "
                "model; set model.candidates to another name (or null for <name>-candidates)"
            )
        return self


class TrainParams(_Section):
    epochs: int = Field(default=40, ge=1)
    batch_size: int = Field(default=32, ge=1)
    learning_rate: float = Field(default=0.01, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    seed: int = 42
    checkpoint_dir: Path = Path("checkpoints")


class GateParams(_Section):
    """The gate's policy. Every value is bounded, and params.yaml (or an override) outside a bound
    stops every command: a pull request that changes the policy is judged by its base commit's
    policy and needs a code owner's approval, and the bounds keep even an approved change sane
    (README.md > "Policy bounds")."""

    metric: str = "accuracy"
    min_improvement: float = Field(
        default=0.02,
        gt=0,
        le=0.5,
        description="0 would promote a candidate that only ties the champion; a margin above half the "
        "champion's score, or half a metric unit, is out of a retrained model's reach and freezes production",
    )
    merge_tolerance: float = Field(
        default=0.01,
        ge=0,
        le=0.05,
        description="a wider tolerance lets a pull request make the model worse than the champion by "
        "more than 5 % of its score, or 0.05 metric units in absolute mode, and still merge",
    )
    mode: Literal["relative", "absolute"] = "relative"
    require_significance: bool = False
    bootstrap_samples: int = Field(
        default=1000,
        ge=100,
        le=100_000,
        description="fewer resamples give an interval that moves with the seed; more cost time and do not narrow it",
    )
    confidence: float = Field(
        default=0.95,
        ge=0.8,
        le=0.999,
        description="below 0.8 the interval excludes 0 by chance too often to mean anything; above "
        "0.999 its ends rest on a handful of resamples",
    )
    seed: int = 0

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; choose one of {', '.join(sorted(METRICS))}")
        return value


class DriftParams(_Section):
    """Thresholds: PSI 0.2 is the usual "significant shift" level; see docs/drift.md for the choice."""

    sample_path: Path = PREDICTION_LOG
    psi_threshold: float = Field(default=0.2, gt=0)
    ks_threshold: float = Field(default=0.1, gt=0, le=1)
    min_rows: int = Field(default=100, ge=1)


class MlflowParams(_Section):
    """`experiment` takes every training run (the candidate credential writes it);
    `production_experiment` holds the bytes of production versions, which only promotion
    writes, so nothing the candidate credential can do changes what production serves."""

    tracking_uri: str = "sqlite:///mlflow.db"
    experiment: str = Field(min_length=1)
    production_experiment: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _separate_storage(self) -> MlflowParams:
        if self.production_experiment is None:
            object.__setattr__(self, "production_experiment", f"{self.experiment}-production")
        if self.production_experiment == self.experiment:
            raise ValueError(
                f"experiment and production_experiment are both {self.experiment!r}: production bytes must live "
                "where training cannot write; set mlflow.production_experiment to another name (or null)"
            )
        return self


class Params(_Section):
    data: DataParams
    validation: ValidationParams = ValidationParams()
    model: ModelParams
    train: TrainParams = TrainParams()
    gate: GateParams = GateParams()
    drift: DriftParams = DriftParams()
    mlflow: MlflowParams

    @model_validator(mode="after")
    def _metric_fits_task(self) -> Params:
        fitting = task_metrics(self.data.task)
        if self.gate.metric not in fitting:
            raise ValueError(
                f"gate.metric {self.gate.metric!r} does not fit data.task {self.data.task!r}; "
                f"choose one of {', '.join(fitting)}"
            )
        return self


def _apply_env_overrides(raw: dict, environ: dict[str, str]) -> dict[tuple[str, str], str]:
    """Put the set overrides into `raw`; return (section, key) -> the variable that set it."""
    applied = {}
    for variable, (section, key) in ENV_OVERRIDES.items():
        if environ.get(variable):
            raw.setdefault(section, {})[key] = environ[variable]
            applied[(section, key)] = variable
    return applied


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _field(loc: tuple[int | str, ...]) -> FieldInfo | None:
    """The model field at `loc` (("gate", "merge_tolerance")), None for a list item or a rule across fields."""
    model: type[BaseModel] = Params
    field = None
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        field = model.model_fields[part]
        model = field.annotation
    return field


def allowed_range(field: FieldInfo) -> str:
    """A field's bounds in words: "0 to 0.05", "0 (excluded) to 0.5", "100 or more"."""
    bounds = {
        name: getattr(item, name) for item in field.metadata for name in ("gt", "ge", "lt", "le") if hasattr(item, name)
    }
    low = f"{bounds['ge']:g}" if "ge" in bounds else f"{bounds['gt']:g} (excluded)" if "gt" in bounds else None
    high = f"{bounds['le']:g}" if "le" in bounds else f"{bounds['lt']:g} (excluded)" if "lt" in bounds else None
    if low and high:
        return f"{low} to {high}"
    return f"{low} or more" if low else f"up to {high}"


def _describe(error: ValidationError, source: Path, overridden: dict[tuple[str, str], str]) -> str:
    lines = [f"{source} has {error.error_count()} problem(s):"]
    for item in error.errors():
        loc = item["loc"]
        where = ".".join(str(part) for part in loc)
        value = item.get("input")
        shown = value if isinstance(value, str) else repr(value)  # an override arrives as text
        origin = f" (set by {overridden[loc[:2]]})" if loc[:2] in overridden else ""
        field = _field(loc) if item["type"] in _RANGE_ERRORS else None
        if item["type"] == "extra_forbidden":
            lines.append(f"  - {where}: unknown key (typo? remove it or check the spelling)")
        elif not where:  # a rule across sections (the gate metric and the task): its message names the keys
            lines.append(f"  - {item['ctx']['error']}")
        elif field is not None:
            why = f" ({field.description})" if field.description else ""
            lines.append(f"  - {where} = {shown}{origin} is out of range: allowed {allowed_range(field)}{why}")
        else:
            lines.append(f"  - {where}: {item['msg']} (got {value!r}){origin}")
    return "\n".join(lines)


def load_params(path: Path = DEFAULT_PARAMS, environ: dict[str, str] | None = None) -> Params:
    """Read, override from the environment, and validate the pipeline settings."""
    environ = dict(os.environ) if environ is None else environ
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run from the project root or pass --params") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must be a mapping of sections (data, model, train, ...)")
    overridden = _apply_env_overrides(raw, environ)
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, Path(path), overridden)) from None
