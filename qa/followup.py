"""Rewrite an elliptical follow-up into a standalone question, by rule.

``那个体工商户呢？`` after ``我国中小微企业有多少户？`` becomes
``我国个体工商户有多少户？``: the follow-up's noun phrase replaces the subject
(the run of nouns just before the first verb) of the previous question. With
an LLM configured, the LLM does this instead (``qa.llm``).
"""

from __future__ import annotations

from collections.abc import Sequence

_DROP_POS = ("r", "y", "x", "c", "u")
_SUBJECT_POS = ("n", "j", "a", "b", "l", "vn", "nz", "ns", "nt")


def is_elliptical(question: str) -> bool:
    q = question.strip()
    return len(q) <= 16 and (q.startswith(("那", "还有", "另外")) or q.rstrip("？?。 ").endswith("呢"))


def _topic(question: str) -> str:
    import rjieba

    words = [w for w, pos in rjieba.tag(question) if not pos.startswith(_DROP_POS)]
    return "".join(words)


def _replace_subject(previous: str, topic: str) -> str:
    import rjieba

    tagged = rjieba.tag(previous)
    verb = next((i for i, (_, pos) in enumerate(tagged) if pos.startswith(("v", "m", "p"))), None)
    if verb is None or verb == 0:
        return f"{topic}：{previous}"
    start = verb
    while start > 0 and tagged[start - 1][1].startswith(_SUBJECT_POS) and tagged[start - 1][1] != "r":
        start -= 1
    if start == verb:
        return f"{topic}：{previous}"
    return "".join(w for w, _ in tagged[:start]) + topic + "".join(w for w, _ in tagged[verb:])


def rewrite_rule(question: str, history: Sequence[tuple[str, str]]) -> str:
    if not history or not is_elliptical(question):
        return question
    previous = history[-1][0]
    topic = _topic(question)
    if not topic:
        return previous
    return _replace_subject(previous, topic)
