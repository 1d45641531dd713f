# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow mutation lint bench docs clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/tconv demo --out demo-out --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=15 -m "not slow"

# the tests marked slow (end-to-end benchmark runs): before a release and in scheduled CI
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=15 -m slow

# mutation testing of the core (a seeded sample of single-line mutants, each against its
# module's mirror tests; minutes, not part of `make test`)
mutation: $(STAMP)
	$(BIN)/python tools/mutation.py --sample 60 --seed 26

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

# the documentation site, offline and strict, into site/ (tutorial code runs while it builds)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

bench: $(STAMP)
	$(BIN)/tconv bench

clean:
	rm -rf $(VENV) demo-out site
