"""Split the template's test suite into N shards of about equal time, and record test durations.

    python scripts/shard_tests.py args K/N [--output FILE]   pytest arguments of shard K of N
    python scripts/shard_tests.py durations JUNIT.xml...      rewrite tests/durations.json

A shard is a list of units. A test file whose tests share a module-scoped fixture (one it
defines, or a conftest's it requests) is one unit, named by its path: split, each shard would
set the fixture up again (test_workflows_act.py's push run). Every other test is a unit of its
own, named by its node id. Units are placed longest first on the shard with the least time so
far; a unit's time comes from tests/durations.json (node id or file: seconds), and a test with
no recorded time counts as the median of the recorded ones. `args` writes one argument per
line, for pytest's `@FILE` (node ids hold spaces and quotes).

On one machine, `make test`'s pytest-xdist workers take the same units in the same order
(tests/conftest.py): a worker that falls idle takes the longest unit left.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import statistics
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS_DIR = ROOT / "tests"
DURATIONS = TESTS_DIR / "durations.json"
# Fixture scopes that a split file would set up once more in every shard holding part of it.
SHARED_SCOPES = {"module", "package", "class", "session"}
# Used only when durations.json records no test at all.
FALLBACK_SECONDS = 1.0


@dataclass(frozen=True)
class Unit:
    """What one pytest argument selects: a whole file, or one test."""

    arg: str
    tests: tuple[str, ...]


def collect(root: Path = ROOT) -> list[str]:
    """Node ids of the suite, in pytest's order, as `pytest --collect-only -q` prints them."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"pytest --collect-only failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
    return parse_collect_output(result.stdout)


def parse_collect_output(text: str) -> list[str]:
    """The node ids `pytest --collect-only -q` lists before its first blank line."""
    ids: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            break
        if "::" in line and line.split("::", 1)[0].endswith(".py"):
            ids.append(line)
    return ids


def _fixture_scope(decorator: ast.expr) -> str | None:
    """The scope of a `@pytest.fixture(...)` decorator ("function" when none is given), else None."""
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call else decorator
    name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)
    if name != "fixture":
        return None
    for keyword in call.keywords if call else []:
        if keyword.arg == "scope" and isinstance(keyword.value, ast.Constant):
            return str(keyword.value.value)
    return "function"


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def shared_fixtures(source: str, scopes: Iterable[str] = SHARED_SCOPES) -> set[str]:
    """Names of the fixtures `source` defines with one of `scopes`."""
    wanted = set(scopes)
    return {
        function.name
        for function in _functions(ast.parse(source))
        if any(_fixture_scope(decorator) in wanted for decorator in function.decorator_list)
    }


def requested_names(source: str) -> set[str]:
    """Every parameter name of every function in `source`, and every `usefixtures` string."""
    tree = ast.parse(source)
    names = {arg.arg for function in _functions(tree) for arg in function.args.args + function.args.kwonlyargs}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "usefixtures":
            names |= {arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    return names


def keeps_whole(source: str, conftest_shared: set[str]) -> bool:
    """Whether a test file's tests share a fixture set up once per module (or session) that is its own.

    It defines one with a scope wider than the function, or requests a conftest fixture of
    module (package, class) scope. Conftest session fixtures do not count: other files share
    them, so keeping this file whole would not spare a shard their set-up.
    """
    return bool(shared_fixtures(source)) or bool(requested_names(source) & conftest_shared)


def conftest_module_fixtures(tests_dir: Path = TESTS_DIR) -> set[str]:
    """Module-, package- and class-scoped fixtures of the conftest files under `tests_dir`."""
    return {
        name
        for conftest in sorted(tests_dir.rglob("conftest.py"))
        for name in shared_fixtures(conftest.read_text(), SHARED_SCOPES - {"session"})
    }


def whole_files(ids: Sequence[str], root: Path = ROOT) -> set[str]:
    """The test files of `ids` that must run in one shard."""
    conftest_shared = conftest_module_fixtures(root / "tests")
    files = {node.split("::", 1)[0] for node in ids}
    return {path for path in files if keeps_whole((root / path).read_text(), conftest_shared)}


def units(ids: Sequence[str], whole: set[str]) -> list[Unit]:
    """One unit per whole file (at its first test's place) and one per other test, in `ids` order."""
    by_file: dict[str, list[str]] = {}
    for node in ids:
        by_file.setdefault(node.split("::", 1)[0], []).append(node)
    result: list[Unit] = []
    for node in ids:
        path = node.split("::", 1)[0]
        if path not in whole:
            result.append(Unit(node, (node,)))
        elif by_file[path][0] == node:
            result.append(Unit(path, tuple(by_file[path])))
    return result


def seconds_per_test(ids: Sequence[str], durations: Mapping[str, float]) -> dict[str, float]:
    """Each test's time: its own entry, else its file's entry shared among the file's tests, else the median."""
    per_test = [seconds for key, seconds in durations.items() if "::" in key]
    median = statistics.median(per_test) if per_test else FALLBACK_SECONDS
    counts: dict[str, int] = {}
    for node in ids:
        path = node.split("::", 1)[0]
        counts[path] = counts.get(path, 0) + 1
    result = {}
    for node in ids:
        path = node.split("::", 1)[0]
        if node in durations:
            result[node] = float(durations[node])
        elif path in durations:
            result[node] = float(durations[path]) / counts[path]
        else:
            result[node] = median
    return result


def unit_seconds(unit: Unit, seconds: Mapping[str, float]) -> float:
    return sum(seconds[test] for test in unit.tests)


def longest_first(items: Sequence[Unit], seconds: Mapping[str, float]) -> list[Unit]:
    """The units by time, longest first (ties: their order in `items`): greedy placement in this
    order is what keeps the last unit to finish short, on shards and on pytest-xdist workers alike."""
    order = {unit.arg: index for index, unit in enumerate(items)}
    return sorted(items, key=lambda unit: (-unit_seconds(unit, seconds), order[unit.arg]))


def assign(items: Sequence[Unit], seconds: Mapping[str, float], shards: int) -> list[list[Unit]]:
    """Greedy: the longest unit first, each onto the shard with the least time so far (ties: lowest).

    Each shard keeps its units in the order of `items` (pytest's collection order).
    """
    if shards < 1:
        raise ValueError(f"the number of shards must be at least 1, not {shards}")
    if len(items) < shards:
        raise ValueError(f"{len(items)} units cannot fill {shards} shards: an empty shard would run every test")
    order = {unit.arg: index for index, unit in enumerate(items)}
    totals = [0.0] * shards
    placed: list[list[Unit]] = [[] for _ in range(shards)]
    for unit in longest_first(items, seconds):
        lightest = min(range(shards), key=lambda index: (totals[index], index))
        placed[lightest].append(unit)
        totals[lightest] += unit_seconds(unit, seconds)
    return [sorted(shard, key=lambda unit: order[unit.arg]) for shard in placed]


def plan(ids: Sequence[str], durations: Mapping[str, float], shards: int, whole: set[str]) -> list[list[Unit]]:
    """The N shards of the suite `ids`."""
    return assign(units(ids, whole), seconds_per_test(ids, durations), shards)


def parse_shard(text: str) -> tuple[int, int]:
    """Read "K/N" as (K, N), with 1 <= K <= N."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"expected K/N with 1 <= K <= N, got {text!r}")
    return int(match[1]), int(match[2])


def read_durations(path: Path = DURATIONS) -> dict[str, float]:
    return json.loads(path.read_text()) if path.exists() else {}


def junit_durations(reports: Iterable[Path], root: Path = ROOT) -> dict[str, float]:
    """{node id: seconds} of the tests that ran in pytest JUnit XML reports (skipped ones left out).

    pytest writes a test as classname "tests.test_x[.Class]" and name "test_y[param]"; the file
    is the longest dotted prefix that names a file under `root`. Its time is setup, call and
    teardown together (junit_duration_report's default), so a module fixture counts in the
    test that set it up.
    """
    result: dict[str, float] = {}
    for report in reports:
        # pytest's own reports, written by this repository's runs: not untrusted input
        for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
            if case.find("skipped") is not None:
                continue
            parts = case.get("classname", "").split(".")
            for end in range(len(parts), 0, -1):
                path = "/".join(parts[:end]) + ".py"
                if (root / path).is_file():
                    result["::".join([path, *parts[end:], case.get("name", "")])] = float(case.get("time", 0))
                    break
            else:
                raise SystemExit(f"{report}: no file for test {case.get('classname')}::{case.get('name')}")
    return result


def write_durations(durations: Mapping[str, float], path: Path = DURATIONS) -> None:
    path.write_text(json.dumps({key: round(durations[key], 2) for key in sorted(durations)}, indent=2) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    args_command = commands.add_parser("args", help="print the pytest arguments of shard K of N, one per line")
    args_command.add_argument("shard", type=parse_shard, help="K/N, e.g. 2/4")
    args_command.add_argument("--output", type=Path, help="write them to this file (for pytest @FILE)")
    args_command.add_argument("--durations", type=Path, default=DURATIONS)
    durations_command = commands.add_parser("durations", help="rewrite tests/durations.json from JUnit XML reports")
    durations_command.add_argument("reports", type=Path, nargs="+")
    durations_command.add_argument("--output", type=Path, default=DURATIONS)
    options = parser.parse_args(argv)

    if options.command == "durations":
        durations = junit_durations(options.reports)
        if not durations:
            sys.exit("no test ran in those reports: durations unchanged")
        write_durations(durations, options.output)
        print(f"{options.output}: {len(durations)} tests, {sum(durations.values()):.0f} s in all")
        return 0

    index, count = options.shard
    ids = collect()
    shards = plan(ids, read_durations(options.durations), count, whole_files(ids))
    chosen = shards[index - 1]
    text = "".join(f"{unit.arg}\n" for unit in chosen)
    if options.output:
        options.output.parent.mkdir(parents=True, exist_ok=True)
        options.output.write_text(text)
        tests = sum(len(unit.tests) for unit in chosen)
        print(f"shard {index}/{count}: {len(chosen)} arguments, {tests} of {len(ids)} tests -> {options.output}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
