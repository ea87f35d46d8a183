# octperf: `make demo` runs the demo profile, `make test` runs the tests.
# Both install what they need first (Debian packages as root, a virtualenv).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= locust/profiles/demo.yaml

.PHONY: demo test deps venv lint clean

demo: deps venv
	$(BIN)/octperf run $(PROFILE)

test: deps venv lint
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

deps:
	bash scripts/install-debs.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info
