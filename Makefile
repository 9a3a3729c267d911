# Two commands on a fresh machine:
#   make up     install everything and run the whole local system
#   make test   lint and run the tests
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: up install test lint demo bench migrate clean

up: install
	$(PY) -m devstack $(UP_ARGS)

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint
	$(PY) -m pytest

demo: install
	$(PY) -m devstack.demo

bench: install
	$(PY) -m bench

migrate: install
	$(PY) -m migrations

clean:
	rm -rf var/ .pytest_cache
