"""The template CI's shards: scripts/shard_tests.py splits the suite, template-ci.yml runs the split.

Every collected test lands in exactly one shard; shards are balanced by tests/durations.json;
a file whose tests share a module fixture stays in one shard; the workflow runs shards 1..N
of N and its last job, the required check, fails unless every other job succeeded.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from shard_tests import (
    ROOT,
    Unit,
    assign,
    collect,
    junit_durations,
    keeps_whole,
    longest_first,
    main,
    parse_collect_output,
    parse_shard,
    plan,
    read_durations,
    seconds_per_test,
    units,
    whole_files,
)

WORKFLOW = ROOT / ".github" / "workflows" / "template-ci.yml"


def _synthetic_suite(seed: int = 7) -> tuple[list[str], dict[str, float], set[str]]:
    """Ids of 12 files (2 kept whole), durations for most of them, some tests without one."""
    rng = random.Random(seed)
    ids, durations = [], {}
    for file_index in range(12):
        path = f"tests/test_f{file_index}.py"
        for test_index in range(rng.randint(3, 30)):
            node = f"{path}::test_{test_index}[case {test_index}]"
            ids.append(node)
            if rng.random() < 0.85:
                durations[node] = rng.choice([0.05, 0.3, 2.0, 8.0, 40.0])
    return ids, durations, {"tests/test_f0.py", "tests/test_f5.py"}


def _covered(shards: list[list[Unit]]) -> list[str]:
    return [test for shard in shards for unit in shard for test in unit.tests]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 7])
def test_every_test_lands_in_exactly_one_shard(count):
    ids, durations, whole = _synthetic_suite()
    shards = plan(ids, durations, count, whole)
    assert len(shards) == count and all(shards)
    covered = _covered(shards)
    assert sorted(covered) == sorted(ids) and len(covered) == len(set(covered))


def test_the_real_suite_is_covered_once_and_act_tests_stay_whole():
    ids = collect()
    assert any(node.startswith("tests/test_workflows_act.py::") for node in ids), "act tests not collected"
    whole = whole_files(ids)
    assert "tests/test_workflows_act.py" in whole  # module fixtures `project`, `first_push`
    assert "tests/test_hooks.py" not in whole  # function fixtures only: split by test
    shards = plan(ids, read_durations(), 4, whole)
    covered = _covered(shards)
    assert sorted(covered) == sorted(ids) and len(covered) == len(set(covered))
    args = [unit.arg for shard in shards for unit in shard]
    assert args.count("tests/test_workflows_act.py") == 1
    assert not [arg for arg in args if arg.startswith("tests/test_workflows_act.py::")]


def test_shards_are_balanced_by_recorded_durations():
    ids, durations, whole = _synthetic_suite()
    seconds = seconds_per_test(ids, durations)
    for count in (2, 3, 4, 6):
        shards = plan(ids, durations, count, whole)
        totals = [sum(seconds[test] for unit in shard for test in unit.tests) for shard in shards]
        costs = [sum(seconds[test] for test in unit.tests) for shard in shards for unit in shard]
        # longest first onto the lightest shard: shards differ by at most the largest unit,
        # and with many small units they are within 10% of an even split
        assert max(totals) - min(totals) <= max(costs), (count, totals)
        assert max(totals) <= 1.1 * sum(totals) / count, (count, totals)


def test_xdist_workers_take_whole_files_and_tests_longest_first():
    """The order tests/conftest.py gives `make test`'s workers: a whole file's tests together at
    the place of their summed time, ties in collection order."""
    seconds = {"tests/test_a.py::t1": 3.0, "tests/test_a.py::t2": 4.0, "tests/test_b.py::t": 5.0}
    seconds |= {"tests/test_c.py::t": 9.0, "tests/test_d.py::t": 5.0}
    ids = list(seconds)
    order = [unit.arg for unit in longest_first(units(ids, {"tests/test_a.py"}), seconds)]
    assert order == ["tests/test_c.py::t", "tests/test_a.py", "tests/test_b.py::t", "tests/test_d.py::t"]


def test_make_tests_workers_run_a_whole_file_on_one_worker():
    """`make test`'s scheduling for real: test_release.py shares a module fixture, so its tests
    run on one worker, while the single tests beside it go wherever a worker is free."""
    whole, singles = "tests/test_release.py", "tests/test_sharding.py"
    selection = f'-v -p no:cacheprovider {whole} {singles} -k "not xdist and not make_tests_workers"'
    command = ["make", "--no-print-directory", "test", "JOBS=2", f"PYTEST_ARGS={selection}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    ran = re.findall(r"^\[(gw\d)\] .*? PASSED (\S+)", result.stdout, re.MULTILINE)
    workers = {worker for worker, node in ran if node.startswith(whole)}
    assert len([node for _, node in ran if node.startswith(whole)]) >= 10 and len(workers) == 1, ran


def test_a_test_without_a_recorded_duration_counts_as_the_median():
    ids = ["tests/test_a.py::test_1", "tests/test_a.py::test_2", "tests/test_a.py::test_new", "tests/test_b.py::t"]
    durations = {"tests/test_a.py::test_1": 1.0, "tests/test_a.py::test_2": 9.0, "tests/test_c.py::x": 4.0}
    seconds = seconds_per_test(ids, durations)
    assert seconds["tests/test_a.py::test_new"] == 4.0
    assert seconds["tests/test_b.py::t"] == 4.0
    # a whole file's entry is shared among its tests
    assert seconds_per_test(ids, {"tests/test_b.py": 6.0})["tests/test_b.py::t"] == 6.0


def test_a_whole_file_is_one_argument_in_one_shard():
    ids, durations, whole = _synthetic_suite()
    shards = plan(ids, durations, 4, whole)
    for path in whole:
        holding = [index for index, shard in enumerate(shards) if any(unit.arg == path for unit in shard)]
        assert len(holding) == 1, (path, holding)
        assert not [unit.arg for shard in shards for unit in shard if unit.arg.startswith(f"{path}::")]


CONFTEST_SHARED = {"postgres"}


@pytest.mark.parametrize(
    ("source", "whole"),
    [
        ('@pytest.fixture(scope="module")\ndef project(tmp_path_factory): ...\ndef test_a(project): ...', True),
        ('@pytest.fixture(scope="session")\ndef store(): ...\ndef test_a(store): ...', True),
        ("def test_a(postgres): ...", True),  # a conftest module fixture
        ("@pytest.fixture\ndef server(postgres): ...\ndef test_a(server): ...", True),
        ('@pytest.mark.usefixtures("postgres")\ndef test_a(): ...', True),
        ("@pytest.fixture\ndef project(tmp_path): ...\ndef test_a(project, default_project): ...", False),
        ("@pytest.mark.parametrize('x', [1, 2])\ndef test_a(x, tmp_path): ...", False),
    ],
    ids=["module-fixture", "own-session-fixture", "conftest-module", "via-fixture", "usefixtures", "function", "plain"],
)
def test_files_sharing_a_module_fixture_stay_whole(source, whole):
    assert keeps_whole("import pytest\n" + source, CONFTEST_SHARED) is whole


def test_an_empty_shard_is_refused_not_run_as_the_whole_suite():
    with pytest.raises(ValueError, match="cannot fill 3 shards"):
        assign([Unit("tests/test_a.py", ("tests/test_a.py::t",))], {"tests/test_a.py::t": 1.0}, 3)


@pytest.mark.parametrize("text", ["0/4", "5/4", "4", "a/b", "1/0"])
def test_shard_must_be_k_of_n(text):
    with pytest.raises(Exception, match="expected K/N"):
        parse_shard(text)


def test_collect_output_is_read_up_to_the_summary():
    text = (
        "tests/test_a.py::test_x[with space]\n"
        'tests/test_a.py::test_y[labels=["gpu", 3]]\n'
        "\n"
        "tests/test_a.py::test_x[with space]\n"
        "  warning text\n"
        "12 tests collected in 1.0s\n"
    )
    assert parse_collect_output(text) == [
        "tests/test_a.py::test_x[with space]",
        'tests/test_a.py::test_y[labels=["gpu", 3]]',
    ]


def test_durations_are_read_from_junit_reports(tmp_path):
    report = tmp_path / "junit.xml"
    report.write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">'
        '<testcase classname="tests.test_sharding" name="test_x[a b]" time="1.234" />'
        '<testcase classname="tests.test_sharding" name="test_skipped" time="0.001">'
        '<skipped message="no act" /></testcase>'
        '<testcase classname="tests.test_sharding" name="test_failed" time="3.5"><failure message="boom" /></testcase>'
        "</testsuite></testsuites>"
    )
    assert junit_durations([report]) == {
        "tests/test_sharding.py::test_x[a b]": 1.234,
        "tests/test_sharding.py::test_failed": 3.5,
    }
    output = tmp_path / "durations.json"
    assert main(["durations", str(report), "--output", str(output)]) == 0
    assert json.loads(output.read_text()) == {
        "tests/test_sharding.py::test_failed": 3.5,
        "tests/test_sharding.py::test_x[a b]": 1.23,
    }


def test_committed_durations_name_existing_test_files():
    durations = read_durations()
    assert durations, "tests/durations.json is empty"
    assert all(seconds >= 0 for seconds in durations.values())
    assert {key.split("::", 1)[0] for key in durations} <= {
        str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob("test_*.py")
    }


# --- the workflow that runs the shards --------------------------------------------------


def _jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]


def test_the_matrix_runs_shards_one_to_n_of_n():
    shards = _jobs()["shards"]
    matrix = shards["strategy"]["matrix"]
    assert set(matrix) == {"shard"}, "another axis (or include/exclude) would change strategy.job-total"
    count = len(matrix["shard"])
    assert matrix["shard"] == list(range(1, count + 1))
    assert shards["strategy"]["fail-fast"] is False
    [step] = [step for step in shards["steps"] if ".ci/run" in step.get("run", "")]
    # N is the matrix's size (strategy.job-total): the script is called with K/N for each K
    assert step["env"]["SHARD"] == "${{ matrix.shard }}/${{ strategy.job-total }}"
    ids, durations, whole = _synthetic_suite()
    assert all(plan(ids, durations, count, whole))


def test_the_required_check_needs_every_job_and_always_runs():
    jobs = _jobs()
    final = jobs["template-ci"]
    assert set(final["needs"]) == set(jobs) - {"template-ci"}
    assert final["if"] == "always()"
    [step] = final["steps"]
    assert step["env"]["NEEDS"] == "${{ toJSON(needs) }}"
    assert 'select(.value.result != "success")' in step["run"]


def test_the_required_check_fails_unless_every_job_succeeded(tmp_path):
    if not shutil.which("jq"):
        pytest.skip("jq is not installed here (GitHub's runners have it)")
    [step] = _jobs()["template-ci"]["steps"]
    script = tmp_path / "check.sh"
    script.write_text(step["run"])
    summary = tmp_path / "summary.md"

    def check(**results: str) -> subprocess.CompletedProcess:
        needs = json.dumps({job: {"result": result, "outputs": {}} for job, result in results.items()})
        env = {**os.environ, "NEEDS": needs, "GITHUB_STEP_SUMMARY": str(summary)}
        return subprocess.run(["bash", "-e", str(script)], env=env, capture_output=True, text=True, check=False)

    assert check(shards="success", lint="success").returncode == 0
    for shards, lint in [("failure", "success"), ("success", "cancelled"), ("skipped", "success")]:
        result = check(shards=shards, lint=lint)
        assert result.returncode == 1
        assert "did not succeed" in result.stdout


def _fake_ci_tree(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of .ci/run with make, git and the venv's python replaced by recorders, no apt-get."""
    repo, bin_dir, log = tmp_path / "repo", tmp_path / "bin", tmp_path / "calls.log"
    (repo / ".ci").mkdir(parents=True)
    shutil.copy(ROOT / ".ci" / "run", repo / ".ci" / "run")
    bin_dir.mkdir()
    for tool in ("bash", "dirname"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    recorder = f'#!{shutil.which("bash")}\necho "${{0##*/}} $*" >> {log}\n'
    for name in ("make", "git"):
        (bin_dir / name).write_text(recorder)
        (bin_dir / name).chmod(0o755)
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "python").write_text(recorder)
    (repo / ".venv" / "bin" / "python").chmod(0o755)
    return repo, log, {"PATH": str(bin_dir), "HOME": str(tmp_path)}


def test_ci_run_without_shard_runs_the_whole_suite(tmp_path):
    repo, log, env = _fake_ci_tree(tmp_path)
    subprocess.run([str(repo / ".ci" / "run")], env=env, check=True)
    assert [line for line in log.read_text().splitlines() if line.startswith("make")] == ["make venv", "make test"]


def test_ci_run_with_shard_passes_the_shards_arguments_to_make_test(tmp_path):
    repo, log, env = _fake_ci_tree(tmp_path)
    subprocess.run([str(repo / ".ci" / "run")], env={**env, "SHARD": "2/4"}, check=True)
    calls = [line for line in log.read_text().splitlines() if not line.startswith("git")]
    assert calls == [
        "make venv",
        "python scripts/shard_tests.py args 2/4 --output build/shard-2.args",
        "make test PYTEST_ARGS=@build/shard-2.args --junitxml=build/junit-shard-2.xml",
    ]
