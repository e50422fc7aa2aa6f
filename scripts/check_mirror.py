"""Check that an organisation's mirror of this repository serves exactly the pinned workflows.

A project outside this repository's organisation (or enterprise) calls the workflows from its
own organisation's mirror, at a full commit SHA, so that its jobs may use that organisation's
self-hosted runners. The mirror must hold that commit, reachable from one of its refs, and its
`.github/` at that commit (the reusable workflows and the setup-project action) must be this
repository's, file for file and byte for byte.

    python scripts/check_mirror.py MIRROR SHA   # MIRROR: a clone's path or a git URL readable here
    make check-mirror MIRROR=../mirror SHA=<40 hex digits>

Exit status: 0 the mirror matches, 1 it does not (every difference is named), 2 the check
could not be made (SHA not a full commit SHA, or not a commit of this repository; mirror unreadable).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ".github"
_SHA = re.compile(r"[0-9a-f]{40}")


class CheckError(Exception):
    """The check could not be made (exit 2)."""


def _git(repository: Path, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(repository), *args], capture_output=True, text=not binary, check=False)


def _commit_object(repository: Path, sha: str) -> bytes | None:
    """The raw commit object `sha` names in `repository` (a replacement, if the repository has one)."""
    result = _git(repository, "cat-file", "commit", sha, binary=True)
    return result.stdout if result.returncode == 0 else None


def _hashes_to(sha: str, commit: bytes) -> bool:
    """Whether the commit object's bytes are the object `sha` names (git's SHA-1 object id)."""
    return hashlib.sha1(b"commit %d\0" % len(commit) + commit, usedforsecurity=False).hexdigest() == sha


def tree_files(repository: Path, sha: str) -> dict[str, str]:
    """`.github/` at `sha`: path -> sha256 of the file's bytes, prefixed by its mode."""
    listing = _git(repository, "ls-tree", "-r", "-z", sha, "--", CHECKED)
    if listing.returncode != 0:
        raise CheckError(f"cannot list {CHECKED}/ at {sha} in {repository}: {listing.stderr.strip()}")
    files = {}
    for entry in filter(None, listing.stdout.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, _kind, blob = meta.split()
        content = _git(repository, "cat-file", "blob", blob, binary=True)
        files[path] = f"{mode}:{hashlib.sha256(content.stdout).hexdigest()}"
    return files


def compare(source: dict[str, str], mirror: dict[str, str]) -> list[str]:
    """Each difference between this repository's `.github/` and the mirror's, one line per file."""
    problems = []
    for path in sorted(source.keys() | mirror.keys()):
        if path not in mirror:
            problems.append(f"{path}: missing from the mirror")
        elif path not in source:
            problems.append(f"{path}: only in the mirror")
        elif source[path] != mirror[path]:
            problems.append(f"{path}: differs from this repository's")
    return problems


def check(mirror_clone: Path, sha: str, source: Path = ROOT) -> list[str]:
    """Why `mirror_clone` (a clone of the mirror with all its refs) does not serve `source` at `sha`;
    empty when it does."""
    own = _commit_object(source, sha)
    if own is None or not _hashes_to(sha, own):
        raise CheckError(f"{sha} is not a commit of this repository ({source}): pin one of its commits")
    theirs = _commit_object(mirror_clone, sha)
    if theirs is None:
        return [f"the mirror does not hold commit {sha} (not reachable from any of its branches or tags)"]
    problems = []
    if not _hashes_to(sha, theirs):  # same id, other content: refs/replace or a rewritten object store
        problems.append(f"the mirror's commit {sha} is not that commit: its object was replaced or rewritten")
    return problems + compare(tree_files(source, sha), tree_files(mirror_clone, sha))


def clone(mirror: str, into: Path) -> Path:
    """A bare copy of every ref of `mirror`, over git's transport (so only what its refs reach)."""
    command = ["git", "clone", "--quiet", "--mirror", "--no-local", "--", mirror, str(into)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CheckError(f"cannot read the mirror {mirror}: {result.stderr.strip()}")
    return into


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mirror", help="the mirror: a local clone's path or a git URL readable here")
    parser.add_argument("sha", help="the full commit SHA the project pins (workflows_ref)")
    parser.add_argument("--source", type=Path, default=ROOT, help="this repository (default: %(default)s)")
    args = parser.parse_args(argv)
    sha = args.sha.strip().lower()
    try:
        if not args.mirror:
            raise CheckError("no mirror given: pass its clone's path or git URL (make check-mirror MIRROR=...)")
        if not _SHA.fullmatch(sha):
            raise CheckError(f"{args.sha!r} is not a full commit SHA (40 hex digits): pin the mirror by SHA")
        with tempfile.TemporaryDirectory(prefix="check-mirror-") as scratch:
            problems = check(clone(args.mirror, Path(scratch) / "mirror.git"), sha, args.source)
    except CheckError as error:
        print(f"check-mirror: cannot check: {error}", file=sys.stderr)
        return 2
    if problems:
        print(f"MISMATCH: {args.mirror} does not serve this repository's {CHECKED}/ at {sha}:")
        print("\n".join(f"  - {problem}" for problem in problems))
        print("Push the commit to the mirror unchanged (git push --mirror, or fetch and push that SHA).")
        return 1
    print(f"OK: {args.mirror} holds commit {sha} and its {CHECKED}/ is identical to this repository's.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
