# Two commands on a fresh machine: `make run` and `make test`. Only Python 3.11 and make needed.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
DEMO_RESPONSES ?= 3000
PG_TEST_URL ?= postgresql://postgres@127.0.0.1:5432/feedback_test
export FLASK_APP := wsgi

.PHONY: install translations db run test test-sqlite test-postgres messages clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

translations/vi/LC_MESSAGES/messages.mo: translations/vi/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile -d translations

translations: translations/vi/LC_MESSAGES/messages.mo

## db: migrate the database (SQLite in instance/ unless DATABASE_URL) and load Lào Cai with demo data
db: install translations
	$(BIN)/flask db upgrade
	$(BIN)/flask load-units
	$(BIN)/flask seed-demo --responses $(DEMO_RESPONSES)

## run: serve the demo on http://127.0.0.1:$(PORT)
run: db
	$(BIN)/flask run --host 127.0.0.1 --port $(PORT)

## test: the whole suite on SQLite, then on the local PostgreSQL (required in CI)
test: test-sqlite test-postgres

test-sqlite: install translations
	$(BIN)/python -m pytest

test-postgres: install translations
	@if $(BIN)/python -c "import psycopg, sys; psycopg.connect('$(PG_TEST_URL:/feedback_test=/postgres)', connect_timeout=3).close()" 2>/dev/null; then \
		TEST_DATABASE_URL=$(PG_TEST_URL) $(BIN)/python -m pytest; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at 127.0.0.1:5432 is not reachable: CI must test on it"; exit 1; \
	else \
		echo "SKIPPED: no PostgreSQL at 127.0.0.1:5432, so only SQLite was tested"; \
	fi

## messages: re-extract user-visible strings and update the Vietnamese catalog
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations

clean:
	rm -rf $(VENV) instance .pytest_cache
