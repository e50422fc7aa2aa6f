import re
from pathlib import Path

import pytest
import yaml

from << cookiecutter.package >>.config import ConfigError, GateParams, allowed_range, load_params

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
    with pytest.raises(ConfigError, match=r"data\.eval_fraction = 1\.5 is out of range: allowed 0 \(excluded\) to 1 "):
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


# gate key -> (values inside its bounds, the edges included; values outside; the allowed range as the error says it)
GATE_BOUNDS = {
    "min_improvement": (["0.0001", "0.02", "0.5"], ["0", "-0.01", "0.5001", "1"], "0 (excluded) to 0.5"),
    "merge_tolerance": (["0", "0.01", "0.05"], ["-0.01", "0.0501", "10"], "0 to 0.05"),
    "bootstrap_samples": (["100", "1000", "100000"], ["99", "0", "100001"], "100 to 100000"),
    "confidence": (["0.8", "0.95", "0.999"], ["0.79", "0.9991", "1"], "0.8 to 0.999"),
}


def _with_gate(tmp_path: Path, key: str, value: str) -> Path:
    raw = yaml.safe_load(PARAMS.read_text())
    raw["gate"][key] = yaml.safe_load(value)
    return _write(tmp_path, yaml.safe_dump(raw))


def test_every_gate_number_is_bounded_on_both_sides():
    """A policy value without an upper bound could be loosened without limit by an approved change."""
    numbers = {name for name, field in GateParams.model_fields.items() if field.annotation in (int, float)} - {"seed"}
    assert numbers == set(GATE_BOUNDS)
    for name in numbers:
        assert allowed_range(GateParams.model_fields[name]) == GATE_BOUNDS[name][2]


INSIDE = [(key, value) for key, (inside, _, _) in GATE_BOUNDS.items() for value in inside]
OUTSIDE = [(key, value) for key, (_, outside, _) in GATE_BOUNDS.items() for value in outside]


@pytest.mark.parametrize(("key", "value"), INSIDE)
def test_a_gate_value_in_range_is_accepted(tmp_path, key, value):
    params = load_params(_with_gate(tmp_path, key, value), environ={})
    assert getattr(params.gate, key) == yaml.safe_load(value)


@pytest.mark.parametrize(("key", "value"), OUTSIDE)
def test_a_gate_value_out_of_range_is_refused_naming_key_value_and_range(tmp_path, key, value):
    with pytest.raises(ConfigError) as refused:
        load_params(_with_gate(tmp_path, key, value), environ={})
    expected = f"  - gate.{key} = {yaml.safe_load(value)!r} is out of range: allowed {GATE_BOUNDS[key][2]} ("
    assert expected in str(refused.value)


def test_a_pull_request_cannot_loosen_the_merge_tolerance_to_anything(tmp_path):
    path = _with_gate(tmp_path, "merge_tolerance", "10")  # whatever params.yaml holds now
    with pytest.raises(ConfigError) as refused:
        load_params(path, environ={})
    line = str(refused.value).splitlines()[1]
    assert line.startswith("  - gate.merge_tolerance = 10 is out of range: allowed 0 to 0.05 (a wider tolerance lets")


@pytest.mark.parametrize("margin", ["0", "-0.01", "0.9"])
def test_an_overridden_gate_margin_is_checked_the_same_way(margin):
    """A zero margin would promote a candidate that merely ties the champion; the environment is no way around it."""
    expected = f"gate.min_improvement = {margin} (set by GATE_MIN_IMPROVEMENT) is out of range: allowed 0 (excluded)"
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_params(PARAMS, environ={"GATE_MIN_IMPROVEMENT": margin})


def test_the_readme_states_the_bounds_config_enforces():
    text = (PARAMS.parent / "README.md").read_text()
    section = text[text.index("### Policy bounds") :].split("\n## ")[0]
    for key, (_, _, allowed) in GATE_BOUNDS.items():
        assert f"| `gate.{key}` | {allowed} |" in section


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


@pytest.mark.parametrize(("key", "value"), [("class_share_tolerance", "0"), ("quantile_tolerance", "1.5")])
def test_label_contract_tolerances_are_bounded(key, value, tmp_path):
    """A share or quartile tolerance of 0 fails any new data; 1 or more checks nothing."""
    path = _write(tmp_path, PARAMS.read_text().replace(f"{key}: 0.1", f"{key}: {value}"))
    allowed = r"allowed 0 \(excluded\) to 1 \(excluded\)"
    with pytest.raises(ConfigError, match=rf"validation\.{key} = {value} is out of range: {allowed}"):
        load_params(path, environ={})
