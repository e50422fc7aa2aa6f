"""The command line: each command loads only the stage it runs, and failures keep their exit status.

The import rules are the package's architecture in executable form: a fresh interpreter
imports a command's stage module, as `python -m << cookiecutter.package >> COMMAND` does, and
reports which libraries and which of the package's subpackages it loaded.
"""

import pytest

from << cookiecutter.package >>.cli import COMMANDS, main, stage_module
from tests.helpers import loaded_after_import

HEAVY = ("torch", "mlflow", "great_expectations", "onnxruntime", "pandas")
# command -> (heavy libraries it must not load, subpackages it may load)
RULES = {
    "expectations": ({"torch", "mlflow", "great_expectations", "onnxruntime"}, {"validation"}),
    "validate": ({"torch", "mlflow", "onnxruntime"}, {"validation"}),  # GX itself loads when the suite runs
    "train": ({"great_expectations"}, {"training", "validation", "serving"}),  # the served bundle's parity check
    "gate": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
    "promote": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
    "rollback": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
    "drift": ({"torch", "mlflow", "great_expectations", "onnxruntime"}, {"monitoring"}),
    "export": ({"torch", "great_expectations", "onnxruntime"}, {"packaging", "promotion"}),
    "image": (set(HEAVY), {"packaging"}),
    "signer-args": (set(HEAVY), {"packaging"}),
    "record-image": ({"torch", "great_expectations", "onnxruntime"}, {"promotion"}),
}
SUBPACKAGES = {"validation", "training", "promotion", "serving", "packaging", "monitoring"}


def test_every_command_has_a_rule():
    assert set(RULES) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(RULES))
def test_command_loads_only_its_stage(command):
    forbidden, allowed = RULES[command]
    loaded = loaded_after_import(stage_module(command))
    assert {library for library in HEAVY if library in loaded} & forbidden == set()
    package = stage_module(command).split(".")[0]
    touched = {name.split(".")[1] for name in loaded if name.startswith(f"{package}.")} & SUBPACKAGES
    assert touched <= allowed, f"{command} loads {sorted(touched - allowed)}"


def test_a_failure_is_one_line_and_keeps_the_exit_status(tmp_path, capsys):
    missing = str(tmp_path / "nowhere.yaml")
    assert main(["--params", missing, "validate"]) == 1
    assert main(["--params", missing, "gate"]) == 2  # no decision is never a "reject"
    assert main(["--params", missing, "drift"]) == 2  # nor a "no drift"
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 3 and all("nowhere.yaml not found" in line for line in errors)
