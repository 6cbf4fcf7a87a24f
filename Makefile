# govwatch: `make run` for one cycle, `make test` for the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pip's output (and setuptools' build warnings) go here; shown only when pip fails.
PIP_LOG := $(VENV)/pip.log
PIP := $(BIN)/python -m pip install -q

.PHONY: install install-test browser run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	@$(PIP) --upgrade pip >$(PIP_LOG) 2>&1 || { cat $(PIP_LOG); exit 1; }

# Installed once per change of pyproject.toml (the install is editable: code changes
# need no reinstall); the stamps record that it was done.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing govwatch into $(VENV)"
	@$(PIP) -e . >$(PIP_LOG) 2>&1 || { cat $(PIP_LOG); exit 1; }
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	@echo "installing govwatch and its test tools into $(VENV)"
	@$(PIP) -e '.[test]' >$(PIP_LOG) 2>&1 || { cat $(PIP_LOG); exit 1; }
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/govwatch run --where
	@echo "(govwatch is $(BIN)/govwatch; or activate the environment: . $(BIN)/activate)"

lint: install-test
	$(BIN)/ruff check core monitors pipeline storage notifications tests $(wildcard benchmarks)
	$(BIN)/mypy

# The browser tests (and `render: browser`) use the operating system's Chromium; nothing
# downloads a browser build. As root on Debian it is installed when missing; without root,
# ask an administrator for `apt-get install chromium` (the browser tests skip without it).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      echo "installing Debian's chromium"; \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	    else echo "no chromium on PATH (not root): the browser tests will be skipped"; fi; }

test: lint browser
	$(BIN)/pytest

bench: install-test
	$(BIN)/python benchmarks/cycle.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
