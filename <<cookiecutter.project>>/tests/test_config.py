from pathlib import Path

import pytest

from << cookiecutter.package >>.config import ConfigError, load_params

PARAMS = Path(__file__).resolve().parents[1] / "params.yaml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_committed_params_load(params):
    assert params.data.target in params.data.path.read_text().splitlines()[0].split(",")
    assert 0 < params.gate.min_improvement < 1


def test_unknown_key_is_named(tmp_path):
    path = _write(tmp_path, PARAMS.read_text().replace("  epochs:", "  epochz: 3\n  epochs:"))
    with pytest.raises(ConfigError, match=r"train\.epochz: unknown key"):
        load_params(path, environ={})


def test_bad_value_is_named_with_the_value(tmp_path):
    path = _write(tmp_path, PARAMS.read_text().replace("eval_fraction: 0.2", "eval_fraction: 1.5"))
    with pytest.raises(ConfigError, match=r"data\.eval_fraction: .*less than 1.*1\.5"):
        load_params(path, environ={})


def test_unknown_metric_lists_the_choices(tmp_path):
    with pytest.raises(ConfigError, match=r"gate\.metric: .*unknown metric 'auc'.*accuracy"):
        load_params(PARAMS, environ={"GATE_METRIC": "auc"})


def test_a_metric_of_the_other_task_is_refused_naming_both():
    task = load_params(PARAMS, environ={}).data.task
    other, fitting = ("rmse", "accuracy, balanced") if task == "classification" else ("accuracy", "rmse, mae, r2")
    expected = rf"  - gate\.metric '{other}' does not fit data\.task '{task}'; .*{fitting}"
    with pytest.raises(ConfigError, match=expected) as error:
        load_params(PARAMS, environ={"GATE_METRIC": other})
    assert "got {" not in str(error.value)  # the message, not a dump of every section


@pytest.mark.parametrize("margin", ["0", "-0.01"])
def test_gate_margin_must_be_positive(margin):
    """A zero margin would promote a candidate that merely ties the champion."""
    with pytest.raises(ConfigError, match=r"gate\.min_improvement: .*greater than 0"):
        load_params(PARAMS, environ={"GATE_MIN_IMPROVEMENT": margin})


def test_environment_overrides_params():
    params = load_params(PARAMS, environ={"GATE_MIN_IMPROVEMENT": "0.05", "MLFLOW_TRACKING_URI": "http://mlflow:5000"})
    assert params.gate.min_improvement == 0.05
    assert params.mlflow.tracking_uri == "http://mlflow:5000"


def test_missing_file_says_where_to_run(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml", environ={})


def test_params_are_frozen(params):
    with pytest.raises(ValueError, match="frozen"):
        params.gate.min_improvement = 0.5


def test_na_values_default_to_none_and_must_be_a_list_of_strings(params, tmp_path):
    assert params.data.na_values == []
    path = _write(tmp_path, PARAMS.read_text().replace("na_values: []", 'na_values: ["NA", "?"]'))
    assert load_params(path, environ={}).data.na_values == ["NA", "?"]
    path = _write(tmp_path, PARAMS.read_text().replace("na_values: []", "na_values: NA"))
    with pytest.raises(ConfigError, match=r"data\.na_values: .*list"):
        load_params(path, environ={})


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [("class_share_tolerance", "0", "greater than 0"), ("quantile_tolerance", "1.5", "less than 1")],
)
def test_label_contract_tolerances_are_bounded(key, value, says, tmp_path):
    """A share or quartile tolerance of 0 fails any new data; 1 or more checks nothing."""
    path = _write(tmp_path, PARAMS.read_text().replace(f"{key}: 0.1", f"{key}: {value}"))
    with pytest.raises(ConfigError, match=rf"validation\.{key}: .*{says}"):
        load_params(path, environ={})
