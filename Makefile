# kerasport: `make demo` (no TensorFlow needed) and `make test` (installs Keras as ground truth).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint docs clean fuzz fuzz-replay

# `make fuzz`: the fuzzer (tests/fuzz) for FUZZ_SECONDS; failing cases go to FUZZ_FAILURES,
# `make fuzz-replay [CASE=fuzz-failures/<case>]` reruns them.
FUZZ_SECONDS ?= 1800
FUZZ_SEED ?= 0
FUZZ_FAILURES ?= fuzz-failures
CASE ?= $(FUZZ_FAILURES)

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

fuzz: $(VENV)/.test
	PYTHONPATH=tests $(PY) -m fuzz run --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) \
		--failures $(FUZZ_FAILURES)

fuzz-replay: $(VENV)/.test
	PYTHONPATH=tests $(PY) -m fuzz replay $(CASE)

docs: $(VENV)/.core
	$(PY) scripts/gen_layers_doc.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
