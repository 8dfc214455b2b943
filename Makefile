# kerasport: `make demo` (no TensorFlow needed) and `make test` (installs Keras as ground truth).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint docs docs-check clean fuzz fuzz-replay

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

# every generated page, from the code (layers) or from saved results (zoo, edge, benchmarks):
# nothing is measured here; rerun the generators without --render to measure again
DOC_GENERATORS := scripts/gen_layers_doc.py scripts/gen_zoo_doc.py scripts/gen_edge_doc.py \
	benchmarks/markdown.py benchmarks/onnx_vs_keras.py

docs: $(VENV)/.core
	$(PY) scripts/gen_layers_doc.py
	$(PY) scripts/gen_zoo_doc.py --render
	$(PY) scripts/gen_edge_doc.py --render
	$(PY) benchmarks/markdown.py
	$(PY) benchmarks/onnx_vs_keras.py --render

docs-check: $(VENV)/.core
	@for g in $(DOC_GENERATORS); do $(PY) $$g --check || exit 1; done

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
