"""Refuse to generate a project from answers that would break it (logic: template_answers.py)."""

import json
import sys
from pathlib import Path

ANSWERS = json.loads(<< cookiecutter | jsonify | tojson >>)
sys.path.insert(0, str(Path(ANSWERS["_repo_dir"]) / "hooks"))

from template_answers import check_answers, format_problems  # noqa: E402

problems = check_answers(ANSWERS)
if problems:
    print(format_problems(problems), file=sys.stderr)
    sys.exit(1)
