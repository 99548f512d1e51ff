# Loadbay: `make run` starts the app on embedded defaults; `make test` runs every test.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: run test lint format bench bench-ab clean

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required (Debian: apt-get install python3.11 python3.11-venv)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $@

.env:
	$(BIN)/python scripts/make_env.py

run: $(STAMP) .env
	@bash scripts/run.sh

test: $(STAMP)
	bash scripts/test.sh

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports --no-cache --no-logo

format: $(STAMP)
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: $(STAMP)
	bash scripts/bench.sh

# Two commits taking turns at workloads 1 and 3: make bench-ab OLD=<commit> [NEW=HEAD] [ROUNDS=3]
bench-ab: $(STAMP)
	BENCH_AB="$(OLD) $(or $(NEW),HEAD) $(or $(ROUNDS),3)" bash scripts/bench.sh

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache .mypy_cache
