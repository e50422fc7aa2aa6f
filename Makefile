# The template repository's tasks. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PYTHON := $(VENV)/bin/python
TORCH_VERSION ?= 2.13.0
# Leave empty to take torch from the default index; on a CPU-only machine elsewhere use
# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu to avoid the multi-GB CUDA build.
TORCH_INDEX_URL ?=
DEMO_DIR ?= build/demo
PYTEST_ARGS ?=
# `make test`'s pytest-xdist workers: auto, one per core; JOBS=0 runs the suite in this process
# (for --pdb). Most tests wait on one busy subprocess (act, training, uv), so cores stay busy.
JOBS ?= auto
MIRROR ?=
SHA ?=
# JUnit XML reports for `make durations` (the CI shards' build/junit-shard-*.xml); empty: run the suite
JUNIT ?=

STAMP := $(VENV)/.installed

.PHONY: help venv lock-dev demo test test-fast durations lint docs-check lock-generated bench-ci pin-actions check-mirror clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n", $$1, $$2}'

# requirements-dev.lock pins every package of requirements-dev.txt with its hashes (`make
# lock-dev` writes it); torch is installed first and apart, the CPU build of TORCH_VERSION.
$(STAMP): requirements-dev.lock
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(PYTHON) -m pip install --quiet --require-hashes -r requirements-dev.lock
	touch $(STAMP)

venv: $(STAMP) ## create .venv with everything the demo and the tests need, exactly requirements-dev.lock

lock-dev: ## refresh requirements-dev.lock after editing requirements-dev.txt (commit both)
	$(PYTHON) scripts/lock_dev.py

demo: $(STAMP) ## render a project and run its CI under act: a push that promotes, then a weaker PR the gate rejects
	$(PYTHON) scripts/demo.py --output-dir $(DEMO_DIR)

# loadscope with tests/conftest.py's scopes: a file whose tests share a module fixture runs whole on
# one worker; the work goes out longest first (conftest's order, which --no-loadscope-reorder keeps)
XDIST = -n $(JOBS) --dist loadscope --no-loadscope-reorder

test: $(STAMP) ## run the template's whole test suite (renders, lints, pipelines, workflows) on JOBS workers
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP) ## the suite without tests marked slow
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

durations: $(STAMP) ## rewrite tests/durations.json (what CI's shards are balanced by) from a run of the suite, or from JUNIT="a.xml b.xml"
	$(if $(JUNIT),,-PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m pytest --junitxml=build/junit.xml $(PYTEST_ARGS))
	$(PYTHON) scripts/shard_tests.py durations $(or $(JUNIT),build/junit.xml)

lint: $(STAMP) ## every pre-commit hook on the template repository itself (ruff, actionlint, zizmor, shellcheck, secrets, file checks)
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m pre_commit run --all-files --show-diff-on-failure

docs-check: $(STAMP) ## fail on a Markdown link to a missing file or section, or text citing what is not in the repository
	$(PYTHON) scripts/check_docs.py

lock-generated: $(STAMP) ## refresh the uv.lock each rendered project ships with (templates/uv-lock/), after a dependency change
	$(PYTHON) scripts/lock_projects.py

bench-ci: $(STAMP) ## time the generated CI under act with real installs (pip, uv cold, uv warm, reused interpreter); table + build/bench-ci.json
	PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) scripts/bench_ci.py

pin-actions: ## pin the reusable workflows' setup-project action to the commit that last changed it
	python3 scripts/pin_setup_project.py

check-mirror: ## check that a mirror holds commit SHA with this repository's .github/ (MIRROR=clone path or git URL, SHA=full SHA)
	python3 scripts/check_mirror.py "$(MIRROR)" "$(SHA)"

clean: ## remove the virtual environment and build outputs
	rm -rf $(VENV) build .pytest_cache
