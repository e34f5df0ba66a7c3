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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.errors import YijuError
from core.types import Answer, Document
from ui import render
from ui.history import Rating
from ui.services import Preferences, Services, redact

log = logging.getLogger(__name__)

EMPTY_QUESTION = "请输入一个问题。"
GENERIC_ERROR = "抱歉，处理这个问题时出现了内部错误，已记录日志。请重试；若反复出现，请联系管理员。"
HISTORY_TURNS = 6
PANEL_TURNS = 10


@dataclass
class Turn:
    """One question and what it got. A finished turn keeps its answer record and its rendered bubble and
    引用来源 section; a turn restored from the database has only those (``answer`` is None)."""

    question: str
    answer: Answer | None = None
    partial: str | None = None
    error: str = ""
    documents: Mapping[str, Document] = field(default_factory=dict, repr=False)
    record: dict[str, Any] | None = field(default=None, repr=False)
    bubble: str = field(default="", repr=False)
    section: str = field(default="", repr=False)  # rendered closed; the panel opens the newest

    @property
    def waiting(self) -> bool:
        return self.answer is None and self.record is None and not self.error

    @property
    def answer_record(self) -> dict[str, Any] | None:
        if self.record is None and self.answer is not None:
            self.record = self.answer.to_record()
        return self.record

    def finish(self, n: int) -> None:
        """Render the final state of turn ``n`` once, so that it can be stored and shown again as it was."""
        self.bubble = _bubble(self, n)
        if self.answer is not None:
            self.record = self.answer.to_record()
            self.section = render.turn_section(self.answer, n, self.documents, open_=False)

    def to_row(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "error": self.error,
            "record": self.answer_record,
            "bubble": self.bubble,
            "section": self.section,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Turn:
        record = row.get("record")
        return cls(
            str(row.get("question", "")),
            error=str(row.get("error") or ("" if record else GENERIC_ERROR)),
            record=dict(record) if isinstance(record, dict) else None,
            bubble=str(row.get("bubble", "")),
            section=str(row.get("section", "")),
        )


@dataclass
class ChatSession:
    turns: list[Turn] = field(default_factory=list)
    conversation_id: str = ""  # "" until the first question is stored
    owner: str = ""  # who the conversation belongs to (see ui.history); "" stores nothing

    def __post_init__(self) -> None:
        # Not a field: Gradio serialises the State's default with dataclasses.asdict, which copies every field.
        self._answering: threading.Lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> ChatSession:  # Gradio deep-copies state; a lock cannot be
        return ChatSession(copy.deepcopy(self.turns, memo), self.conversation_id, self.owner)

    @classmethod
    def restore(cls, rows: Sequence[Mapping[str, Any]], conversation_id: str, owner: str) -> ChatSession:
        return cls([Turn.from_row(r) for r in rows], conversation_id, owner)

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
        pairs = [(t.question, str(t.answer_record["answer"])) for t in turns if t.answer_record is not None]
        return pairs[-HISTORY_TURNS:]

    def messages(self) -> list[dict[str, str]]:
        out: list[dict[str, str]] = []
        for n, turn in enumerate(self.turns, start=1):
            if render.visible(turn.question):
                out.append({"role": "user", "content": render.question_html(turn.question)})
            out.append({"role": "assistant", "content": turn.bubble or _bubble(turn, n)})
        return out

    def message_turns(self) -> list[int]:
        """For each message of ``messages()``, the number (1-based) of the turn it belongs to."""
        out: list[int] = []
        for n, turn in enumerate(self.turns, start=1):
            out.extend([n, n] if render.visible(turn.question) else [n])
        return out

    def panel(self) -> str:
        answered = [n for n, t in enumerate(self.turns, start=1) if t.section or t.answer is not None]
        answered = answered[-PANEL_TURNS:]
        last = answered[-1] if answered else 0
        return render.panel_html([self._section(n, open_=n == last) for n in answered])

    def _section(self, n: int, *, open_: bool) -> str:
        turn = self.turns[n - 1]
        if not turn.section and turn.answer is not None:
            return render.turn_section(turn.answer, n, turn.documents, open_=open_)
        closed = f'id="yiju-t-{n}">'
        return turn.section.replace(closed, f'id="yiju-t-{n}" open>', 1) if open_ else turn.section

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
    n = session.turns.index(turn) + 1
    turn.finish(n)
    save_turn(services, session, n)
    yield session.messages(), session.panel(), session


def save_turn(services: Services, session: ChatSession, n: int) -> None:
    """Store finished turn ``n`` of a stored conversation; a failure is logged, the chat goes on."""
    if not (session.conversation_id and session.owner):
        return
    try:
        services.history.save_turn(session.owner, session.conversation_id, n, session.turns[n - 1].to_row())
    except Exception as exc:  # a full disk or a locked database must not break the answer just shown
        log.error("保存对话失败：%s", exc)


def give_feedback(
    services: Services, session: ChatSession, n: int | None, rating: Rating, comment: Any
) -> tuple[bool, str]:
    """Record 有帮助/有问题 (👍/👎) and the optional comment for the answer of turn ``n`` (1-based; None: the
    latest answer): (saved, status line)."""
    if n is None:
        n = next((k for k in range(len(session.turns), 0, -1) if session.turns[k - 1].answer_record), 0)
        if n == 0:
            return False, render.status_html([("warn", "还没有可以评价的回答。先提一个问题吧。")])
    record = session.turns[n - 1].answer_record if 1 <= n <= len(session.turns) else None
    if record is None:
        return False, render.status_html([("warn", "这条消息不是回答，不能评价。请点回答下方的按钮。")])
    try:
        services.history.add_feedback(
            rating, record, comment, owner=session.owner, conversation_id=session.conversation_id, turn=n
        )
    except Exception as exc:
        log.error("写入反馈失败：%s", exc)
        return False, render.status_html([("error", "反馈没有保存成功（无法写入数据库），请联系管理员。")])
    verdict = "有帮助" if rating == "up" else "有问题"
    return True, render.status_html([("ok", f"已记录对第 {n} 问的反馈（{verdict}），谢谢！")])
