# make dev   run the whole stack on embedded defaults (Ctrl-C stops it all)
# make test  install everything the tests need, then run the gates and the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: dev test install lint bench histories clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0] + ": run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

# Reinstalls whenever the dependencies change. Compat mode puts the checkout itself on the
# path, so new top-level packages are importable without reinstalling.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[test,bench]' --config-settings editable_mode=compat
	@touch $(STAMP)

install: $(STAMP)

dev: install
	$(BIN)/python -m devstack

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

test: lint
	$(BIN)/python -m pytest

# Record the booking workflow's histories of every path for the replay tests (a new era only).
histories: install
	$(BIN)/python -m tests.workflows.record_histories

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf .data
