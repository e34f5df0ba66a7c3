# Two commands for a fresh machine:  make run   (the app on the seeds)   make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
COMPARE_STAMP := $(VENV)/.compare-installed

.PHONY: run test setup browser ingest eval bench lint load-test clean

run: setup
	$(PY) app.py

test: setup browser
	$(PY) -m ruff check .
	$(PY) -m pytest

setup: $(STAMP)

# torch first, pinned to the CPU build on disk; a plain "torch" would pull a CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,bench]"
	touch $(STAMP)

# Debian's chromium for the browser tests (needs root, as in CI); nothing is downloaded by Playwright.
browser:
	@command -v chromium >/dev/null 2>&1 && fc-list 2>/dev/null | grep -qi "noto sans cjk" || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null)

ingest: setup
	$(PY) -m ingest seeds/

eval: setup
	$(PY) -m qa eval eval/seed_questions.jsonl --build-index --out eval/results/seed --compare bm25,dense,hybrid
	$(PY) -m qa eval eval/news_dev_questions.jsonl --build-index --distractors 200 --out eval/results/news_dev --compare bm25,dense,hybrid
	$(PY) -m qa eval eval/english_questions.jsonl --build-index --distractors 200 --out eval/results/english --compare bm25,dense,hybrid
	$(PY) -m qa eval ../shared/data/cmrc2018/cmrc2018_dev.json --format squad --build-index --limit 300 --out eval/results/cmrc2018

bench: setup $(COMPARE_STAMP)
	$(PY) -m bench

# The benchmark's LangChain baseline needs langchain-community, kept out of the test/CI install (".[compare]").
$(COMPARE_STAMP): $(STAMP)
	$(PY) -m pip install -q -e ".[bench,compare]"
	touch $(COMPARE_STAMP)

lint: setup
	$(PY) -m ruff check .

clean:
	rm -rf data/index data/models .pytest_cache
