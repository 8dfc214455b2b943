# kerasport: `make demo` (no TensorFlow needed) and `make test` (installs Keras as ground truth).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test test-fast lint docs docs-check clean fuzz fuzz-replay

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

# TF.js reader tests write models with tensorflowjs' converter; its pinned dependencies (jax,
# TF-DF, TF-Hub) are not needed for Keras models, so it is installed without them
$(VENV)/.test: $(VENV)/.core pyproject.toml
	$(PY) -m pip install --quiet -e ".[test]"
	# tf2onnx pins an old protobuf that would downgrade TensorFlow's: installed without its pins
	$(PY) -m pip install --quiet --no-deps tf2onnx
	$(PY) -m pip install --quiet --no-deps "tensorflowjs>=4"
	touch $@

demo: $(VENV)/.core
	$(PY) examples/demo.py

lint: $(VENV)/.test
	$(PY) -m ruff check src tests examples scripts benchmarks
	$(VENV)/bin/lint-imports
	$(PY) scripts/check_sizes.py

# the fast tier: IR-level tests (tests/unit: kernels, shape rules, generated code and ONNX
# Runtime per op) and lint, in a venv with the core and the onnx extra only (no TensorFlow)
FAST_VENV ?= .venv-fast
$(FAST_VENV)/.fast: pyproject.toml
	$(PYTHON) -m venv $(FAST_VENV)
	$(FAST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FAST_VENV)/bin/python -m pip install --quiet -e ".[fast]"
	touch $@

test-fast: $(FAST_VENV)/.fast
	$(FAST_VENV)/bin/python -m ruff check src tests examples scripts benchmarks
	$(FAST_VENV)/bin/lint-imports
	$(FAST_VENV)/bin/python scripts/check_sizes.py
	$(FAST_VENV)/bin/python -m pytest -q tests/unit -p no:cacheprovider

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
	benchmarks/markdown.py benchmarks/onnx_vs_keras.py scripts/onnx_backend.py \
	benchmarks/onnx_reader.py benchmarks/scale.py benchmarks/tflite_writer.py \
	benchmarks/tflite_int8.py \
	scripts/gen_pytorch_doc.py \
	benchmarks/tflite_lstm.py

docs: $(VENV)/.core
	$(PY) scripts/gen_layers_doc.py
	$(PY) scripts/gen_zoo_doc.py --render
	$(PY) scripts/gen_edge_doc.py --render
	$(PY) benchmarks/markdown.py
	$(PY) benchmarks/onnx_vs_keras.py --render
	$(PY) scripts/onnx_backend.py --render
	$(PY) benchmarks/onnx_reader.py --render
	$(PY) scripts/gen_report_screenshot.py
	$(PY) benchmarks/scale.py --render
	$(PY) benchmarks/tflite_writer.py
	$(PY) benchmarks/tflite_int8.py --render
	$(PY) scripts/gen_pytorch_doc.py
	$(PY) benchmarks/tflite_lstm.py

docs-check: $(VENV)/.core
	@for g in $(DOC_GENERATORS); do $(PY) $$g --check || exit 1; done

clean:
	rm -rf $(VENV) $(FAST_VENV) out .pytest_cache .ruff_cache
