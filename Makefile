# Two commands do everything on a fresh machine: `make verify` and `make test`.
# Both create .venv and install the pinned dependencies (requirements.lock) first; the lock
# includes the optional implementations under test (pyproject's `torch` and `jax` extras:
# jax/jaxlib/optax, and torch==2.13.0, the CPU wheel, on Linux x86_64), so `make test` tests both ports.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REPORTS ?= reports
JOBS ?= auto
ARGS ?=

.PHONY: setup verify test bench browser mutate clean goldens drift check-goldens

# The harness byte-compiled (only what changed): where PYTHONDONTWRITEBYTECODE is set, every
# process, each xdist worker included, would otherwise compile it from source at start-up.
setup: $(STAMP)
	@$(PY) -m compileall -q harness bench > /dev/null

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# --no-deps: the lock is the complete set. tf-keras declares `tensorflow`, which
	# tensorflow-cpu (the same TF, same version) provides; resolving it would fetch a second TF.
	$(PY) -m pip install --quiet --no-deps -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

verify: setup
	$(PY) -m harness verify cases/ --report-dir $(REPORTS) -n $(JOBS) $(ARGS)

test: setup browser
	$(PY) -m pytest tests -n $(JOBS) $(ARGS)

# Mutation testing of harness/reference: one-token mutants, each run against the cases that
# execute its line, TF's results read from goldens/; $(REPORTS)/mutate.html and mutate.json. Fails below 95%.
MUTATE_JOBS ?= 2
mutate: setup
	$(PY) -m harness mutate --goldens goldens --report-dir $(REPORTS) -n $(MUTATE_JOBS) --fail-under 95 $(ARGS)

# Headless Chromium for the report's browser tests; skipped (the tests say why) when it cannot be installed.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-dejavu-core >/dev/null) \
	  || echo "browser: could not install chromium; browser tests will be skipped"; \
	else echo "browser: chromium not installed and no root/apt-get; browser tests will be skipped"; fi

# Performance: pytest-benchmark over every op (reference vs TF eager, three sizes), saved as
# numbered runs under $(BENCH_DIR); then $(REPORTS)/timing.html and $(BENCH_DIR)/figures.json.
# `make bench BASELINE=0003` (a saved run number or a JSON path) fails on a median regression
# beyond BENCH_FAIL; FIGURES=0 skips the figures (reference/TF ratios, the report at 100,000 cases, suite throughput, overhead, modes, memory).
BENCH_DIR ?= $(REPORTS)/bench
BASELINE ?=
BENCH_FAIL ?= median:25%
BENCH_OPTS ?= --benchmark-min-rounds=3 --benchmark-max-time=0.1 --benchmark-columns=median,iqr,rounds --benchmark-sort=name
FIGURES ?= 1

bench: setup browser
	@status=0; \
	$(PY) -m pytest bench -p no:xdist -p no:cacheprovider -q --benchmark-storage=$(BENCH_DIR) --benchmark-autosave \
	  $(BENCH_OPTS) $(if $(BASELINE),--benchmark-compare=$(BASELINE) --benchmark-compare-fail=$(BENCH_FAIL)) $(ARGS) \
	  || { status=$$?; echo "bench: pytest-benchmark exited $$status$(if $(BASELINE), (regression beyond $(BENCH_FAIL) against $(BASELINE)?))"; }; \
	$(PY) -m harness.report.bench_page $(BENCH_DIR) -o $(REPORTS)/timing.html || status=1; \
	if [ "$(FIGURES)" = 1 ]; then $(PY) -m bench.figures --bench-run $(BENCH_DIR) --out $(BENCH_DIR)/figures.json || status=1; fi; \
	exit $$status

# Goldens (README "Goldens"): TF's results recorded once, verified without TF.
# `make goldens` re-records goldens/ with the pinned TF; `make goldens TF=2.15.1` records
# goldens/tf-2.15.1/ with that release in its own virtual environment .venv-tf-2.15.1 (a
# TF 2.15 needs numpy<2, which pip picks), with the tf-keras (Keras 2) of that release for the
# Keras 2 cases (without its dependencies: it names `tensorflow`, and the environment has the CPU
# build); `make drift` compares each goldens/tf-*/ with goldens/.
PINNED_TF := $(shell sed -n 's/^tensorflow_cpu==\([^ ;]*\).*/\1/p' requirements.lock)
TF ?= $(PINNED_TF)
GOLDENS ?= goldens
TF_VENV := .venv-tf-$(TF)

goldens: $(if $(filter $(TF),$(PINNED_TF)),setup)
ifeq ($(TF),$(PINNED_TF))
	$(PY) -m harness record cases/ --goldens $(GOLDENS) -q
else
	test -x $(TF_VENV)/bin/python || $(PYTHON) -m venv $(TF_VENV)
	$(TF_VENV)/bin/python -m pip install --quiet "tensorflow-cpu==$(TF)" -e .
	$(TF_VENV)/bin/python -m pip install --quiet --no-deps "tf-keras==$(basename $(TF)).*"
	$(TF_VENV)/bin/python -m harness record cases/ --goldens $(GOLDENS)/tf-$(TF) -q
endif

drift: setup
	@status=0; for d in $(GOLDENS)/tf-*/; do v=$$(basename $$d); v=$${v#tf-}; \
	  $(PY) -m harness drift $$d $(GOLDENS) --report-dir $(GOLDENS)/drift/$$v-$(PINNED_TF) > /dev/null; \
	  test $$? -le 1 || status=1; echo "drift: $(GOLDENS)/drift/$$v-$(PINNED_TF)/drift.html"; done; exit $$status

# Fails, listing the stale cases, when goldens/ no longer matches what the pinned TF returns for cases/.
check-goldens: setup
	$(PY) -m harness.goldens.check cases/ --goldens $(GOLDENS)

clean:
	rm -rf $(VENV) .pytest_cache $(REPORTS)/*.json $(REPORTS)/*.html $(REPORTS)/*.xml
