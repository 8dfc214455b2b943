# kerasport: `make demo` (no TensorFlow needed) and `make test` (installs Keras as ground truth).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint docs clean

$(VENV)/.core: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.test: $(VENV)/.core pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.core
	$(PY) examples/demo.py

lint: $(VENV)/.test
	$(PY) -m ruff check src tests examples scripts benchmarks

test: $(VENV)/.test lint
	$(PY) -m pytest -q

docs: $(VENV)/.core
	$(PY) scripts/gen_layers_doc.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
