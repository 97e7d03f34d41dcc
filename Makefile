# The DeepRacer workspace: two commands do everything on a fresh Debian machine.
#   make demo   set up, then train a policy on the embedded simulator and evaluate it
#   make test   set up, colcon build, colcon test, colcon test-result (non-zero on any failure)
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
ACTIVATE := source $(VENV)/bin/activate
# Keep ROS traffic and logs of this workspace local to this machine and this folder.
export ROS_LOG_DIR ?= $(CURDIR)/log/ros
export ROS_AUTOMATIC_DISCOVERY_RANGE ?= LOCALHOST
export MPLBACKEND ?= Agg

BUILD_INPUTS := $(shell find src -path '*/test' -prune -o -path '*/__pycache__' -prune -o -type f ! -name '*.py' -print 2>/dev/null) \
                $(wildcard src/*/setup.py) colcon.meta

.PHONY: help setup build lint test test-fast demo bench clean distclean

help:
	@echo "make demo   - set up, then train on the embedded simulator and evaluate (the main job)"
	@echo "make test   - set up, colcon build, lint, colcon test, colcon test-result (the full tier CI runs)"
	@echo "make test-fast - the same without the tests marked slow (> 20 s each): minutes, not the hour"
	@echo "make lint   - ruff (pyflakes, bugbear, pyupgrade, mccabe) and mypy on the core modules"
	@echo "make setup  - create $(VENV), install pinned packages, colcon build"
	@echo "make bench  - run the benchmarks in bench/ (results go to BENCHMARKS.md by hand)"

# 1. The virtualenv: torch first (local CPU wheel, no CUDA download), then everything pinned.
$(VENV)/.installed: requirements/requirements.txt requirements/constraints.txt scripts/install_system_deps.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check "torch==2.13.0"
	$(PIP) install --quiet --disable-pip-version-check -c requirements/constraints.txt -r requirements/requirements.txt
	PYTHON=$(PYTHON) bash scripts/install_system_deps.sh
	touch $@

# 2. colcon build (symlink install: code edits need no rebuild; package.xml/setup.py/data changes do).
install/.built: $(VENV)/.installed $(BUILD_INPUTS)
	$(ACTIVATE) && colcon build --symlink-install --base-paths src --event-handlers console_cohesion- summary+
	bash scripts/write_cli_wrapper.sh $(VENV) $(CURDIR)
	touch $@

setup: install/.built

build:
	rm -f install/.built
	$(MAKE) setup

# 3. Lint: ruff (ruff.toml) over the sources, mypy (mypy.ini) on the typed core modules.
MYPY_MODULES := $(addprefix src/deepracer_common/deepracer_common/,options.py fileio.py cli.py launch_runner.py interrupts.py) \
                $(addprefix src/deepracer_sim/deepracer_sim/,episode.py config.py) \
                $(addprefix src/deepracer_agent/deepracer_agent/,config.py run_folder.py callbacks.py) \
                $(addprefix src/deepracer_control/deepracer_control/,calibration.py safety.py)
lint: $(VENV)/.installed
	$(ACTIVATE) && ruff check --no-cache src bench scripts
	$(ACTIVATE) && mypy --config-file mypy.ini $(MYPY_MODULES)

# 4. Tests through colcon; colcon test exits 0 on failures, so test-result decides.
#    test-fast: the quick tier (tests marked @pytest.mark.slow, > 20 s each, are deselected).
PYTEST_ARGS := -p no:cacheprovider -q -rfEs --timeout=600
test: setup lint
	rm -rf build/*/pytest.xml build/*/test_results
	$(ACTIVATE) && colcon test --base-paths src --event-handlers console_direct+ \
	    --pytest-args $(PYTEST_ARGS)
	$(ACTIVATE) && colcon test-result --verbose --test-result-base build
	@$(PY) scripts/test_summary.py build

test-fast: setup lint
	rm -rf build/*/pytest.xml build/*/test_results
	$(ACTIVATE) && colcon test --base-paths src --event-handlers console_direct+ \
	    --pytest-args $(PYTEST_ARGS) -m "not slow"
	$(ACTIVATE) && colcon test-result --verbose --test-result-base build
	@$(PY) scripts/test_summary.py build

# 5. The main job: train on the default track until robust evaluation passes (or a time cap), evaluate.
demo: setup
	$(ACTIVATE) && source install/setup.bash && deepracer demo

bench: setup
	$(ACTIVATE) && source install/setup.bash && for b in bench/bench_*.py; do python $$b; done

clean:
	rm -rf build install log

distclean: clean
	rm -rf $(VENV)
