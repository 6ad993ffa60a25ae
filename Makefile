# One virtual environment per clone; every target creates it on first use and installs the extras it needs
# (pyproject.toml): the demo the base install alone; `make lab` the notebooks extra; `make test`, `check`, `dist`
# and `venv` everything the tests use (notebooks, test, train: torch, ray).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_EXTRAS :=
LAB_EXTRAS := notebooks,video
ALL_EXTRAS := notebooks,test,train,ray,video
DEMO_STAMP := $(VENV)/.installed-DEMO
LAB_STAMP := $(VENV)/.installed-LAB
STAMP := $(VENV)/.installed-ALL
# `make demo DATA=/my/dataset [SPLIT=test]`; by default the team's crowd-mini test split, else synthetic images.
CROWD_MINI := ../shared/data/crowd-mini
DATA ?= $(if $(wildcard $(CROWD_MINI)),$(CROWD_MINI),synthetic)
SPLIT ?= $(if $(filter $(CROWD_MINI),$(DATA)),test,)

.PHONY: venv demo lab test check dist clean

# GPU=1 swaps in onnxruntime-gpu: both builds install the same `onnxruntime` module, so only one may stay.
GPU ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# One stamp per set of extras, redone when the dependencies or the package layout change; a larger set after
# a smaller one installs only what is missing.
$(VENV)/.installed-%: pyproject.toml setup.py | $(BIN)/python
	$(BIN)/pip install --quiet -e '.$(if $($*_EXTRAS),[$($*_EXTRAS)],)'
	$(if $(GPU),$(BIN)/pip uninstall --quiet -y onnxruntime && $(BIN)/pip install --quiet 'onnxruntime-gpu>=1.17',)
	touch $@

venv: $(STAMP)

# The main job: the default estimator against the example plugin, as an HTML report (`workbench demo`, which
# runs from a plain pip install too).
demo: $(DEMO_STAMP)
	$(BIN)/workbench demo $(DATA) $(if $(SPLIT),--split $(SPLIT),) --out reports/demo

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
lab: $(LAB_STAMP)
	$(BIN)/jupyter lab --ServerApp.root_dir=. $(if $(filter 0,$(shell id -u)),--allow-root,)

# The sdist and the wheel built from it (models included as package data), into dist/.
dist: $(STAMP)
	$(BIN)/python -m build --outdir dist

clean:
	rm -rf $(VENV) build dist *.egg-info
