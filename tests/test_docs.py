"""The docs stand alone and tell the truth: links resolve, and docs/architecture.md's package tree,
CI-job table and image contents match the code they describe."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from support.commands import PYTHON, run, tool_env
from support.template import COOKIECUTTER_JSON, DEFAULT_PACKAGE, TEMPLATE_DIR

ARCHITECTURE = TEMPLATE_DIR / "docs" / "architecture.md"
PACKAGE_TEMPLATE = TEMPLATE_DIR / "<<cookiecutter.project>>" / "src" / "<<cookiecutter.package>>"


def _section(heading: str) -> str:
    text = ARCHITECTURE.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _code_block(section: str) -> list[str]:
    return section.split("```\n", 2)[1].split("```")[0].splitlines()


def _table(section: str) -> list[list[str]]:
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]  # header dropped


def test_docs_check_passes():
    result = run([PYTHON, "scripts/check_docs.py"], cwd=TEMPLATE_DIR, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_options_table_lists_every_answer():
    text = (TEMPLATE_DIR / "README.md").read_text()
    section = text[text.index("\n## Options\n") :].split("\n## ", 2)[1]
    listed = {name for row in _table(section) for name in re.findall(r"`([a-z_]+)`", row[0])}
    assert listed == {name for name in COOKIECUTTER_JSON if not name.startswith("_")}


def test_architecture_tree_lists_exactly_the_package_modules():
    listed, folders = set(), {}  # indentation -> the folder opened at that indentation
    for line in _code_block(_section("The generated package"))[1:]:
        name, indent = line.split()[0], len(line) - len(line.lstrip())
        folders = {depth: folder for depth, folder in folders.items() if depth < indent}
        if name.endswith("/"):
            folders[indent] = name
        else:
            listed.add("".join(folders[depth] for depth in sorted(folders)) + name)
    modules = {path.relative_to(PACKAGE_TEMPLATE).as_posix() for path in PACKAGE_TEMPLATE.rglob("*.py")}
    assert listed == {module for module in modules if not module.endswith("__init__.py")}


def _make_targets(steps: list[dict]) -> set[str]:
    runs = "\n".join(step.get("run", "") for step in steps)
    return set(re.findall(r"^\s*make ([a-z][a-z-]*)", runs, re.MULTILINE)) - {"install"}


def _stage_module(project: Path, target: str) -> str | None:
    """The stage module `make TARGET` runs, read from make's dry run and the project's CLI table."""
    dry_run = run(["make", "-n", target, f"PYTHON={PYTHON}"], cwd=project).stdout.replace("\\\n", " ")
    commands = re.findall(rf"-m {DEFAULT_PACKAGE} --params \S+\s+([a-z-]+)", dry_run)
    if not commands:
        return None
    (command,) = set(commands)
    probe = f"from {DEFAULT_PACKAGE}.cli import stage_module; print(stage_module({command!r}))"
    module = run([PYTHON, "-c", probe], cwd=project, env=tool_env()).stdout.strip()
    return module.removeprefix(f"{DEFAULT_PACKAGE}.").replace(".", "/") + ".py"


def test_ci_job_table_matches_the_workflows_and_the_cli(default_project: Path):
    documented = {}
    for workflow, job, runs, stage in _table(_section("What each CI job runs")):
        targets = set(re.findall(r"`make ([a-z-]+)`", runs))
        modules = set(re.findall(r"`([^`]+\.py)`", stage)) or {None}
        documented[(workflow.strip("`"), job.strip("`"))] = (targets, modules)
    actual = {}
    for path in sorted((TEMPLATE_DIR / ".github" / "workflows").glob("*.yml")):
        workflow = yaml.safe_load(path.read_text())
        if "workflow_call" not in (workflow.get("on") or workflow.get(True) or {}):
            continue  # this repository's own CI and release
        for job_id, job in workflow["jobs"].items():
            targets = _make_targets(job.get("steps", []))
            if targets:
                actual[(path.name, job_id)] = targets
    assert {key: targets for key, (targets, _) in documented.items()} == actual
    for (workflow, job), (targets, stages) in documented.items():
        modules = {_stage_module(default_project, target) for target in targets}
        assert modules == stages, f"{workflow} {job}: make {' '.join(targets)} runs {modules}, not {stages}"


def test_image_contents_list_matches_the_dockerfile(default_project: Path):
    block = _code_block(_section("What the serving image contains"))
    listed = {line.strip().replace("<package>", DEFAULT_PACKAGE) for line in block}
    copied = set()
    dockerfile = (default_project / "Dockerfile").read_text()
    for line in dockerfile.split(" AS serve\n", 1)[1].split("\nFROM ", 1)[0].splitlines():
        if line.startswith("COPY src/"):
            for source in line.split()[1:-1]:
                path = default_project / source
                found = sorted(path.rglob("*.py")) if path.is_dir() else [path]
                copied |= {item.relative_to(default_project / "src").as_posix() for item in found}
    assert listed == copied
    if not copied:
        pytest.fail("the serve stage copies no package files")
