# Everything installs into local virtualenvs: .venv for mltrail, .venv-mlflow for the
# reference mlflow client used by the compatibility tests and the benchmarks; Azurite (the Azure
# Storage emulator, an npm package) into .tools/azurite for the cloud artifact tests.
PYTHON ?= python3
VENV ?= .venv
MLFLOW_VENV ?= .venv-mlflow
MLFLOW_VERSION ?= 3.17.2
AZURITE_DIR ?= .tools/azurite
TORCH_VERSION ?= 2.13.0
PY := $(VENV)/bin/python
PIP_FLAGS ?= -q --disable-pip-version-check
PYTEST_ARGS ?=
# Both cores; tests/conftest.py keeps together what must not run at once (xdist groups).
# A third worker gained 3% (the suite is bound by the CPU of the processes it starts) and
# made every test slower.
PYTEST_WORKERS ?= 2
DEMO_PORT ?= 5000
DEMO_BROWSER ?=

.PHONY: install install-demo install-mlflow install-bench install-browser install-test-tools install-nginx install-azurite demo test check lint format bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	# PyTorch first and on its own, pinned to the CPU build on this machine's disk, so that
	# the lightning and transformers extras below find it installed and download no other.
	$(PY) -m pip install $(PIP_FLAGS) 'torch==$(TORCH_VERSION)'
	$(PY) -m pip install $(PIP_FLAGS) -e '.[dev,sklearn,postgres,mysql,images,serving,parquet,gpu,lightning,transformers]'
	touch $@

# What `make demo` needs and nothing else: mltrail with scikit-learn (no test tools, emulators
# or browsers). `make install` adds the rest to the same virtualenv.
install-demo: $(VENV)/.installed-demo

$(VENV)/.installed-demo: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_FLAGS) --upgrade pip
	$(PY) -m pip install $(PIP_FLAGS) -e '.[sklearn]'
	touch $@

install-mlflow: $(MLFLOW_VENV)/.installed

$(MLFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(MLFLOW_VENV)/bin/python -m pip install $(PIP_FLAGS) 'mlflow[auth]==$(MLFLOW_VERSION)' scikit-learn skops psutil 'psycopg[binary]' pymysql
	touch $@

# MLflow's own migration tool, the anchor of bench/import_bench.py, in a venv of its own.
EXPORT_IMPORT_VENV ?= .venv-export-import
install-bench: $(EXPORT_IMPORT_VENV)/.installed

$(EXPORT_IMPORT_VENV)/.installed:
	$(PYTHON) -m venv $(EXPORT_IMPORT_VENV)
	$(EXPORT_IMPORT_VENV)/bin/python -m pip install $(PIP_FLAGS) databricks-mlflow-export-import 'mlflow==$(MLFLOW_VERSION)'
	touch $@

# Debian's Chromium for the UI tests (Playwright drives it; it downloads no browser of its own).
install-browser:
	bash scripts/install-browser.sh

# Debian's apache2-utils (htpasswd) for the htpasswd import tests.
install-test-tools:
	bash scripts/install-test-tools.sh

# Debian's nginx for the fleet tests (the load balancer in front of the replicas).
install-nginx:
	bash scripts/install-nginx.sh

# The version and every dependency are pinned by scripts/azurite/package-lock.json.
install-azurite: $(AZURITE_DIR)/.installed

$(AZURITE_DIR)/.installed: scripts/azurite/package.json scripts/azurite/package-lock.json
	mkdir -p $(AZURITE_DIR)
	cp scripts/azurite/package.json scripts/azurite/package-lock.json $(AZURITE_DIR)/
	npm ci --prefix $(AZURITE_DIR) --no-audit --no-fund --loglevel=error
	touch $@

demo: install-demo
	$(PY) examples/quickstart.py
	$(VENV)/bin/mltrail runs list --experiment quickstart
	@echo "Dashboard: http://127.0.0.1:$(DEMO_PORT)/  (Ctrl-C to stop; DEMO_BROWSER=--no-browser keeps the browser closed)"
	$(VENV)/bin/mltrail ui --port $(DEMO_PORT) $(DEMO_BROWSER)

test: install install-mlflow install-bench install-browser install-test-tools install-azurite install-nginx
	@# The hundreds of servers and CLIs the tests start import compiled modules, also where
	@# PYTHONDONTWRITEBYTECODE keeps Python from writing them itself.
	$(PY) -m compileall -q src
	MLTRAIL_TEST_MLFLOW_PYTHON=$(abspath $(MLFLOW_VENV))/bin/python \
	MLTRAIL_TEST_AZURITE=$(abspath $(AZURITE_DIR))/node_modules/.bin/azurite-blob \
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

check: install
	$(VENV)/bin/ruff check src tests bench examples
	$(VENV)/bin/ruff format --check src tests bench examples
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install
	$(VENV)/bin/ruff check --fix src tests bench examples
	$(VENV)/bin/ruff format src tests bench examples

clean:
	rm -rf $(VENV) $(MLFLOW_VENV) $(EXPORT_IMPORT_VENV) $(AZURITE_DIR) .mypy_cache .ruff_cache .pytest_cache
