# archc: `make run` builds the environment and runs the main job; `make test` runs the suite.
# The environment's location comes from VENV (CI points it at a cache keyed by the pins).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check -q
PIN := -c constraints.txt
SPEC ?= specs/resnet50.yaml
PYTEST_ARGS ?=
JOBS ?= 2

.PHONY: run test test-slow bench fuzz schema clean help

help:
	@echo "make run        build the environment and build + verify the default spec ($(SPEC)) into out/"
	@echo "make test       install dev + reference extras and run the default suite"
	@echo "make test-slow  run the full-size (slow-marked) tests"
	@echo "make bench      run the benchmarks and record them in benchmarks/RESULTS.md"
	@echo "make fuzz       run the 20,000-case hostile-input campaign (check + lint; FUZZ_CASES=N for another size)"
	@echo "make schema     regenerate schemas/archc.schema.json"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# dependencies are installed once per environment (stamped); archc itself is (re)installed
# editable on every run, so a cached environment always points at this checkout
$(VENV)/.deps-run: constraints.txt pyproject.toml | $(BIN)/python
	$(PIP) install $(PIN) "torch==2.14.1" "numpy" "pydantic>=2.6,<3" "PyYAML>=6,<7" "typer>=0.12,<1" "rich>=13,<16" "ruamel.yaml>=0.18,<1" \
		"onnx" "onnxscript" "onnxruntime" "safetensors"
	touch $@

$(VENV)/.deps-test: $(VENV)/.deps-run
	$(PIP) install $(PIN) "torchvision" "timm" "transformers" "diffusers" "onnx" "onnxscript" "onnxruntime" "safetensors" \
		"pytest" "hypothesis" "jsonschema" "pytest-timeout" "pytest-xdist" "matplotlib" "yamllint" "pre-commit"
	touch $@

# archc's own bytecode is compiled once here: with PYTHONDONTWRITEBYTECODE set, every start-up
# would otherwise recompile it (about 0.2 s, which matters to `archc lint`)
install-run: $(VENV)/.deps-run
	$(PIP) install --no-deps --no-build-isolation -e . 2>/dev/null || $(PIP) install --no-deps -e .
	$(BIN)/python -m compileall -q archc

install-test: $(VENV)/.deps-test
	$(PIP) install --no-deps --no-build-isolation -e . 2>/dev/null || $(PIP) install --no-deps -e .
	$(BIN)/python -m compileall -q archc
	@command -v dot >/dev/null || (apt-get update -qq && apt-get install -y -qq graphviz) || echo "graphviz not installed: SVG/PNG tests will skip"

run: install-run
	$(BIN)/archc build $(SPEC) -o out/ --force

test: install-test
	$(BIN)/python -m pytest -q -n $(JOBS) $(PYTEST_ARGS)

test-slow: install-test
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python benchmarks/compile_time.py
	$(BIN)/python benchmarks/latency.py

# seeded mutations of the zoo through `archc check` and `archc lint`: counts per outcome and per
# mutation kind, every distinct cause; exit 1 on any exit 4, traceback, hang or unlocated diagnostic
FUZZ_CASES ?= 20000
fuzz: install-test
	$(BIN)/python benchmarks/fuzz.py --cases $(FUZZ_CASES) --jobs $(JOBS) --json out/fuzz.json

schema: install-run
	$(BIN)/archc schema > schemas/archc.schema.json

clean:
	rm -rf $(VENV) out .pytest_cache
