"""Leaving the torchrun process group: together on success, at once on an error."""

from __future__ import annotations

import pytest

from << cookiecutter.package >>.training import distributed


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Rank 1 of 2, with the collectives recorded instead of run."""
    recorded: list[str] = []
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: "init" in recorded and "destroy" not in recorded)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: recorded.append("init"))
    monkeypatch.setattr(distributed.dist, "barrier", lambda: recorded.append("barrier"))
    monkeypatch.setattr(distributed.dist, "destroy_process_group", lambda: recorded.append("destroy"))
    return recorded


def test_every_rank_waits_for_the_others_before_leaving(calls: list[str]):
    with distributed.process_group() as processes:
        assert not processes.is_main
        calls.append("work")
    assert calls == ["init", "work", "barrier", "destroy"]


def test_an_error_leaves_at_once_without_a_barrier(calls: list[str]):
    with pytest.raises(RuntimeError, match="tracking server"), distributed.process_group():
        raise RuntimeError("tracking server down")
    assert calls == ["init", "destroy"]


def test_a_single_process_touches_no_process_group(calls: list[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WORLD_SIZE")
    monkeypatch.delenv("RANK")
    with distributed.process_group() as processes:
        assert processes.is_main
    assert calls == []
