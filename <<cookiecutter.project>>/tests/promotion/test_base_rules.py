"""A change is judged by its base commit's rules: `make gate BASE=` runs the base's gate code,
policy and evaluation set on a repository of two commits, and lists what the newer one changes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from << cookiecutter.package >>.promotion.changes import CONSEQUENCE, rule_changes
from << cookiecutter.package >>.training.train import train
from << cookiecutter.package >>.validation.report import run_validation
from tests.helpers import PROJECT_ROOT

PACKAGE = "<< cookiecutter.package >>"
# What `make gate` needs of the project: its Makefile, code, settings, data and suite.
PROJECT_FILES = ("Makefile", "params.yaml", "src", "data", "gx/expectations")


def _copy_project(destination: Path) -> Path:
    for name in PROJECT_FILES:
        source, target = PROJECT_ROOT / name, destination / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return destination


def _set(project: Path, section: str, **values: object) -> None:
    settings = yaml.safe_load((project / "params.yaml").read_text())
    settings[section].update(values)
    (project / "params.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))


def _git(project: Path, *args: str) -> str:
    command = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args]
    return subprocess.run(command, cwd=project, check=True, capture_output=True, text=True).stdout.strip()


# The base's rules the tests change, pinned so they hold whatever params.yaml says now (a pull
# request that edits it runs these tests too).
BASE_RULES = {"gate": {"merge_tolerance": 0.01}, "validation": {"numeric_margin": 0.1}}


def _copy_base(destination: Path) -> Path:
    project = _copy_project(destination)
    for section, values in BASE_RULES.items():
        _set(project, section, **values)
    return project


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    """Two copies of the project: the base, and a change to it."""
    return _copy_base(tmp_path / "base"), _copy_base(tmp_path / "proposed")


def test_an_unchanged_tree_changes_no_rule(trees):
    assert rule_changes(*trees) == []


def test_each_changed_rule_is_one_sentence(trees):
    base, proposed = trees
    _set(proposed, "gate", merge_tolerance=0.05)
    _set(proposed, "validation", numeric_margin=0.5)
    (proposed / "gx/expectations/training_data.json").write_text("{}")
    with (proposed / f"src/{PACKAGE}/promotion/rule.py").open("a") as module:
        module.write("\n# looser\n")
    with (proposed / "data/penguins.csv").open("a") as data:
        data.write("Adelie,Torgersen,39.1,18.7,181,3750,male\n")

    changes = rule_changes(base, proposed)

    assert changes == [
        f"gate.merge_tolerance changes from 0.01 to 0.05; {CONSEQUENCE}",
        f"validation.numeric_margin changes from 0.1 to 0.5; {CONSEQUENCE}",
        f"the evaluation data changes (data/penguins.csv); {CONSEQUENCE}",
        f"the expectation suite changes (gx/expectations/training_data.json); {CONSEQUENCE}",
        f"the gate code changes (src/{PACKAGE}/promotion/rule.py); {CONSEQUENCE}",
    ]


def test_a_new_key_and_an_unreadable_params_file_are_named(trees):
    base, proposed = trees
    _set(proposed, "gate", require_significance=True)
    assert rule_changes(base, proposed) == [f"gate.require_significance changes from false to true; {CONSEQUENCE}"]
    (proposed / "params.yaml").write_text("gate: [unclosed\n")
    assert rule_changes(base, proposed)[0].startswith("params.yaml cannot be read")


def _make_gate(project: Path, *args: str) -> subprocess.CompletedProcess:
    """`make gate ARGS` in `project`, without the Make inputs an outer `make test` exports (its
    GIT_SHA would name the outer project's commit)."""
    command = ["make", "--no-print-directory", "gate", f"PYTHON={sys.executable}", *args]
    outer = ("GIT_SHA", "BASE", "PROPOSED", "CANDIDATE")
    env = {name: value for name, value in os.environ.items() if name not in outer}
    return subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_make_gate_base_takes_the_policy_of_the_base_commit(quick, reports, tmp_path):
    """The newer commit loosens the merge tolerance; with BASE= the older commit's 0.01 decides
    and gate.json names that commit; without it, the newer commit's own policy does."""
    assert run_validation(quick, reports)
    candidate = train(quick, reports).model_version
    repository = _copy_base(tmp_path / "repository")
    _set(repository, "model", name=quick.model.name, candidates=quick.model.candidates)
    _set(repository, "mlflow", tracking_uri=quick.mlflow.tracking_uri)
    _set(repository, "data", task=quick.data.task, target=quick.data.target)  # the candidate's task, in every render
    _set(repository, "gate", metric=quick.gate.metric)
    _git(repository, "init", "--quiet", "--initial-branch=main")
    _git(repository, "add", "--all")
    _git(repository, "commit", "--quiet", "--message", "base")
    base = _git(repository, "rev-parse", "HEAD")
    _set(repository, "gate", merge_tolerance=0.05)
    _git(repository, "commit", "--quiet", "--all", "--message", "loosen the merge check")
    head = _git(repository, "rev-parse", "HEAD")

    judged = _make_gate(repository, "BASE=main~1", f"CANDIDATE={candidate}")
    assert judged.returncode == 0, judged.stdout + judged.stderr
    report = json.loads((repository / "reports/gate.json").read_text())
    assert (report["policy_commit"], report["merge_tolerance"], report["decision"]) == (base, 0.01, "promote")
    assert report["rule_changes"] == [f"gate.merge_tolerance changes from 0.01 to 0.05; {CONSEQUENCE}"]
    assert "gate.merge_tolerance changes from 0.01 to 0.05" in (repository / "reports/gate.md").read_text()

    own = _make_gate(repository, f"CANDIDATE={candidate}")
    assert own.returncode == 0, own.stdout + own.stderr
    report = json.loads((repository / "reports/gate.json").read_text())
    assert (report["policy_commit"], report["merge_tolerance"], report["rule_changes"]) == (head, 0.05, None)


def test_make_gate_base_refuses_a_ref_that_is_not_a_commit(tmp_path):
    repository = _copy_project(tmp_path / "repository")
    _git(repository, "init", "--quiet")
    result = _make_gate(repository, "BASE=no-such-branch", "CANDIDATE=1")
    assert result.returncode != 0
    assert "BASE='no-such-branch' is not a commit of this repository" in result.stderr
    assert not (repository / "reports/gate.json").exists()
