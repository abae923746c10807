# Replication package Makefile. Two commands are all a newcomer needs:
#   make reproduce   # builds .venv from the lock, then data -> analyses -> notebooks -> paper
#   make test        # builds .venv if missing, then the default (fast) test suite
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Headless backend for the in-process analyses (figures are saved, never shown). The
# notebook kernels do not inherit it: the pipeline starts them with the inline backend
# (analysis.pipeline.KERNEL_MPLBACKEND) so executed notebooks embed their figures.
export MPLBACKEND := Agg
export PYTHONHASHSEED := 0
# Single-threaded BLAS: stable timings and no oversubscription when joblib or a busy
# machine also uses the cores (measured: 5-15x slow-downs of the multiplier bootstrap
# under load with OpenBLAS threading). Override on the command line if wanted.
export OPENBLAS_NUM_THREADS ?= 1
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: all reproduce test test-slow test-all data notebooks paper verify lint format lock bench mc clean distclean venv

all: reproduce

venv: $(STAMP)

# The environment is built from the committed, fully pinned lock; the package itself
# is installed editable without touching the pinned set.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

reproduce: $(STAMP)
	$(VENV)/bin/enclave reproduce

data: $(STAMP)
	$(VENV)/bin/enclave data build

notebooks: $(STAMP)
	$(VENV)/bin/enclave reproduce --stage notebooks

paper: $(STAMP)
	$(VENV)/bin/enclave reproduce --stage paper

verify: $(STAMP)
	$(VENV)/bin/enclave verify

test: $(STAMP)
	$(PY) -m pytest -q

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check analysis tests notebooks benchmarks
	$(VENV)/bin/ruff format --check analysis tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff format analysis tests benchmarks
	$(VENV)/bin/ruff check --fix analysis tests notebooks benchmarks

# Regenerate the pinned lock from pyproject.toml in a throw-away environment.
lock:
	rm -rf .lockenv
	$(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade "pip>=24"
	.lockenv/bin/python -m pip install --quiet ".[dev]" "setuptools>=68" wheel
	.lockenv/bin/python -m pip freeze --all --exclude-editable | grep -v -e "^enclave-analysis" -e "^pip==" | sort -f > requirements.lock
	rm -rf .lockenv

# Peers are installed on demand (pinned; not needed by reproduce or test).
bench: $(STAMP)
	$(PY) -m pip install --quiet -r benchmarks/requirements-bench.txt
	$(PY) benchmarks/run.py
	$(PY) benchmarks/inference.py

# Teaching Monte Carlo (notebook 06; synthetic): 500 replications per DGP and per cluster
# count, seeded, recorded in data/derived/teaching/ (the notebook reads the recorded run).
# Results do not depend on MC_JOBS; pass MC_ADDRESS=tcp://host:8786 to run on a Dask cluster,
# MC_ONLY=mc or MC_ONLY=fewclusters to re-run one of the two studies.
MC_JOBS ?= 2
MC_REPS ?= 500
mc: $(STAMP)
	$(PY) -m analysis.studies.teaching --reps $(MC_REPS) --jobs $(MC_JOBS) $(if $(MC_ADDRESS),--address $(MC_ADDRESS)) $(if $(MC_ONLY),--only $(MC_ONLY))

clean:
	rm -rf build .pytest_cache .ruff_cache .hypothesis data/processed
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
