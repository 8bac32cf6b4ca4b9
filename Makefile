# spikecore: `make demo` runs the main job, `make test` the test suite. Both create .venv and
# install everything on first use (Python >= 3.10, g++, make and perl are all they need).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: demo test test-all bench digits bitstream program board-named clean venv pynn-reference

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/spikecore demo --plot raster.png

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist worksteal -m "not slow" tests

test-all: $(STAMP) pynn-reference
	$(BIN)/python -m pytest -n 2 --dist worksteal tests

# PyNN's reference backend, pyNN.brian2, for tests/test_pynn_reference.py. It lives in a venv
# of its own: Brian2 2.9 needs numpy < 2.3, the project venv has a newer one. make test runs
# the comparison where this venv exists and skips it (saying why) where it does not.
REF_VENV  := .venv-ref
REF_STAMP := $(REF_VENV)/.installed-ref

pynn-reference: $(REF_STAMP)

$(REF_STAMP):
	test -x $(REF_VENV)/bin/python || $(PYTHON) -m venv $(REF_VENV)
	$(REF_VENV)/bin/python -m pip install -q --upgrade pip
	$(REF_VENV)/bin/python -m pip install -q 'pyNN~=0.13' 'brian2~=2.9' 'numpy<2.3' neo
	touch $@

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,bench]' || echo "brian2 could not be installed: its comparison will be skipped"
	touch $@

digits: $(STAMP)
	mkdir -p build && for seed in 0 1 2 3 4; do $(BIN)/spikecore digits --seed $$seed --json build/digits_seed$$seed.json || exit 1; done

bench: $(BENCH_STAMP)
	$(BIN)/python bench/run.py

bitstream: board-named $(STAMP)
	$(BIN)/spikecore build --board $(BOARD)

program: board-named $(STAMP)
	$(BIN)/spikecore program --board $(BOARD)

board-named:
	@test -n "$(BOARD)" || { echo "say which board: make $(MAKECMDGOALS) BOARD=<name> (spikecore build --help lists them)"; exit 2; }

clean:
	rm -rf build .pytest_cache raster.png
