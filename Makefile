# One virtual environment per clone; every target creates it on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make demo DATA=/my/dataset [SPLIT=test]`; by default the team's crowd-mini test split, else synthetic images.
CROWD_MINI := ../shared/data/crowd-mini
DATA ?= $(if $(wildcard $(CROWD_MINI)),$(CROWD_MINI),synthetic)
SPLIT ?= $(if $(filter $(CROWD_MINI),$(DATA)),test,)

.PHONY: venv demo lab test check dist clean

# GPU=1 swaps in onnxruntime-gpu: both builds install the same `onnxruntime` module, so only one may stay.
GPU ?=

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[notebooks,test,train,ray]'
	$(if $(GPU),$(BIN)/pip uninstall --quiet -y onnxruntime && $(BIN)/pip install --quiet 'onnxruntime-gpu>=1.17',)
	touch $(STAMP)

venv: $(STAMP)

# The main job: the default estimator against the example plugin, as an HTML report.
demo: $(STAMP)
	$(BIN)/workbench compare $(DATA) $(if $(SPLIT),--split $(SPLIT),) --estimators default,PeopleCountOnnxPlugin \
		--plugins-dir plugins --active people_count_onnx.plugin --out reports/demo

# The browser UI tests (tests/ui) need Debian's Chromium at /usr/bin/chromium; without it they are skipped, and said so.
# mypy first (pyproject's [tool.mypy]; its cache in .mypy_cache keeps a rerun to seconds): a type error stops here.
test: $(STAMP)
	@test -x /usr/bin/chromium || echo "NOTE: no /usr/bin/chromium: the browser UI tests in tests/ui will be SKIPPED (apt-get install chromium; .ci/run does it)"
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The fast subset, for while you work: no test marked slow (browser UI, wheel builds, Ray, training, subprocess
# runs) or timing (asserts how long something took). `make test` runs everything.
check: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow and not timing"

# JupyterLab at the project root, where the README's quickstart runs as pasted into a new notebook (and the
# notebooks are in notebooks/). Jupyter refuses to run as root, the usual user in a container, without the flag.
lab: $(STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root,)

# The sdist and the wheel built from it (models included as package data), into dist/.
dist: $(STAMP)
	$(BIN)/python -m build --outdir dist

clean:
	rm -rf $(VENV) build dist *.egg-info
