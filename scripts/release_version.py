"""Refuse a release tag that would move its major tag backwards.

`release.yml` points the major tag (`v1`) that every generated project follows at the pushed
`vX.Y.Z`. A tag on an old commit, even one on the default branch, would move the whole fleet
back; the release is allowed only for the highest version of its major.

    python scripts/release_version.py v1.4.0            # compares with `git tag --list 'v1.*'`
"""

from __future__ import annotations

import re
import subprocess
import sys

_RELEASE = re.compile(r"v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")


def parse(tag: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of a release tag `vX.Y.Z`; None for anything else."""
    match = _RELEASE.fullmatch(tag)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def refusal(tag: str, existing: list[str]) -> str | None:
    """Why `tag` must not be released, given the repository's tags; None when it may."""
    version = parse(tag)
    if version is None:
        return f"{tag!r} is not a release tag vX.Y.Z (digits, no leading zeros)"
    same_major = [(parse(other), other) for other in existing if other != tag]
    higher = sorted(other for parsed, other in same_major if parsed and parsed[0] == version[0] and parsed > version)
    if higher:
        return (
            f"{tag} is lower than {', '.join(higher)} of the same major: releasing it would move "
            f"v{version[0]} back for every project that follows it; tag a higher version instead"
        )
    return None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: release_version.py vX.Y.Z", file=sys.stderr)
        return 2
    tag = argv[0]
    major = tag.split(".")[0]
    listed = subprocess.run(
        ["git", "tag", "--list", f"{major}.*"], check=True, capture_output=True, text=True
    ).stdout.split()
    reason = refusal(tag, listed)
    if reason:
        print(f"::error title=Release refused::{reason}")
        return 1
    print(f"{tag} is the highest release of {major}: it may move {major}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
