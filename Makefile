# veille: `make run` runs the service on config.yaml, `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# one stamp per install, each redone only when pyproject.toml changed
SERVICE := $(VENV)/.installed-service
TESTS := $(VENV)/.installed-test

.PHONY: run crawl test lint unit browser postgres redis bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# the service alone: no test tools (pytest, playwright, mypy...) in a venv made by `make run`
$(SERVICE): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# the service and the test extras; it holds all the service needs, so the service's stamp is fresh too
$(TESTS): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(SERVICE)

run: $(SERVICE)
	$(BIN)/veille run --config config.yaml

crawl: $(SERVICE)
	$(BIN)/veille crawl --config config.yaml

lint: $(TESTS)
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: $(TESTS)
	$(BIN)/python -m pytest -q

# Debian's chromium for the web UI test (Playwright never downloads its own); tolerant without apt,
# in which case that test skips and says why.
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) || \
		echo "no chromium: the browser test will be skipped"

# Debian's PostgreSQL server for tests/test_postgres.py (each session starts its own in a temporary folder,
# tests/pg_server.py); tolerant without apt, in which case those tests skip and say why.
postgres:
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq postgresql) || \
		echo "no PostgreSQL server: the PostgreSQL tests will be skipped"

# Debian's Redis server for the shared-crawl tests (each session starts its own on a Unix socket in a temporary
# folder, tests/redis_server.py); tolerant without apt, in which case those tests skip and say why.
redis:
	command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server) || \
		echo "no Redis server: the shared-crawl tests will be skipped"

test: lint browser postgres redis unit

bench: $(TESTS)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
