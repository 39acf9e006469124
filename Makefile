# Two entry points do all the set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config.toml

.PHONY: run test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres]'
	touch $@

# The sample import is idempotent: on a store that has it already, it changes nothing.
run: $(VENV)/.installed
	$(VENV)/bin/rulewatch --config $(CONFIG) import --sample
	$(VENV)/bin/rulewatch --config $(CONFIG) serve

test: $(VENV)/.installed
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) bench/extract.py

clean:
	rm -rf $(VENV) *.egg-info
