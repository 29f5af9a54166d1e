# `make demo` and `make test` work on a fresh machine with Python >= 3.11 and make.
PYTHON ?= $(shell for p in python3 python3.11 python3.12 python3.13; do \
            $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -n 2

.PHONY: demo test test-slow test-wheel bench install clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "mndtrial needs Python >= 3.11 on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@

install: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/mndtrial demo

test: $(VENV)/.installed
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(VENV)/.installed
	$(PY) -m pytest -m slow $(PYTEST_ARGS)

# The wheel on its own: python -m build, a clean venv, mndtrial demo and reference tests (CI runs it).
test-wheel: $(VENV)/.installed
	$(PY) -m pytest -m slow -p no:cacheprovider tests/test_wheel.py

bench: $(VENV)/.installed
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) demo-out .pytest_cache build dist
