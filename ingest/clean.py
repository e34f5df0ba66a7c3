"""Turn print-layout text into articles of whole paragraphs.

Newspaper pages extracted to text put headlines, bylines and column tags on
lines of their own and cut paragraphs in two where a column ends. This module
rejoins the cut paragraphs, recognises headings and bylines (kept as article
metadata, never as passages) and splits the page into its articles.

The cleaned text only drops layout whitespace: every other character of the
input survives, in order (a property test checks this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.types import Article

SENTENCE_END = "。！？!?；;…"
CLOSERS = "”’」』）)】》\"'"
_PRESS = re.compile(r"(本报|新华社|记者|通讯员|特约|实习生|编辑|来源[:：]|作者[:：])")
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,4}$")
_CONTINUATION_START = re.compile(r"^[，,。、；;：:！!？?）)”’」』]")
_BODY_PUNCT = re.compile(r"[，,。；;！？!?]")
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
LONG_LINE = 40


@dataclass
class _Unit:
    kind: str  # "heading" | "byline" | "body"
    text: str
    level: int = 0  # markdown heading level, 0 when unknown


@dataclass
class _Draft:
    headings: list[str]
    bylines: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) in page order

    def add(self, kind: str, text: str) -> None:
        self.items.append((kind, text))


def ends_sentence(line: str) -> bool:
    """Ends with 。！？ etc., possibly followed by closing quotes or brackets."""
    core = line.rstrip(CLOSERS)
    if core != line and line.startswith(("（", "(")) and line.endswith(("）", ")")):
        return True  # a parenthesised note such as （作者系…）
    return bool(core) and core[-1] in SENTENCE_END


def _lines_and_gaps(text: str) -> list[tuple[str, bool]]:
    """Non-empty stripped lines, each flagged if a blank line preceded it."""
    out: list[tuple[str, bool]] = []
    gap = True
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        if not line:
            gap = True
            continue
        out.append((line, gap))
        gap = False
    return out


def _is_byline(line: str) -> bool:
    if len(line) > 40 or _BODY_PUNCT.search(line):
        return False
    if _PRESS.search(line):
        return True
    tokens = line.split()
    return len(tokens) >= 2 and all(_NAME.match(t) for t in tokens)


def _looks_like_heading(line: str) -> bool:
    return len(line) < LONG_LINE and not ends_sentence(line) and len(_BODY_PUNCT.findall(line)) <= 1


def _crosses_word(left: str, right: str) -> bool:
    """True when a Chinese word spans the boundary (``负责人表`` | ``示，``)."""
    import rjieba

    joint = left[-4:] + right[:4]
    pos = 0
    for token in rjieba.cut(joint, hmm=False):
        if pos < len(left[-4:]) < pos + len(token):
            return True
        pos += len(token)
    return False


def _continues(prev: str, line: str) -> bool:
    """Does ``line`` continue the paragraph ``prev`` that the layout cut?"""
    if ends_sentence(prev) or _is_byline(line) or _MD_HEADING.match(line):
        return False
    if _CONTINUATION_START.match(line):
        return True
    if len(prev) >= LONG_LINE or len(_BODY_PUNCT.findall(prev)) >= 2:
        return True
    return not _looks_like_heading(line) and _crosses_word(prev, line)


def _units(text: str) -> list[_Unit]:
    units: list[_Unit] = []
    for line, gap in _lines_and_gaps(text):
        md = _MD_HEADING.match(line)
        prev = units[-1] if units else None
        if md:
            units.append(_Unit("heading", md.group(2).strip(), len(md.group(1))))
        elif prev and prev.kind == "body" and _continues(prev.text, line):
            prev.text += line
        elif prev and prev.kind == "heading" and not gap and _looks_like_heading(line) and not prev.level:
            prev.text += line if prev.text.endswith(("：", ":", "——")) else " " + line
        elif _is_byline(line) or (prev and prev.kind == "heading" and _NAME.match(line)):
            units.append(_Unit("byline", line))
        elif _looks_like_heading(line):
            units.append(_Unit("heading", line))
        else:
            units.append(_Unit("body", line))
    _reclassify_cut_headings(units)
    return units


def _reclassify_cut_headings(units: list[_Unit]) -> None:
    """A short heading-like line followed by its continuation is a cut paragraph."""
    i = 0
    while i < len(units) - 1:
        cur, nxt = units[i], units[i + 1]
        cut = cur.kind == "heading" and not cur.level and nxt.kind == "body" and _continues(cur.text, nxt.text)
        if cut and (_CONTINUATION_START.match(nxt.text) or _crosses_word(cur.text, nxt.text)):
            cur.kind, cur.text = "body", cur.text + nxt.text
            del units[i + 1]
            continue
        i += 1


def _split_title(headings: list[str]) -> tuple[str, list[str], list[str]]:
    """(title, subtitles, tags) from the heading blocks before a byline."""
    blocks: list[str] = []
    for h in headings:
        if blocks and blocks[-1].endswith(("：", ":", "——", "—")):
            blocks[-1] += h
        else:
            blocks.append(h)
    tags = [b for b in blocks[:-1] if len(b) <= 5]
    rest = [b for b in blocks if b not in tags]
    return rest[-1], rest[:-1], tags


def _new_draft(headings: list[str]) -> _Draft:
    draft = _Draft(headings=headings)
    for h in headings:
        draft.add("heading", h)
    return draft


def _drafts(units: list[_Unit], fallback_title: str) -> list[_Draft]:
    drafts: list[_Draft] = []
    pending: list[str] = []
    for unit in units:
        if unit.kind == "heading" and unit.level == 1:
            drafts.append(_new_draft([unit.text]))
        elif unit.kind == "heading":
            pending.append(unit.text)
        elif unit.kind == "byline":
            if pending or not drafts:
                drafts.append(_new_draft(pending) if pending else _Draft(headings=[fallback_title]))
                pending = []
            drafts[-1].bylines.append(unit.text)
            drafts[-1].add("byline", unit.text)
        else:
            if not drafts:
                drafts.append(_new_draft(pending) if pending else _Draft(headings=[fallback_title]))
            elif pending:
                drafts[-1].sections.extend(pending)
                for h in pending:
                    drafts[-1].add("section", h)
            pending = []
            drafts[-1].add("body", unit.text)
    if pending and drafts:
        drafts[-1].sections.extend(pending)
        for h in pending:
            drafts[-1].add("section", h)
    elif pending:
        drafts.append(_Draft(headings=[fallback_title], items=[("body", h) for h in pending]))
    return _fold_empty(drafts, fallback_title)


def _fold_empty(drafts: list[_Draft], fallback_title: str) -> list[_Draft]:
    """A draft with no body (headings or bylines only) is kept as text, never dropped."""
    out: list[_Draft] = []
    for draft in drafts:
        if any(kind == "body" for kind, _ in draft.items):
            out.append(draft)
        elif out:
            out[-1].items.extend(("section", text) for _, text in draft.items)
        else:
            out.append(_Draft(headings=[fallback_title], items=[("body", text) for _, text in draft.items]))
    return out


def clean_text(text: str, fallback_title: str) -> tuple[str, tuple[Article, ...]]:
    """Cleaned text and its articles; paragraph offsets index the cleaned text.

    Headings, bylines and paragraphs each become one block of the cleaned
    text, separated by blank lines, in page order.
    """
    pieces: list[str] = []
    articles: list[Article] = []
    pos = 0
    for draft in _drafts(_units(text), fallback_title):
        spans: list[tuple[int, int]] = []
        for kind, block in draft.items:
            if pieces:
                pieces.append("\n\n")
                pos += 2
            pieces.append(block)
            if kind == "body":
                spans.append((pos, pos + len(block)))
            pos += len(block)
        title, subtitles, tags = _split_title(draft.headings)
        articles.append(
            Article(
                title=title,
                subtitles=tuple(subtitles),
                bylines=tuple(draft.bylines),
                tags=tuple(tags),
                sections=tuple(draft.sections),
                paragraphs=tuple(spans),
            )
        )
    return "".join(pieces), tuple(articles)
