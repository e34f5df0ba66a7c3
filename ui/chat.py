"""One browser session's conversation: its turns, how they render, and the
answer loop that turns ``Assistant.stream`` into chat updates.

A question is added to the session at once (``ChatSession.add``) and
answered by ``respond``, which works through every waiting turn in order;
a question sent while another is being answered waits for it and is never
lost. Errors stop at this boundary: a ``YijuError`` shows its (Chinese)
message in the chat, anything else is logged and shown as a generic
message; the session goes on either way.
"""

from __future__ import annotations

import copy
import logging
import threading
import traceback
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import YijuError
from core.types import Answer, Document
from qa.feedback import Rating
from ui import render
from ui.services import Preferences, Services, redact

log = logging.getLogger(__name__)

EMPTY_QUESTION = "请输入一个问题。"
GENERIC_ERROR = "抱歉，处理这个问题时出现了内部错误，已记录日志。请重试；若反复出现，请联系管理员。"
HISTORY_TURNS = 6
PANEL_TURNS = 10


@dataclass
class Turn:
    question: str
    answer: Answer | None = None
    partial: str | None = None
    error: str = ""
    documents: Mapping[str, Document] = field(default_factory=dict, repr=False)

    @property
    def waiting(self) -> bool:
        return self.answer is None and not self.error


@dataclass
class ChatSession:
    turns: list[Turn] = field(default_factory=list)
    _answering: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __deepcopy__(self, memo: dict[int, Any]) -> ChatSession:  # Gradio deep-copies state; a lock cannot be
        return ChatSession(copy.deepcopy(self.turns, memo))

    def add(self, question: Any) -> Turn:
        turn = Turn(question if isinstance(question, str) else "")
        if not render.visible(turn.question):
            turn.error = EMPTY_QUESTION
        self.turns.append(turn)
        return turn

    def next_waiting(self) -> Turn | None:
        return next((t for t in self.turns if t.waiting), None)

    def history(self, before: int | None = None) -> list[tuple[str, str]]:
        """(question, answer) pairs of the answered turns before index ``before``."""
        turns = self.turns[:before] if before is not None else self.turns
        return [(t.question, t.answer.text) for t in turns if t.answer is not None][-HISTORY_TURNS:]

    def messages(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for n, turn in enumerate(self.turns, start=1):
            if render.visible(turn.question):
                out.append({"role": "user", "content": render.question_html(turn.question)})
            out.append({"role": "assistant", "content": _bubble(turn, n)})
        return out

    def panel(self) -> str:
        answered = [(n, t.answer) for n, t in enumerate(self.turns, start=1) if t.answer is not None]
        answered = answered[-PANEL_TURNS:]
        last = answered[-1][0] if answered else 0
        docs = {n: self.turns[n - 1].documents for n, _ in answered}
        return render.panel_html([render.turn_section(a, n, docs[n], open_=n == last) for n, a in answered])

    def last_answered(self) -> tuple[int, Answer] | None:
        for n in range(len(self.turns), 0, -1):
            answer = self.turns[n - 1].answer
            if answer is not None:
                return n, answer
        return None


def _bubble(turn: Turn, n: int) -> str:
    if turn.answer is not None:
        return render.answer_html(turn.answer, n)
    if turn.error:
        return render.error_html(turn.error, tag="出错" if turn.error == GENERIC_ERROR else "提示")
    if turn.partial is not None:
        return render.partial_html(turn.partial)
    return render.pending_html()


Update = tuple[list[dict[str, str]], str | None, ChatSession]  # chat messages, panel (None: unchanged), session


def respond(services: Services, session: ChatSession, prefs: Preferences) -> Iterator[Update]:
    """Answer every waiting turn of ``session`` in order, yielding the chat after every change."""
    while session.next_waiting() is not None:
        # Another request of this session holds the lock: it answers the waiting turns, this one
        # returns. The holder re-checks after releasing, so a turn added meanwhile is not missed.
        if not session._answering.acquire(blocking=False):
            break
        try:
            while (turn := session.next_waiting()) is not None:
                yield from _answer(services, session, turn, prefs)
        finally:
            session._answering.release()
    yield session.messages(), session.panel(), session


def _answer(services: Services, session: ChatSession, turn: Turn, prefs: Preferences) -> Iterator[Update]:
    yield session.messages(), None, session
    history = session.history(before=session.turns.index(turn))
    try:
        view = services.assistant_for(prefs)
        for item in view.stream(turn.question, history):
            if isinstance(item, Answer):
                turn.answer, turn.documents = item, view.index.documents
            else:
                turn.partial = item
                yield session.messages(), None, session
    except YijuError as exc:
        turn.error = redact(str(exc), services.secrets(prefs))
    except Exception:
        log.error("回答问题时出错：\n%s", redact(traceback.format_exc(), services.secrets(prefs)))
        turn.error = GENERIC_ERROR
    if turn.waiting:
        turn.error = GENERIC_ERROR
    yield session.messages(), session.panel(), session


def give_feedback(services: Services, session: ChatSession, rating: Rating, comment: Any) -> tuple[bool, str]:
    """Record 有帮助/有问题 (👍/👎) and the optional comment for the latest answer: (saved, status line)."""
    latest = session.last_answered()
    if latest is None:
        return False, render.status_html([("warn", "还没有可以评价的回答。先提一个问题吧。")])
    n, answer = latest
    try:
        services.feedback.add(rating, answer, comment if isinstance(comment, str) else "")
    except OSError as exc:
        log.error("写入反馈失败：%s", exc)
        return False, render.status_html([("error", "反馈没有保存成功（无法写入反馈文件），请联系管理员。")])
    verdict = "有帮助" if rating == "up" else "有问题"
    return True, render.status_html([("ok", f"已记录对第 {n} 问的反馈（{verdict}），谢谢！")])
