""".github/CODEOWNERS gives the code owners exactly the rules that judge a change: the paths whose
change the gate's report lists (params.yaml, the evaluation data and `changes.RULE_FILES`)."""

from pathlib import Path

import pytest

from << cookiecutter.package >>.config import load_params
from << cookiecutter.package >>.promotion.changes import RULE_FILES, rule_changes
from tests.helpers import PROJECT_ROOT

CODEOWNERS = PROJECT_ROOT / ".github" / "CODEOWNERS"


def _entries() -> list[tuple[str, list[str]]]:
    """(pattern, owners) for each line that is not a comment."""
    lines = [line.split() for line in CODEOWNERS.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [(fields[0], fields[1:]) for fields in lines]


def _owns(pattern: str, path: str) -> bool:
    """An anchored CODEOWNERS pattern owns a path: it names the file, or a folder above it."""
    return path == pattern[1:] or (pattern.endswith("/") and path.startswith(pattern[1:]))


def _rule_paths() -> list[str]:
    """Every path whose change the gate reports as a rule change. Each glob of RULE_FILES counts
    as the files it matches now and as one it would match (a workflow added later)."""
    data_path = load_params(PROJECT_ROOT / "params.yaml", environ={}).data.path
    paths = ["params.yaml", data_path.as_posix()]
    for patterns in RULE_FILES.values():
        for pattern in patterns:
            paths += [path.relative_to(PROJECT_ROOT).as_posix() for path in PROJECT_ROOT.glob(pattern)]
            paths.append(pattern.replace("*", "added-later"))
    return list(dict.fromkeys(paths))


def test_every_line_is_an_anchored_path_with_the_same_owners():
    """The patterns are plain paths from the root (no globs), so `_owns` reads them as GitHub does."""
    entries = _entries()
    assert entries
    for pattern, owners in entries:
        assert pattern.startswith("/") and not any(char in pattern for char in "*?[\\!"), pattern
        assert owners == entries[0][1], pattern


@pytest.mark.parametrize("path", _rule_paths())
def test_every_rule_file_has_a_code_owner(path: str):
    assert any(_owns(pattern, path) for pattern, _ in _entries()), f"{path}: no CODEOWNERS line owns it"


def test_every_pattern_names_an_existing_path_that_holds_a_rule():
    rule_paths = _rule_paths()
    for pattern, _ in _entries():
        target = PROJECT_ROOT / pattern[1:]
        assert target.is_dir() if pattern.endswith("/") else target.is_file(), f"{pattern}: no such path"
        assert any(_owns(pattern, path) for path in rule_paths), f"{pattern}: owns no rule file"


def test_the_owned_paths_are_the_ones_the_gate_reports(tmp_path: Path):
    """A change to an owned file is a rule change in the gate's report (changes.py reads the same paths)."""
    owned = [path for path in _rule_paths() if (PROJECT_ROOT / path).is_file() and path != "params.yaml"]
    base, proposed = tmp_path / "base", tmp_path / "proposed"
    for tree in (base, proposed):
        tree.mkdir()
        (tree / "params.yaml").write_text((PROJECT_ROOT / "params.yaml").read_text())
    for path in owned:
        (proposed / path).parent.mkdir(parents=True, exist_ok=True)
        (proposed / path).write_text("changed")
    reported = " ".join(rule_changes(base, proposed))
    assert [path for path in owned if path not in reported] == []
