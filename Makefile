# consentflow — the two commands: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
ifeq ($(UV),)
UV := $(PYTHON) -m uv
endif
FLASK := $(UV) run --frozen flask --app consentflow
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

help:
	@echo "make run    install, migrate, load the demo school, start web app + worker"
	@echo "make test   install everything and run the whole test suite"
	@echo "make lint   ruff and mypy (make test runs them first)"
	@echo "make bench  print the performance figures quoted in the README"
	@echo "make mutate mutation testing of the privacy rules (slow, not CI; GROUPS=\"decisions audit\" for some)"
	@echo "make scale  scale run: PostgreSQL, Redis, gunicorn, 1,000 photos, 20 users (PHOTOS=60 for a short one)"

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv

# dlib is compiled from source against OpenBLAS (pyproject.toml, README
# "Dependencies"): the library, its headers and a C++ compiler must be there
# before uv builds it, or dlib comes out without BLAS (several times slower).
# Debian/Ubuntu packages, installed only when missing.
BUILD_PACKAGES := libopenblas-dev g++ python3-dev
build-deps:
	@missing="$$(for p in $(BUILD_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if command -v apt-get >/dev/null 2>&1 && [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi; \
		echo "Installing $$missing (to build dlib)"; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# The first install compiles dlib (a few minutes; uv caches the wheel). A dlib
# built without BLAS (OpenBLAS missing when it was built) is refused here.
# Bytecode is compiled once here: where PYTHONDONTWRITEBYTECODE is set (this
# CI machine sets it), every process otherwise compiled ~3 s of sources at
# start, a worker included (bench/pipeline.py: 8.2 -> 4.9 s to the first photo).
install: uv build-deps
	$(UV) sync --frozen --compile-bytecode
	@$(UV) run --frozen python -m compileall -q consentflow
	@$(UV) run --frozen python -c "import dlib, sys; dlib.DLIB_USE_BLAS or sys.exit( \
		'dlib was built without BLAS: install libopenblas-dev, then uv cache clean dlib and make install')"
	$(UV) run --frozen pybabel compile -d consentflow/translations >/dev/null
	@# The OpenID Connect provider the sign-in tests run on loopback (pinned in its package-lock.json).
	@if command -v npm >/dev/null 2>&1; then npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >/dev/null; \
		else echo "npm not found: the school sign-in tests need Node.js and npm (apt-get install nodejs npm)"; fi

# Debian's chromium for the browser tests (Playwright drives it; no browser
# download), and OpenBLAS for dlib.
system-deps: build-deps
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null; \
	fi
	@if ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; \
		npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >/dev/null; \
	fi

instance/config.py:
	@mkdir -p instance
	@$(PYTHON) -c "import secrets; print('# Written by make run for a local demo.\nSECRET_KEY = %r\n# Plain HTTP on 127.0.0.1: production behind HTTPS keeps this True.\nSESSION_COOKIE_SECURE = False' % secrets.token_hex(32))" > $@
	@echo "Wrote $@ with a fresh secret key."

run: install instance/config.py
	@# Links in the demo's mail point at this machine (refused in a real install).
	@grep -q '^PUBLIC_BASE_URL' instance/config.py || printf "PUBLIC_BASE_URL = 'http://$(HOST):$(PORT)'\nALLOW_LOOPBACK_LINKS = True\n" >> instance/config.py
	$(FLASK) init
	$(FLASK) demo load
	@$(MAKE) --no-print-directory serve

# The web app and the worker under one process runner (Procfile): Ctrl-C or a
# service manager's SIGTERM to make stops both, with all their processes.
serve:
	@echo "Starting the web app on http://$(HOST):$(PORT) and a worker ($(WORKERS) processes)"
	HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) exec .venv/bin/honcho -f Procfile start

# Each run names its database: SQLite (the embedded default every new user
# starts on) always, then PostgreSQL when TEST_DATABASE_URL points at one.
test: install system-deps lint
	@echo "== test run 1: SQLite (embedded default)"
	@pg_log=$$(mktemp); pg_pid=""; \
	if [ -n "$$TEST_DATABASE_URL" ] && [ "$$TEST_DATABASE_URL" != sqlite ]; then \
		echo "== test run 2: PostgreSQL ($$TEST_DATABASE_URL), on the second core; its report follows run 1's"; \
		$(UV) run --frozen pytest -q -p no:cacheprovider >"$$pg_log" 2>&1 & pg_pid=$$!; \
	fi; \
	TEST_DATABASE_URL=sqlite $(UV) run --frozen pytest -q -p no:cacheprovider; sqlite_rc=$$?; \
	pg_rc=0; \
	if [ -n "$$pg_pid" ]; then \
		wait $$pg_pid; pg_rc=$$?; \
		echo "== test run 2: PostgreSQL ($$TEST_DATABASE_URL)"; cat "$$pg_log"; \
	fi; \
	rm -f "$$pg_log"; \
	[ $$sqlite_rc -eq 0 ] && [ $$pg_rc -eq 0 ]

# Static checks before any test: ruff (pyflakes, pycodestyle errors, bugbear,
# import order) over the code, tests and benches; mypy over consentflow/.
lint: install
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy

test-pg:
	TEST_DATABASE_URL=$(PG_TEST_URL) $(MAKE) test

# A wheel for deployment (templates, static files, migrations and the compiled
# catalogue inside); see "Deployment at scale" in the README.
wheel: install
	$(UV) build --wheel --out-dir dist

bench: install
	$(UV) run --frozen python bench/recall.py
	$(UV) run --frozen python bench/encode.py
	$(UV) run --frozen python bench/match.py
	$(UV) run --frozen python bench/throughput.py
	$(UV) run --frozen python bench/pipeline.py
	$(UV) run --frozen python bench/group_photo.py
	$(UV) run --frozen python bench/lookalikes.py
	$(UV) run --frozen python bench/review_page.py

# Mutation testing of the privacy rules (bench/mutate.py): each group of
# modules against its own fast tests; too slow for CI, so run by hand.
GROUPS ?=
mutate: install
	nice -n 19 $(UV) run --frozen python bench/mutate.py $(GROUPS)

# The scale run (bench/scale.py): needs PostgreSQL and Redis on loopback.
PHOTOS ?= 1000
scale: install
	cd bench && $(UV) run --frozen python scale.py --photos $(PHOTOS)

# consentflow against deface on a composed 20 s 1080p30 clip (installs deface
# into its own virtualenv under $TMPDIR; takes a while).
bench-video: install
	$(UV) run --frozen python bench/video.py

# Refresh the README screenshots from the browser tests (Dutch UI, real flow).
screenshots: install system-deps
	CF_TEST_SCREENSHOTS=1 $(UV) run --frozen pytest -q -m e2e

translations:
	$(UV) run --frozen pybabel extract -F babel.cfg -k _l -k lazy_gettext -o consentflow/translations/messages.pot .
	$(UV) run --frozen pybabel update -i consentflow/translations/messages.pot -d consentflow/translations
	$(UV) run --frozen pybabel compile -d consentflow/translations

.PHONY: help uv build-deps install system-deps run serve lint test wheel bench-video test-pg bench screenshots translations mutate scale
