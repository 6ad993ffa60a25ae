# One virtual environment per clone; every target creates it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= $(if $(wildcard ../shared/data/crowd-mini),../shared/data/crowd-mini,)

.PHONY: venv demo lab test bench clean

# GPU=1 swaps in onnxruntime-gpu: both builds install the same `onnxruntime` module, so only one may stay.
GPU ?=

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[notebooks,test,train]'
	$(if $(GPU),$(BIN)/pip uninstall --quiet -y onnxruntime && $(BIN)/pip install --quiet 'onnxruntime-gpu>=1.17',)
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) build *.egg-info
