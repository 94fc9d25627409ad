# Thin targets that work from a clean clone. `make test` is what CI runs (.ci/run).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv install lint typecheck test test-fast bench bench-quick coverage soak demo clean labextension

# The library matrix beyond the CI subset needs the `coverage` extra: `make coverage` runs it.
PYTEST_SELECTION := -m "not (coverage and slow)"

venv: $(PY)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml hatch_build.py elastic_kernel/_audit_hook.c
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
	$(PY) -m pytest $(PYTEST_SELECTION)

test-fast: install
	$(PY) -m pytest -m "not slow"

coverage: install
	$(PY) -m pip install --quiet -e '.[test,bench,coverage]'
	rm -f tests/coverage/_results.json
	$(PY) -m pytest tests/coverage -m coverage
	$(PY) tools/coverage_matrix.py

soak: install
	bash tools/soak.sh

# Rebuild the JupyterLab extension from labextension/ (needs node >= 18 and the npm registry);
# the build is committed under elastic_kernel/labextension, so installing needs no node.
labextension: install
	rm -rf elastic_kernel/labextension labextension/lib labextension/tsconfig.tsbuildinfo
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm install --immutable
	cd labextension && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" jlpm build
	$(PY) labextension/stamp.py

bench: install
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/planner.py
	$(PY) benchmarks/fingerprint.py
	$(PY) benchmarks/store.py
	$(PY) benchmarks/autosave.py
	$(PY) benchmarks/scaling.py
	$(PY) benchmarks/run.py
	$(PY) benchmarks/restore_latency.py

bench-quick: install
	$(PY) benchmarks/overhead.py --quick
	$(PY) benchmarks/autosave.py --quick
	$(PY) benchmarks/scaling.py --quick
	$(PY) benchmarks/run.py --quick

demo: install
	$(PY) demo/run_demo.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache elastic_kernel/*.so
