# mia_repro — one command for the main job, one for the tests.
#   make reproduce            # PROFILE=quick by default; PROFILE=paper for the full protocol
#   make test                 # unit + integration tests
#   make test-fast            # the loop while editing: nothing that trains a model, nothing slow
PROFILE ?= quick
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?=
# Run only some notebooks (name prefixes), e.g. ONLY="01 02 04" to skip the mitigation sweep.
ONLY ?=
ONLY_ARG = $(if $(ONLY),--only $(ONLY))
# Test files run in this many processes (pytest-xdist; a file's tests stay in one process, so
# module fixtures are built once). 2 matches the CI machine's cores; TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 2

.PHONY: install data test test-fast reproduce stage1 stage2 mitigation bench notebooks mutation

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $(STAMP)

data: install
	$(PY) -m mia_repro data

# Tests marked serial (a Ctrl-C sent to a training run) run afterwards, alone: beside another test file's
# load they are timing-sensitive.
test: install data
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not serial"
	$(PY) -m pytest -q -m serial

# The loop while editing: every test but those that train a model (marker `training`, checked by tests/conftest.py),
# the slow recomputations of the committed results (`slow`) and the serial ones.
test-fast: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not training and not slow and not serial"

# The main job: set up, find the data, run the four notebooks in order (papermill).
reproduce: install data
	$(PY) -m mia_repro.tools.reproduce --profile $(PROFILE) $(if $(OUT),--out $(OUT)) $(ONLY_ARG)

# Same, and write the executed notebooks back over notebooks/ (for committing outputs).
notebooks: install data
	$(PY) -m mia_repro.tools.reproduce --profile $(PROFILE) --update-notebooks $(ONLY_ARG)

stage1 stage2 mitigation: install data
	$(PY) -m mia_repro $@ --profile $(PROFILE)

bench: install data
	$(PY) -m mia_repro.tools.bench $(BENCH_ARGS)

# Mutation testing of the attacks and the metrics against their fast tests (not part of `make test`):
# mutmut (requirements-dev.txt), configured in pyproject.toml; prints the score per file.
mutation: install
	$(PY) -m pip install -q -r requirements-dev.txt
	rm -rf mutants  # a fresh run: mutmut reuses old results for unchanged code even when the tests changed
	$(VENV)/bin/mutmut run --max-children 2 > /dev/null || true
	$(PY) tests/mutation_report.py
