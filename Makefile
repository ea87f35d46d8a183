# octperf: `make demo` runs the demo profile, `make test` runs the tests.
# Both install what they need first (Debian packages as root, a virtualenv).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= locust/profiles/demo.yaml

.PHONY: demo test deps test-deps agent venv lint clean

demo: deps venv
	$(BIN)/octperf run $(PROFILE)

test: test-deps agent venv lint
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

deps:
	bash scripts/install-debs.sh

test-deps:
	bash scripts/install-debs.sh --tests

# The Octavia amphora agent, in a virtualenv of its own (.venv-agent). The
# amphora bed needs root; as another user its tests are skipped.
agent:
	@if [ "$$(id -u)" -eq 0 ]; then bash scripts/install-agent.sh; \
	else echo "not root: the amphora bed and its tests are skipped"; fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) .venv-agent build *.egg-info
