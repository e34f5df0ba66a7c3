# Two commands for a fresh machine:  make run   (the app on the seeds)   make test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
COMPARE_STAMP := $(VENV)/.compare-installed

.PHONY: run test setup browser ingest eval eval-test bench lint load-test clean

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

# The test splits (see eval/splits.md), both answerers on the same index; run when a piece of work is finished.
T := eval/results/test
eval-test: setup
	$(PY) -m qa eval eval/news_test_questions.jsonl --distractors 200 --build-index --out $(T)/news_rules
	YIJU_ANSWERER=learned $(PY) -m qa eval eval/news_test_questions.jsonl --distractors 200 --index $(T)/news_rules/index --out $(T)/news_learned
	$(PY) -m qa eval ../shared/data/drcd/DRCD_test.json --format squad --limit 200 --build-index --out $(T)/drcd_rules
	YIJU_ANSWERER=learned $(PY) -m qa eval ../shared/data/drcd/DRCD_test.json --format squad --limit 200 --index $(T)/drcd_rules/index --out $(T)/drcd_learned
	$(PY) -m qa eval ../shared/data/dureader_checklist/dev.json --format squad --buckets 7-9 --limit 200 --build-index --out $(T)/dureader_rules
	YIJU_ANSWERER=learned $(PY) -m qa eval ../shared/data/dureader_checklist/dev.json --format squad --buckets 7-9 --limit 200 --index $(T)/dureader_rules/index --out $(T)/dureader_learned

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
