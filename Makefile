# Two entry points do all the set-up on a fresh machine: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
CONFIG ?= config.toml
CHROMIUM := /usr/bin/chromium
# The browser tests fail when Chinese does not render: they need a CJK font.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
ICALJS := tests/js/node_modules/.package-lock.json

.PHONY: run test lint bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,postgres]'
	touch $@

# Mozilla's ical.js, pinned by tests/js/package-lock.json: the feed tests parse with it.
$(ICALJS): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error

# The page's browser test drives Debian's Chromium (`playwright install` cannot download here).
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

$(CJK_FONT):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk >/dev/null

# The sample import is idempotent: on a store that has it already, it changes nothing.
run: $(VENV)/.installed
	$(VENV)/bin/rulewatch --config $(CONFIG) import --sample
	$(VENV)/bin/rulewatch --config $(CONFIG) serve

test: $(VENV)/.installed $(ICALJS) $(CHROMIUM) $(CJK_FONT)
	$(VENV)/bin/pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) bench/extract.py

clean:
	rm -rf $(VENV) *.egg-info tests/js/node_modules
