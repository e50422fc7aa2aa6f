"""The template under test: where it is, its default answers, and rendering it."""

from __future__ import annotations

import json
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parents[2]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())
DEFAULT_PROJECT = "penguin-classifier"
DEFAULT_PACKAGE = "penguin_classifier"


def render(output_dir: Path, **answers: str) -> Path:
    """Render the template with the defaults overridden by `answers`; return the project dir."""
    project = cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(output_dir))
    return Path(project)
