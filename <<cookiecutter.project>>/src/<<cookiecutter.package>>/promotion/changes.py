"""What a change proposes to the rules that judge it, in sentences for the pull-request comment.

A pull request is judged by its base commit's gate code, policy, evaluation set and expectation
suite (`make gate BASE=`; CI passes the base commit), so a change to any of them cannot loosen
its own check: it applies after merge. These sentences say so, one per change, for the code
owners who must approve it (.github/CODEOWNERS covers the same paths).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

PACKAGE = __name__.split(".")[0]
# The params.yaml sections that judge a change: the gate's policy, the evaluation set's data and
# split, and validation's settings.
RULE_SECTIONS = ("gate", "data", "validation")
# Each group of files that judges a change, as a sentence names it -> its paths (globs) in the project.
RULE_FILES: Mapping[str, tuple[str, ...]] = {
    "the expectation suite": ("gx/expectations/*.json",),
    "the gate code": (
        f"src/{PACKAGE}/promotion/*.py",
        f"src/{PACKAGE}/serving/runtime.py",
        *(f"src/{PACKAGE}/{name}.py" for name in ("config", "data", "digest", "metrics", "preprocessing")),
    ),
    "the validation code": (f"src/{PACKAGE}/validation/*.py",),
    "the workflows": (".github/workflows/*.yml", ".github/workflows/*.yaml", ".github/CODEOWNERS"),
    "the Makefile": ("Makefile",),
    "the locked dependencies": ("uv.lock", "pyproject.toml"),
}
UNSET = "(unset)"
CONSEQUENCE = "it applies after merge and needs a code owner's approval"


def _flatten(prefix: str, value: object) -> dict[str, object]:
    if isinstance(value, dict):
        return {key: item for name, inner in value.items() for key, item in _flatten(f"{prefix}.{name}", inner).items()}
    return {prefix: value}


def _settings(tree: Path, params_file: Path) -> dict[str, object] | None:
    """The rule sections of a tree's params file as dotted keys; None when it cannot be read."""
    try:
        raw = yaml.safe_load((tree / params_file).read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(raw, dict):
        return None
    return {key: value for section in RULE_SECTIONS for key, value in _flatten(section, raw.get(section) or {}).items()}


def _shown(settings: Mapping[str, object], key: str) -> str:
    return json.dumps(settings[key]) if key in settings else UNSET


def _digests(tree: Path, patterns: Iterable[str]) -> dict[str, str]:
    return {
        path.relative_to(tree).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for pattern in patterns
        for path in tree.glob(pattern)
        if path.is_file()
    }


def _changed_files(base: Path, proposed: Path, patterns: Iterable[str]) -> list[str]:
    before, after = _digests(base, patterns), _digests(proposed, patterns)
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def rule_changes(base: Path, proposed: Path, params_file: Path = Path("params.yaml")) -> list[str]:
    """One sentence per change `proposed` makes to `base`'s rules (both project directories), e.g.
    "gate.merge_tolerance changes from 0.01 to 0.05; it applies after merge and needs a code owner's approval"."""
    changes = []
    before, after = _settings(base, params_file), _settings(proposed, params_file)
    if after is None:
        changes.append(f"{params_file} cannot be read, so its settings were not compared")
    elif before is not None:
        changes += [
            f"{key} changes from {_shown(before, key)} to {_shown(after, key)}"
            for key in sorted(before.keys() | after.keys())
            if before.get(key, UNSET) != after.get(key, UNSET)
        ]
    data_path = str((before or {}).get("data.path", ""))
    if data_path and _changed_files(base, proposed, [data_path]):
        changes.append(f"the evaluation data changes ({data_path})")
    for group, patterns in RULE_FILES.items():
        if changed := _changed_files(base, proposed, patterns):
            changes.append(f"{group} changes ({', '.join(changed)})")
    return [f"{change}; {CONSEQUENCE}" for change in changes]
