# The two set-up commands of the README:
#   make demo   installs yuqing into .venv and runs `yuqing demo` on a simulated world
#   make test   installs yuqing with its test tools (and headless Chromium + CJK fonts) and runs the checks
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-out

.PHONY: demo test install install-dev system-deps lint typecheck pytest lock bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"

# setuptools announces every editable install of a package-dir mapping ("Please be careful with folders ... same
# name"): a notice for packagers, not for someone installing yuqing, so it is filtered by its message.
EDITABLE := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --no-deps -e .

install: $(BIN)/python
	rm -rf yuqing.egg-info  # metadata of an install older than setup.py's build/ (pkg_resources would find it)
	$(BIN)/pip install --quiet -r requirements.lock
	$(EDITABLE)

install-dev: $(BIN)/python
	rm -rf yuqing.egg-info
	$(BIN)/pip install --quiet -r requirements-dev.lock
	$(EDITABLE)

# Headless Chromium, CJK and colour-emoji fonts for the HTML/PDF reports and their tests, and PostgreSQL's server
# for the tests of the PostgreSQL warehouse (tests/pg_cluster.py starts a throw-away cluster of it) (Debian packages).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi "CJK" \
		|| ! fc-list 2>/dev/null | grep -qi "Color Emoji"; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null; \
	fi
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

demo: install
	$(BIN)/yuqing demo --out $(DEMO_OUT)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy names modules after their folders, so it checks the packages through a tree of links that spells the
# installed names (build/typecheck/yuqing/store -> store, ...): imports of yuqing.* then resolve to our sources.
PACKAGES := store collectors spiders nlp graph flows reports
typecheck:
	@mkdir -p build/typecheck/yuqing
	@for p in $(PACKAGES); do ln -sfn ../../../$$p build/typecheck/yuqing/$$p; done
	cd build/typecheck && ../../$(BIN)/mypy --config-file ../../pyproject.toml -p yuqing

pytest:
	$(BIN)/pytest -q

test: install-dev system-deps lint typecheck pytest

bench:
	$(BIN)/python benchmarks/bench_nlp.py
	$(BIN)/python benchmarks/bench_topics.py
	$(BIN)/python benchmarks/bench_graph.py
	$(BIN)/python benchmarks/bench_collect.py
	$(BIN)/python benchmarks/bench_store.py

# Re-pin the lock files from a resolved environment (run after changing pyproject dependencies).
lock: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/pip freeze --exclude-editable | grep -v "^yuqing" > requirements-dev.lock.tmp
	$(BIN)/python scripts/split_lock.py requirements-dev.lock.tmp requirements.lock requirements-dev.lock
	rm requirements-dev.lock.tmp

clean:
	rm -rf $(VENV) $(DEMO_OUT) build yuqing.egg-info .mypy_cache .ruff_cache .pytest_cache
