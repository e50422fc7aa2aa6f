"""GitHub's own rules for workflows that neither act nor actionlint checks, as pure checkers.

Each checker takes loaded workflows (dicts) and returns a list of problems, empty when the
rule holds; tests/test_github_rules.py runs them on the template's reusable workflows, on
every render, and on small bad workflows that must be reported. Where a rule follows a called
workflow, a `Resolver` turns a job's `uses:` into the called workflow (None: not known here).

The fork rule needs to know which jobs can run on a pull request from a fork: `simulate`
walks a workflow's job graph (and the jobs of the workflows it calls) with a tiny evaluator
of the expression language, in three-valued logic: a value it cannot know here (a variable,
a job's result) is UNKNOWN, and a job runs unless its `if:` is definitely false.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import yaml

Workflow = dict
Resolver = Callable[[str], Workflow | None]

# on.workflow_call.inputs.<input_id>.type: "Required if input is defined for the on.workflow_call
# keyword. The value of this parameter is a string specifying the data type of the input. This
# must be one of: boolean, number, or string." (Workflow syntax for GitHub Actions)
INPUT_TYPES = ("boolean", "number", "string")
# Reusable workflows > Limitations of reusable workflows.
MAX_NESTING = 4  # levels, the top-level caller included
MAX_UNIQUE_CALLED = 20  # unique reusable workflows from one workflow file, nested trees included
# Running variations of jobs in a workflow: "A matrix will generate a maximum of 256 jobs per
# workflow run."
MAX_MATRIX_JOBS = 256
UPLOAD_ARTIFACT = "actions/upload-artifact@"
PERMISSION_LEVELS = {"none": 0, "read": 1, "write": 2}


def load(path: Path) -> Workflow:
    return yaml.safe_load(path.read_text())


def triggers(workflow: Workflow) -> dict:
    """The `on:` mapping (PyYAML reads the bare key `on` as True)."""
    on = workflow.get("on", workflow.get(True))
    return on if isinstance(on, dict) else {name: None for name in ([on] if isinstance(on, str) else on or [])}


def resolver(workflows_repo: str, reusable: Mapping[str, Path], local_dir: Path | None = None) -> Resolver:
    """`uses:` of `workflows_repo`'s `.github/workflows/NAME@ref` → the template's NAME;
    `./.github/workflows/NAME` → the file in `local_dir`; anything else → None."""

    def resolve(uses: str) -> Workflow | None:
        path = uses.split("@")[0]
        if path.startswith(f"{workflows_repo}/.github/workflows/"):
            name = path.rsplit("/", 1)[-1]
            return load(reusable[name]) if name in reusable else None
        if path.startswith("./.github/workflows/") and local_dir is not None:
            local = local_dir / path.rsplit("/", 1)[-1]
            return load(local) if local.is_file() else None
        return None

    return resolve


# --- 1. required check names -------------------------------------------------------------


def check_names(workflow: Workflow, resolve: Resolver, prefix: str = "") -> set[str]:
    """The names GitHub gives the check runs of a workflow's jobs: a job's `name` (else its
    id); for a job that calls a reusable workflow, `<caller job> / <called job>`."""
    names = set()
    for job_id, job in workflow.get("jobs", {}).items():
        name = f"{prefix}{job.get('name', job_id)}"
        callee = resolve(job["uses"]) if "uses" in job else None
        if callee is not None:
            names |= check_names(callee, resolve, prefix=f"{name} / ")
        else:
            names.add(name)
    return names


_CHECK_IN_DOCS = re.compile(r"`([\w.-]+(?: / [\w.() -]+)+)`")


def documented_checks(text: str) -> set[str]:
    """Check names a document spells in backticks: `caller / called`."""
    return {match.strip() for match in _CHECK_IN_DOCS.findall(text)}


def required_check_problems(required: Iterable[str], workflows: Iterable[Workflow], resolve: Resolver) -> list[str]:
    """Each required check name is the name of a check one of `workflows` reports."""
    reported = set().union(*(check_names(workflow, resolve) for workflow in workflows))
    return [f"required check {name!r} is not a check these workflows report: {sorted(reported)}"
            for name in sorted(set(required) - reported)]  # fmt: skip


# --- 2. artifact names unique per call ----------------------------------------------------


def artifact_name_problems(workflow: Workflow) -> list[str]:
    """In a reusable workflow, every upload-artifact `name:` references an input (so two calls in
    one run can upload under different names: artifacts v4 refuse a second upload of a name in
    a run), and in a job with a matrix also a matrix value (so the matrix's jobs differ)."""
    problems = []
    for job_id, job in workflow.get("jobs", {}).items():
        steps = {step["id"]: step for step in job.get("steps", []) if "id" in step}
        for step in job.get("steps", []):
            if not str(step.get("uses", "")).startswith(UPLOAD_ARTIFACT):
                continue
            written = str((step.get("with") or {}).get("name", "artifact"))
            where = f"job {job_id} step {step.get('name', step['uses'])!r}: artifact {written!r}"
            # a name an earlier step writes (steps.ID.outputs.X) is made of what that step reads
            name = written + "".join(
                str(steps.get(step_id, {}).get("env", {}))
                for step_id in re.findall(r"steps\.([\w-]+)\.outputs", written)
            )
            if not re.search(r"\binputs\.", name):
                problems.append(f"{where} names no input: two calls in one run upload the same name")
            if (job.get("strategy") or {}).get("matrix") and not re.search(r"\bmatrix\.", name):
                problems.append(f"{where} names no matrix value: the matrix's jobs upload the same name")
    return problems


# --- 3. input types -----------------------------------------------------------------------


def input_type_problems(workflow: Workflow) -> list[str]:
    inputs = (triggers(workflow).get("workflow_call") or {}).get("inputs") or {}
    return [f"input {name}: type {(spec or {}).get('type')!r} is not one of {INPUT_TYPES}"
            for name, spec in inputs.items() if (spec or {}).get("type") not in INPUT_TYPES]  # fmt: skip


# --- 4. nesting, count and matrix limits --------------------------------------------------


def call_tree(workflow: Workflow, resolve: Resolver, seen: tuple[str, ...] = ()) -> tuple[int, set[str]]:
    """(levels of workflows, the caller counted; the unique reusable workflows the tree calls)."""
    depth, called = 1, set()
    for job in workflow.get("jobs", {}).values():
        if "uses" not in job or not str(job["uses"]).rsplit("@", 1)[0].endswith((".yml", ".yaml")):
            continue
        uses = job["uses"]
        called.add(uses)
        callee = resolve(uses)
        if callee is None or uses in seen:
            depth = max(depth, 2)
            continue
        sub_depth, sub_called = call_tree(callee, resolve, (*seen, uses))
        depth, called = max(depth, 1 + sub_depth), called | sub_called
    return depth, called


def nesting_problems(workflow: Workflow, resolve: Resolver) -> list[str]:
    depth, called = call_tree(workflow, resolve)
    problems = []
    if depth > MAX_NESTING:
        problems.append(f"{depth} levels of workflows: GitHub connects at most {MAX_NESTING}")
    if len(called) > MAX_UNIQUE_CALLED:
        problems.append(f"{len(called)} unique reusable workflows called: GitHub allows {MAX_UNIQUE_CALLED}")
    return problems


def matrix_size(matrix: object, inputs: Mapping[str, object]) -> int | None:
    """Jobs a `strategy.matrix` expands to, with `inputs` for expressions; None if unknowable."""
    matrix = interpolate(matrix, {"inputs": dict(inputs)}) if isinstance(matrix, str) else matrix
    if not isinstance(matrix, dict):
        return None
    axes = {}
    for key, values in matrix.items():
        if key in ("include", "exclude"):
            continue
        values = interpolate(values, {"inputs": dict(inputs)}) if isinstance(values, str) else values
        if not isinstance(values, list):
            return None
        axes[key] = values
    includes = interpolate(matrix.get("include", []), {"inputs": dict(inputs)})
    excludes = interpolate(matrix.get("exclude", []), {"inputs": dict(inputs)})
    if not isinstance(includes, list) or not isinstance(excludes, list):
        return None
    product = 1
    for values in axes.values():
        product *= len(values)
    if product > 100_000:
        return product + len(includes)
    combos = [dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())] if axes else []
    combos = [c for c in combos if not any(all(c.get(k) == v for k, v in e.items()) for e in excludes)]
    # an include adds a job when it fits no combination on the axes' keys (GitHub extends those it fits)
    added = sum(1 for entry in includes if not any(all(c[k] == entry[k] for k in entry if k in axes) for c in combos))
    return len(combos) + added


def matrix_problems(workflow: Workflow, inputs: Mapping[str, object] | None = None) -> list[str]:
    """Each job's matrix expands to at most 256 jobs; `inputs` (default: the declared defaults)
    stand for `inputs.*` in matrix expressions."""
    declared = (triggers(workflow).get("workflow_call") or {}).get("inputs") or {}
    values = {name: (spec or {}).get("default", UNKNOWN) for name, spec in declared.items()} | dict(inputs or {})
    problems = []
    for job_id, job in workflow.get("jobs", {}).items():
        matrix = (job.get("strategy") or {}).get("matrix")
        size = matrix_size(matrix, values) if matrix is not None else None
        if size is not None and size > MAX_MATRIX_JOBS:
            problems.append(f"job {job_id}: its matrix makes {size} jobs, GitHub allows {MAX_MATRIX_JOBS}")
    return problems


def called_matrix_problems(workflow: Workflow, resolve: Resolver) -> list[str]:
    """Matrix sizes of the called workflows' jobs with the inputs each caller job passes."""
    problems = matrix_problems(workflow)
    for job_id, job in workflow.get("jobs", {}).items():
        callee = resolve(job["uses"]) if "uses" in job else None
        if callee is not None:
            given = {name: interpolate(value, {}) for name, value in (job.get("with") or {}).items()}
            problems += [f"job {job_id}: {problem}" for problem in matrix_problems(callee, given)]
    return problems


# --- 5. fork pull requests reach no secret and no environment -----------------------------


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()


class _Skipped(dict):
    """The outputs of a job that did not run: every output is empty."""

    def get(self, _key, _default=None):
        return ""


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>!().,\[\]*])|(?P<ident>[A-Za-z_][A-Za-z0-9_-]*))"
)


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    expression = expression.strip()
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read {expression!r} at {position}")
        kind = match.lastgroup
        tokens.append((kind, match[kind]))
        position = match.end()
    return tokens


def _truthy(value) -> bool | _Unknown:
    if value is UNKNOWN:
        return UNKNOWN
    return value not in (None, False, 0, "") and value == value  # NaN is falsy


def _equal(left, right) -> bool | _Unknown:
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is not type(right):  # GitHub compares values of different types as numbers

        def number(value):
            if value is None or value == "":
                return 0
            try:
                return float(value)
            except (TypeError, ValueError):
                return float("nan")

        return number(left) == number(right)
    return left == right


class _Evaluator:
    """A recursive-descent reader of GitHub's expression syntax over a context of plain values."""

    def __init__(self, expression: str, context: Mapping[str, object]):
        self.tokens, self.index, self.context = _tokens(expression), 0, context

    def peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.index]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, got {token[1]!r}")
        self.index += 1
        return token

    def evaluate(self):
        value = self.or_()
        if self.index != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return value

    def or_(self):
        value = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            truth = _truthy(value)
            value = value if truth is True else right if truth is False else UNKNOWN
        return value

    def and_(self):
        value = self.comparison()
        while self.peek() == "&&":
            self.take()
            right = self.comparison()
            truth = _truthy(value)
            if truth is False:
                continue
            value = right if truth is True else (False if _truthy(right) is False else UNKNOWN)
        return value

    def comparison(self):
        value = self.unary()
        while self.peek() in ("==", "!="):
            operator = self.take()[1]
            equal = _equal(value, self.unary())
            value = equal if equal is UNKNOWN or operator == "==" else not equal
        return value

    def unary(self):
        if self.peek() == "!":
            self.take()
            truth = _truthy(self.unary())
            return UNKNOWN if truth is UNKNOWN else not truth
        return self.postfix()

    def postfix(self):
        value = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
            else:
                key = self.or_()
                self.take("]")
            value = self.member(value, key)
        return value

    @staticmethod
    def member(value, key):
        if value is UNKNOWN or key is UNKNOWN:
            return UNKNOWN
        if isinstance(value, dict):
            return value.get(key, UNKNOWN) if not isinstance(value, _Skipped) else ""
        return None

    def primary(self):
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text)
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "ident":
            raise ValueError(f"unexpected {text!r}")
        if self.peek() == "(":
            self.take()
            arguments = []
            while self.peek() != ")":
                arguments.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            return self.call(text, arguments)
        literals = {"true": True, "false": False, "null": None}
        if text in literals:
            return literals[text]
        return self.context.get(text, UNKNOWN)

    def call(self, name: str, arguments: list):
        name = name.lower()
        if name in ("success", "failure", "always", "cancelled"):
            return self.context.get("__status__", {}).get(name, UNKNOWN)
        if any(argument is UNKNOWN for argument in arguments):
            return UNKNOWN
        if name == "format":
            return re.sub(r"\{(\d+)\}", lambda m: str(arguments[1 + int(m[1])]), arguments[0])
        if name == "fromjson":
            return json.loads(arguments[0])
        if name == "tojson":
            return json.dumps(arguments[0])
        if name == "contains":
            haystack, needle = arguments
            if isinstance(haystack, list):
                return any(_equal(item, needle) is True for item in haystack)
            return str(needle).lower() in str(haystack).lower()
        if name in ("startswith", "endswith"):
            method = str.startswith if name == "startswith" else str.endswith
            return method(str(arguments[0]).lower(), str(arguments[1]).lower())
        return UNKNOWN  # hashFiles and the like: not known here


def evaluate(expression: str, context: Mapping[str, object]):
    """The value of one expression (without `${{ }}`); UNKNOWN where the context does not tell."""
    return _Evaluator(expression, context).evaluate()


_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


def interpolate(value, context: Mapping[str, object]):
    """A workflow value with its `${{ }}` evaluated: a whole-value expression keeps its type,
    one inside text makes a string (UNKNOWN if any part is)."""
    if isinstance(value, list):
        return [interpolate(item, context) for item in value]
    if isinstance(value, dict):
        return {key: interpolate(item, context) for key, item in value.items()}
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = _TEMPLATE.fullmatch(value.strip())
    if whole:
        try:
            return evaluate(whole[1], context)
        except (ValueError, IndexError, json.JSONDecodeError):
            return UNKNOWN
    parts = []
    for piece in _TEMPLATE.split(value)[1::2]:
        try:
            parts.append(evaluate(piece, context))
        except (ValueError, IndexError, json.JSONDecodeError):
            return UNKNOWN
    if any(part is UNKNOWN for part in parts):
        return UNKNOWN
    texts = ("" if part is None else str(part).lower() if isinstance(part, bool) else str(part) for part in parts)
    rendered = iter(texts)
    return _TEMPLATE.sub(lambda _: next(rendered), value)


_STATUS_FUNCTIONS = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.IGNORECASE)


def _condition(job: Mapping, results: Mapping[str, object], context: Mapping[str, object]):
    """Whether a job runs: True, False or UNKNOWN. An `if:` without a status function is
    `success() && (if)`; success() holds when every job in `needs` succeeded."""
    needs = job.get("needs", [])
    needs = [needs] if isinstance(needs, str) else list(needs)
    known = [results[name] for name in needs]
    if any(result not in ("success", UNKNOWN) for result in known):
        success = False
    else:
        success = True if all(result == "success" for result in known) else UNKNOWN
    failure = False if success is True else UNKNOWN
    status = {"success": success, "always": True, "cancelled": False, "failure": failure}
    condition = job.get("if", True)
    if isinstance(condition, bool):
        return success if condition else False
    text = str(condition).strip()
    whole = _TEMPLATE.fullmatch(text)
    text = whole[1] if whole else text
    if not _STATUS_FUNCTIONS.search(text):
        text = f"success() && ({text})"
    try:
        return _truthy(evaluate(text, {**context, "__status__": status}))
    except (ValueError, IndexError, json.JSONDecodeError):
        return UNKNOWN


def _order(jobs: Mapping[str, Mapping]) -> list[str]:
    done: list[str] = []
    while len(done) < len(jobs):
        for job_id, job in jobs.items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            if job_id not in done and all(name in done for name in needs):
                done.append(job_id)
                break
        else:
            raise ValueError(f"the `needs` of {sorted(set(jobs) - set(done))} form a cycle or name no job")
    return done


def _uses_secrets(node) -> bool:
    """Whether a job (or a caller job's `secrets:`) reads a secret other than GITHUB_TOKEN."""
    if node == "inherit":
        return True
    names = re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)|secrets\[\s*'([^']+)'", json.dumps(node))
    return any((dotted or indexed) != "GITHUB_TOKEN" for dotted, indexed in names)


def simulate(
    workflow: Workflow,
    resolve: Resolver,
    github: Mapping[str, object],
    inputs: Mapping[str, object] | None = None,
    where: str = "",
) -> tuple[list[tuple[str, Mapping]], dict]:
    """Walk a workflow's job graph for one event: (the jobs with steps that may run, each as
    (path, job); {job id: (result, outputs)}). A job that calls a workflow runs that
    workflow's jobs with the inputs it passes."""
    context = {"github": dict(github), "inputs": dict(inputs or {}), "vars": UNKNOWN, "secrets": UNKNOWN}
    results: dict[str, object] = {}
    outputs: dict[str, object] = {}
    may_run: list[tuple[str, Mapping]] = []
    jobs = workflow.get("jobs", {})
    for job_id in _order(jobs):
        job = jobs[job_id]
        needs = job.get("needs", [])
        needs = [needs] if isinstance(needs, str) else list(needs)
        needs_context = {name: {"result": results[name], "outputs": outputs[name]} for name in needs}
        job_context = {**context, "needs": needs_context}
        runs = _condition(job, results, job_context)
        path = f"{where}{job_id}"
        if runs is False:
            results[job_id], outputs[job_id] = "skipped", _Skipped()
            continue
        results[job_id], outputs[job_id] = UNKNOWN, UNKNOWN
        if "uses" not in job:
            may_run.append((path, job))
            continue
        callee = resolve(job["uses"])
        if callee is None:  # not known here: the caller job stands for its jobs
            may_run.append((path, job))
            continue
        declared = (triggers(callee).get("workflow_call") or {}).get("inputs") or {}
        given = {name: interpolate(value, job_context) for name, value in (job.get("with") or {}).items()}
        callee_inputs = {name: (spec or {}).get("default", None) for name, spec in declared.items()} | given
        inner, inner_jobs = simulate(callee, resolve, github, callee_inputs, where=f"{path} / ")
        may_run += inner
        jobs_context = {name: {"result": result, "outputs": job_outputs}
                        for name, (result, job_outputs) in inner_jobs.items()}  # fmt: skip
        declared_outputs = (triggers(callee).get("workflow_call") or {}).get("outputs") or {}
        outputs[job_id] = {
            name: interpolate((spec or {}).get("value", ""), {**context, "inputs": callee_inputs, "jobs": jobs_context})
            for name, spec in declared_outputs.items()
        }
    return may_run, {job_id: (results[job_id], outputs[job_id]) for job_id in jobs}


def fork_pull_request(repository: str = "acme/project", fork: str = "someone/project") -> dict:
    """The `github` context of a pull request from a fork, as far as the conditions read it."""
    return {
        "event_name": "pull_request",
        "repository": repository,
        "ref": "refs/pull/1/merge",
        "actor": "someone",
        "event": {
            "pull_request": {
                "number": 1,
                "head": {"repo": {"full_name": fork}, "ref": "patch-1"},
                "base": {"repo": {"full_name": repository}, "ref": "main", "sha": UNKNOWN},
                "user": {"login": "someone"},
            },
            "repository": {"default_branch": "main", "full_name": repository},
        },
    }


def fork_problems(workflow: Workflow, resolve: Resolver) -> list[str]:
    """No job that reads a secret (other than GITHUB_TOKEN) or declares an environment can run
    on a pull request from a fork: its `if:` (or a job it needs) rules it out."""
    if "pull_request" not in triggers(workflow):
        return []
    may_run, _ = simulate(workflow, resolve, fork_pull_request())
    problems = []
    for path, job in may_run:
        reads = "environment" if "environment" in job else "secrets" if _uses_secrets(
            {key: value for key, value in job.items() if key != "if"}
        ) else None  # fmt: skip
        if reads:
            problems.append(f"job {path} uses {reads} and can run on a pull request from a fork")
    return problems


# --- 6. a called job's permissions never exceed its caller's grant -------------------------


def _permissions(value) -> dict[str, str] | None:
    """{scope: access}; None for the repository's default (no `permissions:`)."""
    if value is None:
        return None
    if value in ("read-all", "write-all"):
        level = value.split("-")[0]
        return {scope: level for scope in ALL_SCOPES}
    return dict(value or {})


ALL_SCOPES = (
    "actions", "attestations", "checks", "contents", "deployments", "discussions", "id-token", "issues",
    "models", "packages", "pages", "pull-requests", "repository-projects", "security-events", "statuses",
)  # fmt: skip


def permission_problems(workflow: Workflow, resolve: Resolver) -> list[str]:
    """For every job that calls a workflow: each job of the called workflow asks for no scope at a
    level above what the caller job grants (its `permissions:`, else the workflow's)."""
    problems = []
    for job_id, job in workflow.get("jobs", {}).items():
        callee = resolve(job["uses"]) if "uses" in job else None
        if callee is None:
            continue
        granted = _permissions(job.get("permissions", workflow.get("permissions")))
        if granted is None:
            continue  # the repository's default grant: not known here
        for callee_job_id, callee_job in callee.get("jobs", {}).items():
            asked = _permissions(callee_job.get("permissions", callee.get("permissions"))) or {}
            for scope, access in asked.items():
                have = granted.get(scope, "none")
                if PERMISSION_LEVELS[access] > PERMISSION_LEVELS[have]:
                    problems.append(
                        f"job {job_id} grants {scope}: {have}, its called job {callee_job_id} asks for {access}"
                    )
    return problems
