# Thin targets that work from a clean clone. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv install lint typecheck test test-fast bench demo clean labextension

venv: $(PY)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,bench]'
	$(PY) -m elastic_kernel install --sys-prefix
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(VENV)/bin/ruff check elastic_kernel tests benchmarks
	$(VENV)/bin/ruff format --check elastic_kernel tests benchmarks

typecheck: install
	$(VENV)/bin/mypy

test: lint typecheck
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

# Rebuild the JupyterLab extension from labextension/ (needs node >= 18 and the npm registry);
# the build is committed under elastic_kernel/labextension, so installing needs no node.
labextension: install
	rm -rf elastic_kernel/labextension labextension/lib labextension/tsconfig.tsbuildinfo
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build
	$(PY) labextension/stamp.py

bench: install
	$(PY) benchmarks/overhead.py

demo: install
	$(PY) demo/run_demo.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
