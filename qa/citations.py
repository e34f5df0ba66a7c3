"""Citation markers as models write them, and the answer sentences they belong to.

The prompt asks for ``……。[1]``, but models also write ``【1】``, ``[1][2]``,
``[1, 2]``, ``[1-3]``, ``[^1]``, ``[来源1]``, ``（来源1）``, ``(来源：1)``,
``（资料2）``, ``（来源：[1]）``, ``来源：[1]``, and put the marker before the
sentence it supports (``[1] 数据显示……。``). ``canonical_citations`` rewrites
every recognised marker to the canonical ``[n]`` (one per number), so that
``split_claims`` pairs sentences with markers of one form only.

Which bracketed numbers are citations (the ambiguity, decided here):

* The plain form, square brackets holding only numbers (``[3]``, ``【3】``,
  ``［1，2］``), is always a citation, whatever the number, as it always was:
  a number outside 1..passages is then ignored by verification, so a sentence
  citing only ``[9]`` of five passages is removed as uncited.
* Every other form (a keyword, ``^``, a range, parentheses) is read only when
  all of its numbers are passage numbers (1..``passages``); otherwise it is
  left in the text as ordinary words. So ``（资料12）`` among five passages
  or ``[2-9]`` stays text, and the sentence stands or falls on its other markers.
* Numbers have at most three digits, so years are never citations:
  ``[2023]``, ``【2023】``, ``（2023年）``, ``（来源：2023年统计公报）`` stay text.
  Parentheses need a keyword: ``（1）`` and ``（2）`` number list items in
  Chinese prose, they do not cite.
* Markdown footnote definitions (a line ``[^1]: …``) are dropped: they name a
  source, they assert nothing.

Where a marker between two sentences belongs is decided per line: a line that
begins with a marker (after an optional list bullet) puts each marker before
the sentence it supports; any other line puts it after. A line of markers
only belongs to the sentence before it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["MARKER", "Claim", "canonical_citations", "split_claims", "strip_citations"]

UNBOUNDED = 999  # passage numbers accepted when the caller does not say how many passages there are

# The plain form as it was always read (also what eval.scoring strips from answers).
MARKER = re.compile(r"\s*[\[【［]\s*(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\s*[\]】］]")
_CANONICAL = re.compile(r"\s*\[(\d{1,3})\]")

_KEYWORD = (
    r"(?:参考资料|参考文献|参考|(?:资料|数据|信息)?来源|资料|材料|段落|出处|引用|引文|文献|依据|source|ref|passage)"
)
_SEE = r"(?:参见|见)"
_NUMBER = r"\d{1,3}(?!\d)"
_ONE = rf"(?:第\s*)?{_NUMBER}(?:\s*段)?"
_ITEM = rf"(?:\^\s*|{_KEYWORD}\s*[:：]?\s*)?{_ONE}(?:\s*[-–—~～至到]\s*{_ONE})?"
_ITEMS = rf"{_ITEM}(?:\s*(?:[,，、;；和及与]\s*)?{_ITEM})*"
_STYLED = re.compile(
    rf"[\[【［]\s*(?:{_SEE}\s*)?(?P<square>{_ITEMS})\s*[\]】］]"
    rf"|[(（]\s*(?:{_SEE}\s*{_KEYWORD}?|{_KEYWORD})\s*[:：]?\s*(?P<paren>{_ITEMS})\s*[)）]",
    re.IGNORECASE,
)
_RANGE = re.compile(rf"({_NUMBER})(?:\s*段)?(?:\s*[-–—~～至到]\s*(?:第\s*)?({_NUMBER}))?")
_BETWEEN = re.compile(r"(\[\d{1,3}\])\s*[,，、]\s*(?=\[\d{1,3}\])")
_MARKERS = r"(?:\[\d{1,3}\]\s*)+"
_WRAPPED = re.compile(
    rf"[(（【]\s*(?:{_SEE}\s*)?(?:{_KEYWORD}\s*)?[:：]?\s*({_MARKERS})[)）】]"
    rf"|(?:{_SEE}\s*)?{_KEYWORD}\s*[:：]\s*({_MARKERS})",
    re.IGNORECASE,
)
_FOOTNOTE_DEFINITION = re.compile(r"^[ \t]*\[\^\d{1,3}\][ \t]*[:：].*$", re.MULTILINE)

_END = re.compile(r"[。！？!?；;]+[”’」』）)]*")
_HEAD = re.compile(rf"\s*{_MARKERS}")
_LEADS = re.compile(r"\s*(?:(?:[-*•·]|\d{1,2}[.、)）]|[(（]\d{1,2}[)）])\s*)?\[\d{1,3}\]")


@dataclass(frozen=True)
class Claim:
    text: str  # the sentence without markers
    cited: tuple[int, ...]  # 1-based passage numbers as written


def canonical_citations(answer: str, passages: int | None = None) -> str:
    """``answer`` with every recognised citation marker written ``[n]`` (see the module docstring).

    ``passages`` is how many passages the answer may cite; forms other than the
    plain one are read only for numbers up to it (``None``: up to 999).
    """
    limit = UNBOUNDED if passages is None else passages
    text = _FOOTNOTE_DEFINITION.sub("", answer)
    text = _STYLED.sub(lambda m: _rewrite(m, limit), text)
    text = _BETWEEN.sub(r"\1", text)
    return _WRAPPED.sub(lambda m: (m.group(1) or m.group(2)).strip(), text)


def _rewrite(m: re.Match[str], limit: int) -> str:
    if MARKER.fullmatch(m.group(0)):
        return "".join(f"[{int(n)}]" for n in re.findall(r"\d+", m.group(0)))
    numbers: list[int] = []
    for item in _RANGE.finditer(m.group("square") or m.group("paren")):
        first = int(item.group(1))
        last = int(item.group(2)) if item.group(2) else first
        if not 1 <= first <= last <= limit:
            return m.group(0)  # not all passage numbers: ordinary text
        numbers.extend(range(first, last + 1))
    return "".join(f"[{n}]" for n in numbers)


def strip_citations(text: str, passages: int | None = None) -> str:
    """``text`` without its citation markers."""
    return _CANONICAL.sub("", canonical_citations(text, passages))


def split_claims(answer: str, passages: int | None = None) -> list[Claim]:
    """The sentences of an answer, each with the passage numbers its markers cite.

    ``passages``: how many passages may be cited (see ``canonical_citations``).
    """
    claims: list[tuple[str, list[int]]] = []
    waiting: list[int] = []  # markers before the first sentence that carries text
    for line in re.split(r"\n+", canonical_citations(answer, passages)):
        pieces = _pieces(line)
        leading = bool(pieces) and bool(_LEADS.match(pieces[0]))
        for piece in pieces:
            head = _HEAD.match(piece)
            before = _numbers(head.group(0)) if head else []
            body = piece[head.end() :] if head else piece
            text = _CANONICAL.sub("", body).strip()
            if not (text and re.search(r"\w", text)):
                _attach(claims, waiting, before + _numbers(body))
                continue
            if not leading:
                _attach(claims, waiting, before)
                before = []
            claims.append((text, [*waiting, *before, *_numbers(body)]))
            waiting = []
    return [Claim(text, tuple(cited)) for text, cited in claims]


def _pieces(line: str) -> list[str]:
    """The line cut after each sentence end; markers after an end start the next piece."""
    out: list[str] = []
    pos = 0
    for m in _END.finditer(line):
        out.append(line[pos : m.end()])
        pos = m.end()
    if line[pos:].strip():
        out.append(line[pos:])
    return out


def _numbers(text: str) -> list[int]:
    return [int(n) for n in _CANONICAL.findall(text)]


def _attach(claims: list[tuple[str, list[int]]], waiting: list[int], numbers: list[int]) -> None:
    """Markers that follow a sentence: to the last sentence, or to the next one when none came yet."""
    if claims:
        claims[-1][1].extend(numbers)
    else:
        waiting.extend(numbers)
