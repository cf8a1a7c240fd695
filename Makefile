# One command each: `make demo` installs and runs the pipeline on built-in demo data;
# `make test` installs and runs the tests. Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
WORKDIR ?= demo_run
PIP_INSTALL = $(VENV)/bin/pip install --ignore-requires-python -c requirements/constraints.txt

.PHONY: install demo test test-fast bench clean cli-reference

$(VENV)/.installed: requirements/requirements.txt requirements/no-deps.txt requirements/constraints.txt setup.py
	$(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -r requirements/requirements.txt
	$(PIP_INSTALL) --no-deps -r requirements/no-deps.txt
	$(PIP_INSTALL) --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/relevance demo --workdir $(WORKDIR)

# Two worker processes, one test file each at a time (a file's fixtures stay in one
# process); the whole-pipeline file goes first (tests/conftest.py). TEST_WORKERS=0 runs
# in this process.
TEST_WORKERS ?= 2
test: install
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15 tests

# Skips the tests marked slow (the real pretrained teacher, the whole-pipeline run).
test-fast: install
	$(VENV)/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m "not slow" tests

# Rewrites README's CLI reference from the parser (tests/test_readme_commands.py checks it).
cli-reference: install
	$(VENV)/bin/python -m cli.reference --write README.md

clean:
	rm -rf $(VENV) $(WORKDIR) *.egg-info
