"""Prune unchosen options, record the answers, print next steps (logic: template_layout.py)."""

import json
import sys
from pathlib import Path

ANSWERS = json.loads(<< cookiecutter | jsonify | tojson >>)
sys.path.insert(0, str(Path(ANSWERS["_repo_dir"]) / "hooks"))

from template_layout import next_steps, prune, write_answers  # noqa: E402

project_dir = Path.cwd()
prune(project_dir, ANSWERS)
write_answers(project_dir, ANSWERS)
print(next_steps(ANSWERS))
