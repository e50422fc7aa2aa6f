"""`make docs-check`: every Markdown link resolves, and no text cites anything outside the repository.

Checks the template's own Markdown and that of a freshly rendered default project: a relative
link must name an existing file, and a `#section` must name a heading of the linked Markdown
file (GitHub's anchors). Every tracked text file is also searched for references to planning
documents or work items, which mean nothing to a reader of the product. Exit status 1 lists
every problem.

    python scripts/check_docs.py
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.MULTILINE)
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# Words that only make sense next to a planning document or a tracker, never in the product.
OUTSIDE_REFERENCES = re.compile(
    r"\b(DESIGN\.md|STYLE\.md|DESIGN section|design brief|the issue'?s?\b|issue's|this issue)", re.IGNORECASE
)
TEXT_SUFFIXES = {".md", ".py", ".yml", ".yaml", ".toml", ".json", ".sh", ".cfg", ".txt", ""}


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    return {anchor(heading) for heading in HEADING.findall(FENCE.sub("", markdown.read_text()))}


def broken_links(markdown: Path, root: Path) -> list[str]:
    """Links in `markdown` to a missing file or section, as 'file: target (why)'."""
    problems = []
    for target in LINK.findall(FENCE.sub("", markdown.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, section = urllib.parse.unquote(target).partition("#")
        linked = (markdown.parent / path_part).resolve() if path_part else markdown
        where = f"{markdown.relative_to(root)}: {target}"
        if not linked.exists():
            problems.append(f"{where} (no such file)")
        elif section and linked.suffix == ".md" and section not in anchors(linked):
            problems.append(f"{where} (no heading with anchor #{section} in {linked.name})")
    return problems


def tracked_files(root: Path) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return [root / name for name in listed if name and (root / name).is_file()]


def outside_references(files: list[Path], root: Path) -> list[str]:
    problems = []
    for path in files:
        if path.suffix not in TEXT_SUFFIXES or path.resolve() == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1):
            if match := OUTSIDE_REFERENCES.search(line):
                problems.append(f"{path.relative_to(root)}:{number}: cites {match[0]!r} (state the reason instead)")
    return problems


def render_default(output: Path) -> Path:
    """The default project, rendered quietly by the cookiecutter next to this interpreter."""
    cookiecutter = Path(sys.executable).parent / "cookiecutter"
    command = [str(cookiecutter), "--no-input", str(TEMPLATE_DIR), "--output-dir", str(output)]
    subprocess.run(command, capture_output=True, check=True)
    (project,) = output.iterdir()
    return project


def main() -> int:
    files = tracked_files(TEMPLATE_DIR)
    problems = outside_references(files, TEMPLATE_DIR)
    template_markdown = [path for path in files if path.suffix == ".md" and "<<" not in path.as_posix()]
    for markdown in template_markdown:
        problems += broken_links(markdown, TEMPLATE_DIR)
    with tempfile.TemporaryDirectory() as scratch:
        project = render_default(Path(scratch))
        rendered = sorted(project.rglob("*.md"))
        for markdown in rendered:
            problems += [f"(rendered) {problem}" for problem in broken_links(markdown, project)]
        checked = len(template_markdown) + len(rendered)
    for problem in problems:
        print(problem)
    print(f"docs-check: {checked} Markdown files, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
