"""Bad answers are refused with a message naming the variable, and nothing is left behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support.commands import BIN_DIR, PYTHON, run, tool_env
from support.hooks import post_gen, pre_gen
from support.template import COOKIECUTTER_JSON, DEFAULT_PACKAGE, EXCLUDED, METRICS_BY_TASK, TEMPLATE_DIR

DEFAULT_ANSWERS = {
    "project_name": "Penguin Classifier",
    "project": "penguin-classifier",
    "package": "penguin_classifier",
    **{
        key: (value[0] if isinstance(value, list) else value)
        for key, value in COOKIECUTTER_JSON.items()
        if not key.startswith("_") and key not in {"project_name", "project", "package", "image_name"}
    },
    "image_name": "",
    "primary_metric": "accuracy",  # what cookiecutter renders the first option to for the default task
}

# (answers given on the command line, variable the error must name, text it must contain)
BAD_ANSWERS = [
    ({"project_name": "Bad Name!!"}, "project_name", "'Bad Name!!'"),
    ({"project_name": "9lives"}, "project_name", "start with a letter"),
    ({"project": "Has Spaces"}, "project", "lowercase slug"),
    ({"package": "class"}, "package", "Python keyword"),
    ({"package": "json"}, "package", "standard-library"),
    ({"package": "torch"}, "package", "dependency"),
    ({"package": "1st_model"}, "package", "identifier"),
    ({"workflows_repo": "no-slash"}, "workflows_repo", "OWNER/REPO"),
    ({"workflows_ref": "bad ref"}, "workflows_ref", "tag, branch or full 40-character commit SHA"),
    ({"workflows_ref": "v1..2"}, "workflows_ref", "commit SHA"),
    ({"gpu_runner_labels": "not json"}, "gpu_runner_labels", "not valid JSON"),
    ({"gpu_runner_labels": "[]"}, "gpu_runner_labels", "non-empty JSON list"),
    ({"gpu_runner_labels": '["gpu", 3]'}, "gpu_runner_labels", "label strings"),
    ({"gpu_runner_labels": '["gpu", "gpu"]'}, "gpu_runner_labels", "twice"),
    ({"min_improvement": "0"}, "min_improvement", "'0' is out of range: allowed above 0 and at most 0.5"),
    ({"min_improvement": "0.6"}, "min_improvement", "'0.6' is out of range: allowed above 0 and at most 0.5"),
    ({"min_improvement": "1.5"}, "min_improvement", "for example min_improvement='0.02'"),
    ({"min_improvement": "two percent"}, "min_improvement", "not a number"),
    ({"registry": "https://ghcr.io"}, "registry", "host name"),
    ({"image_name": "My-Org/Model"}, "image_name", "lowercase path"),
    ({"production_environment": "prod env"}, "production_environment", "GitHub environment name"),
    ({"production_environment": "prod/eu"}, "production_environment", "letters, digits"),
    ({"staging_environment": "staging!"}, "staging_environment", "GitHub environment name"),
    ({"code_owners": "ml-leads"}, "code_owners", "'ml-leads': give @org/team, @user or an e-mail address"),
    ({"code_owners": "@acme/ml-leads, @alice"}, "code_owners", "'@acme/ml-leads,'"),
    ({"code_owners": "@acme/ml/leads"}, "code_owners", "for example code_owners='@my-org/ml-leads @alice'"),
    ({"code_owners": " "}, "code_owners", "at least one code owner"),
    ({"code_owners": "@alice @Alice"}, "code_owners", "twice"),
    ({"author_email": "nobody"}, "author_email", "e-mail"),
    ({"description": 'Predicts "churn"'}, "description", "double quotes"),
    ({"retrain_cron": "every two weeks"}, "retrain_cron", "5-field cron"),
    ({"retrain_cron": "0 3 * *"}, "retrain_cron", "5-field cron"),
    ({"python_version": "3.9"}, "python_version", "choices are"),
    ({"primary_metric": "auc"}, "primary_metric", "choices are"),
    ({"task": "ranking"}, "task", "choices are"),
    ({"task": "regression", "primary_metric": "accuracy"}, "primary_metric", "rmse, mae, r2"),
    ({"task": "classification", "primary_metric": "r2"}, "primary_metric", "accuracy, balanced_accuracy"),
]


@pytest.mark.parametrize(
    ("answers", "variable", "expected"),
    BAD_ANSWERS,
    ids=["-".join(f"{key}={value}" for key, value in row[0].items()) for row in BAD_ANSWERS],
)
def test_bad_answer_is_refused_and_nothing_is_rendered(tmp_path: Path, answers, variable, expected):
    output = tmp_path / "out"
    output.mkdir()
    args = [str(BIN_DIR / "cookiecutter"), "--no-input", str(TEMPLATE_DIR), "--output-dir", str(output)]
    result = run(args + [f"{key}={value}" for key, value in answers.items()], cwd=tmp_path, env=tool_env(), check=False)
    assert result.returncode != 0
    message = result.stdout + result.stderr
    assert variable in message
    assert expected in message
    assert list(output.iterdir()) == []


def test_all_problems_are_reported_at_once():
    answers = {**DEFAULT_ANSWERS, "package": "class", "min_improvement": "7", "workflows_repo": "x"}
    problems = pre_gen.check_answers(answers)
    assert [problem.split("=")[0] for problem in problems] == ["package", "workflows_repo", "min_improvement"]
    assert all("for example" in problem for problem in problems)


def test_default_answers_pass():
    assert pre_gen.check_answers(DEFAULT_ANSWERS) == []


def test_every_answer_has_a_rule():
    variables = {key for key in COOKIECUTTER_JSON if not key.startswith("_")}
    assert variables == set(pre_gen.RULES)


def test_choice_rules_match_cookiecutter_json():
    """The hook's choices are cookiecutter.json's literal options (a rendered default is one of them)."""
    for name, allowed in pre_gen.CHOICES.items():
        assert list(allowed) == [value for value in COOKIECUTTER_JSON[name] if "<<" not in value]


def test_the_render_matrix_excludes_exactly_the_metrics_the_hook_refuses():
    assert METRICS_BY_TASK == pre_gen.METRICS_BY_TASK
    refused = [
        {"task": task, "primary_metric": metric}
        for task in pre_gen.METRICS_BY_TASK
        for metric in pre_gen.METRICS
        if pre_gen.check_answers({**DEFAULT_ANSWERS, "task": task, "primary_metric": metric})
    ]
    assert refused == EXCLUDED


@pytest.mark.parametrize(("task", "metrics"), list(pre_gen.METRICS_BY_TASK.items()))
def test_a_metric_of_the_other_task_is_refused_naming_both(task, metrics):
    for metric in pre_gen.METRICS:
        problems = pre_gen.check_answers({**DEFAULT_ANSWERS, "task": task, "primary_metric": metric})
        if metric in metrics:
            assert problems == []
        else:
            assert problems == [
                f"primary_metric={metric!r} does not fit task={task!r}; a {task} model is gated on one of "
                f"{', '.join(metrics)}, for example primary_metric={metrics[0]!r}"
            ]


def test_the_hook_refuses_exactly_the_margins_the_generated_config_refuses(default_project: Path):
    """One range for gate.min_improvement: the answer and params.yaml are held to the same bounds."""
    low, high = pre_gen.MIN_IMPROVEMENT_BOUNDS
    margins = [str(value) for value in (low - 0.01, low, low + 1e-6, 0.02, high, high + 1e-6, 1.0)]
    script = (
        f"import json, sys; from {DEFAULT_PACKAGE}.config import GateParams\n"
        "def accepts(margin):\n"
        "    try:\n"
        "        GateParams(min_improvement=margin)\n"
        "    except ValueError:\n"
        "        return False\n"
        "    return True\n"
        "print(json.dumps([accepts(float(margin)) for margin in sys.argv[1:]]))"
    )
    config_accepts = json.loads(run([PYTHON, "-c", script, *margins], cwd=default_project).stdout)
    hook_accepts = [not pre_gen.check_answers({**DEFAULT_ANSWERS, "min_improvement": margin}) for margin in margins]
    assert hook_accepts == config_accepts == [False, False, True, True, True, False, False]


@pytest.mark.parametrize("sha", ["0123456789abcdef0123456789abcdef01234567"])
def test_full_commit_sha_is_a_valid_ref(sha):
    assert pre_gen.check_answers({**DEFAULT_ANSWERS, "workflows_ref": sha}) == []


def test_removal_table_removes_only_unchosen_paths():
    table = post_gen.PATHS_BY_CHOICE["data_versioning"]
    assert post_gen.paths_to_remove({"data_versioning": "dvc"}) == sorted(table["none"])
    assert post_gen.paths_to_remove({"data_versioning": "none"}) == sorted(table["dvc"])


def test_every_removable_path_exists_in_the_template():
    project_dir = TEMPLATE_DIR / "<<cookiecutter.project>>"
    for paths_by_value in post_gen.PATHS_BY_CHOICE.values():
        for paths in paths_by_value.values():
            assert all((project_dir / path).exists() for path in paths), paths


def test_answers_record_is_cruft_compatible():
    record = post_gen.answers_record({**DEFAULT_ANSWERS, "_template": "gh:org/tpl", "_secret": "x"}, "abc123")
    assert record["template"] == "gh:org/tpl"
    assert record["commit"] == "abc123"
    context = record["context"]["cookiecutter"]
    assert context["_commit"] == "abc123"
    assert "_secret" not in context
    assert json.loads(json.dumps(record)) == record
