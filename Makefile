# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11 and make needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# Empty: the demo design (a year of responses, 60–400 per commune in proportion to population,
# about 20,000 in all); a number N: about N responses shared out the same way.
DEMO_RESPONSES ?=
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/feedback_test
export FLASK_APP := wsgi

.PHONY: install translations db run test test-sqlite test-postgres messages browser r clean lint format

# Packages come from PyPI through uv (pinned here; it installs the same pinned versions as pip,
# about 5× faster); where uv cannot be installed or cannot reach the index, pip installs them.
# uv reads no pip configuration: pip's index-url (PIP_INDEX_URL or `pip config`) is handed to it.
UV_VERSION := 0.13.9
define venv_install
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install -q uv==$(UV_VERSION) 2>/dev/null \
		|| echo "uv could not be installed: pip installs the requirements instead (slower)"
	@echo "install -r $(1)"
	@index="$${PIP_INDEX_URL:-$$($(BIN)/python -m pip config get global.index-url 2>/dev/null)}"; \
	if [ -x $(BIN)/uv ] && UV_DEFAULT_INDEX="$${UV_DEFAULT_INDEX:-$${index:-https://pypi.org/simple}}" \
		$(BIN)/uv pip install -q --python $(BIN)/python -r $(1); then :; \
	else $(BIN)/python -m pip install -q --upgrade pip && $(BIN)/python -m pip install -q -r $(1); fi
endef

# `make run` needs only the runtime requirements; `make install` (and the tests) add the dev ones.
$(VENV)/.installed-run: requirements.txt
	$(call venv_install,requirements.txt)
	touch $@

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(call venv_install,requirements-dev.txt)
	touch $@ $(VENV)/.installed-run

install: $(VENV)/.installed

translations/vi/LC_MESSAGES/messages.mo: translations/vi/LC_MESSAGES/messages.po $(VENV)/.installed-run
	$(BIN)/pybabel compile -d translations

translations: translations/vi/LC_MESSAGES/messages.mo

## browser: Debian's Chromium (for the browser tests) and axe-core from the npm registry
AXE := .browser/node_modules/axe-core/axe.min.js
browser: $(AXE)
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "Chromium is missing and cannot be installed here: browser tests will be skipped"; fi; }

$(AXE):
	@command -v npm >/dev/null 2>&1 && npm install --silent --no-audit --no-fund --prefix .browser axe-core@4.14.1 \
		|| echo "npm is missing: browser tests will be skipped"

## r: R with survey and metafor from Debian, the reference that tests/analysis holds analysis/ to
R_PACKAGES := r-base-core r-cran-survey r-cran-metafor
r:
	@Rscript -e 'suppressMessages({library(survey); library(metafor)})' >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(R_PACKAGES) >/dev/null; \
		elif [ -n "$$CI" ]; then echo "R with survey and metafor is missing and cannot be installed here: the R reference tests will fail (CI)"; \
		else echo "R with survey and metafor is missing and cannot be installed here: the R reference tests will be skipped"; fi; }

## db: migrate the database (SQLite in instance/ unless DATABASE_URL) and load Lào Cai with demo data
db: $(VENV)/.installed-run translations
	$(BIN)/flask db upgrade
	$(BIN)/flask load-units
	@# Demo data once (about 10 s); `rm instance/.demo-seeded` to add it again.
	@if [ ! -f instance/.demo-seeded ] || [ -n "$$DATABASE_URL" ]; then \
		$(BIN)/flask seed-demo $(if $(DEMO_RESPONSES),--responses $(DEMO_RESPONSES)) && \
		$(BIN)/flask import-margins docs/demo_margins_lao_cai.csv && \
		$(BIN)/flask create-demo-users && touch instance/.demo-seeded; fi

## run: serve the demo on http://127.0.0.1:$(PORT); links and QR codes point there unless BASE_URL is set
run: db
	BASE_URL="$${BASE_URL:-$${FLASK_BASE_URL:-http://127.0.0.1:$(PORT)}}" $(BIN)/flask run --host 127.0.0.1 --port $(PORT)

## test: lint, format and type checks, then the whole suite on SQLite and on the local PostgreSQL (required in CI)
test: lint test-sqlite test-postgres

## lint: ruff (lint rules and formatting) over the tree, mypy over analysis/ and surveys/ (pyproject.toml)
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## format: let ruff sort imports, apply its safe fixes and format the tree
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test-sqlite: install translations browser r
	$(BIN)/python -m pytest

# tests/analysis/ never touches a database (pure numpy/pandas, R as the oracle): once is enough.
test-postgres: install translations browser
	@if $(BIN)/python -c "import psycopg, sys; psycopg.connect('$(PG_TEST_URL:/feedback_test=/postgres)', connect_timeout=3).close()" 2>/dev/null; then \
		TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest --ignore=tests/analysis; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at 127.0.0.1:5432 is not reachable: CI must test on it"; exit 1; \
	else \
		echo "SKIPPED: no PostgreSQL at 127.0.0.1:5432, so only SQLite was tested"; \
	fi

## screenshots: refresh the README's pictures in docs/screenshots (test runs write to build/screenshots)
.PHONY: screenshots
screenshots: install translations browser
	SCREENSHOTS_DIR=build/screenshots $(BIN)/python -m pytest tests/browser
	@# Only the pictures the README shows are kept in the tree.
	@for f in $$(grep -o 'docs/screenshots/[A-Za-z0-9._-]*\.png' README.md | sort -u); do \
		cp build/screenshots/$$(basename $$f) $$f && echo "refreshed $$f"; done

## messages: re-extract user-visible strings and update the Vietnamese catalog
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations

## prod-check: the production configuration (deploy/) on the local PostgreSQL and Redis, driven end to end
# gunicorn with deploy/gunicorn.conf.py + a job worker, production settings, a fresh database
# (dropped and created again: never name one you keep) and this run's own Redis keys.
PROD_CHECK_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/feedback_prod_check
PROD_CHECK_REDIS_URL ?= redis://127.0.0.1:6379/15
.PHONY: prod-check
prod-check: install translations
	PROD_CHECK_DATABASE_URL=$(PROD_CHECK_DATABASE_URL) PROD_CHECK_REDIS_URL=$(PROD_CHECK_REDIS_URL) \
		$(BIN)/python -m deploy.prod_check

clean:
	rm -rf $(VENV) instance .pytest_cache
