# make dev   run the whole stack on embedded defaults (Ctrl-C stops it all)
# make test  install everything the tests need, then run the gates and the whole suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The booking page and dashboard (web/): npm ci from the committed lock, then the Vite build.
WEB_STAMP := web/node_modules/.installed-stamp
WEB_BUILD := web/dist/.build-stamp
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
	web/dashboard/index.html web/vite.config.ts web/tsconfig.json
# The browser tests drive Debian's Chromium; Playwright's own browser download is never used.
CHROMIUM := /usr/bin/chromium

.PHONY: dev test install lint bench histories clean web

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required, found " + sys.version.split()[0] + ": run make PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

# Reinstalls whenever the dependencies change. Compat mode puts the checkout itself on the
# path, so new top-level packages are importable without reinstalling.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt -e '.[test,bench]' --config-settings editable_mode=compat
	@touch $(STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	@touch $(WEB_STAMP)

# Type-checks (tsc --noEmit), then builds web/dist, which the API serves.
$(WEB_BUILD): $(WEB_STAMP) $(WEB_SOURCES)
	cd web && npm run build
	@touch $(WEB_BUILD)

web: $(WEB_BUILD)

$(CHROMIUM):
	DEBIAN_FRONTEND=noninteractive apt-get install -y chromium \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

install: $(STAMP) $(WEB_BUILD) $(CHROMIUM)

dev: $(STAMP) $(WEB_BUILD)
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
