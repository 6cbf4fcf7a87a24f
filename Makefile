# govwatch: `make run` for one cycle, `make test` for the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install install-test run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'

run: install
	$(BIN)/govwatch run

lint: install-test
	$(BIN)/ruff check core monitors pipeline storage notifications tests $(wildcard benchmarks)
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

bench: install-test
	$(BIN)/python benchmarks/cycle.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
