"""``python -m learn quotes``: pasted-sentence queries from the validation stories (``eval/quote_questions.jsonl``).

Staff paste a sentence from a document to find where it came from. Each
news-a story (validation) gives two such queries: one of its sentences as it
stands (end punctuation dropped) and another with one character lost from its
middle, as happens when a quote is copied by hand. The right passage is the one
holding the sentence; ``python -m qa eval eval/quote_questions.jsonl
--compare fused,hybrid`` measures retrieval with and without the phrase boost.
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.datasets import crud_rag_texts
from eval.scoring import load_questions
from learn.sources import ROOT
from qa.extractive import split_sentences

QUOTES = ROOT / "eval" / "quote_questions.jsonl"
MIN_CHARS = 15
MAX_CHARS = 60


def _sentences(text: str) -> list[str]:
    return [s.strip() for _, _, s in split_sentences(text) if MIN_CHARS <= len(s.strip()) <= MAX_CHARS]


def quote_rows(source: Path = ROOT / "eval" / "news_dev_questions.jsonl", prefix: str = "news-a-") -> list[dict]:
    refs = sorted({q.doc for q in load_questions(source) if q.id.startswith(prefix) and q.doc})
    stories = crud_rag_texts(refs)
    rows: list[dict] = []
    for n, ref in enumerate(refs, start=1):
        sentences = _sentences(stories[ref])
        if len(sentences) < 2:
            continue
        exact, other = sentences[len(sentences) // 3], sentences[(2 * len(sentences)) // 3]
        middle = len(other) // 2
        for kind, query, evidence in (
            ("exact", exact.rstrip("。！？；…"), exact),
            ("dropped", (other[:middle] + other[middle + 1 :]).rstrip("。！？；…"), other),
        ):
            rows.append(
                {
                    "id": f"quote-a-{n:03d}-{kind}",
                    "question": query,
                    "answerable": True,
                    "answers": [evidence],
                    "evidence": [evidence],
                    "doc": ref,
                }
            )
    return rows


def write_quotes(path: Path = QUOTES) -> int:
    rows = quote_rows()
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return len(rows)
