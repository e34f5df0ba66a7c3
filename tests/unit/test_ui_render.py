"""The app's HTML: escaping, citation links and cards, the "查看原文" view,
refusal styling and the per-session chat state. Documents are real files
loaded and chunked by the ingest code; no model is needed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.types import REFUSAL_TEXT, Answer, Citation, Document, Passage, ScoredPassage
from ingest.chunk import chunk_document
from ingest.index import DocumentEntry
from ingest.load import load_document
from ui import render
from ui.chat import ChatSession, Turn

TWO_ARTICLES = """# 第一篇：企业名录

甲公司成立于2001年，总部位于北京市海淀区中关村大街。

乙公司成立于2005年，主营流量仪表，员工约三百人。

# 第二篇：注册信息

丙公司的注册资本为3000万元，法定代表人为张三，注册地在开封。

丁公司的注册资本为500万元，法定代表人为李四，注册地在天津。
"""

HOSTILE = """# <script>alert('t')</script>标题

正文里有 <img src=x onerror=alert(1)> 和 <b>粗体</b> 以及 "引号" & 符号，还有 ${value} 与 {{value}}。
"""


def _load(tmp_path: Path, name: str, text: str) -> tuple[Document, list[Passage]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    doc = load_document(path)
    return doc, chunk_document(doc)


@pytest.fixture
def company(tmp_path: Path) -> tuple[Document, list[Passage]]:
    return _load(tmp_path, "companies.md", TWO_ARTICLES)


def _passage(passages: list[Passage], needle: str) -> Passage:
    return next(p for p in passages if needle in p.text)


def _citation(p: Passage, quote: str, n: int = 1) -> Citation:
    start = p.text.index(quote)
    return Citation(n=n, passage=p, quote=quote, quote_start=start, quote_end=start + len(quote))


def _answer(question: str, text: str, citations: tuple[Citation, ...], retrieved: tuple[ScoredPassage, ...] = (), **kw):
    return Answer(
        question=question,
        text=text,
        refused=kw.pop("refused", False),
        citations=citations,
        retrieved=retrieved,
        mode=kw.pop("mode", "extractive"),
        latency_ms=kw.pop("latency_ms", 1234.0),
        **kw,
    )


def test_answer_markers_link_to_their_citation_cards(company: tuple[Document, list[Passage]]) -> None:
    doc, passages = company
    p = _passage(passages, "丙公司")
    answer = _answer(
        "丙公司注册资本？", "丙公司的注册资本为3000万元。[1] 另见[7]。", (_citation(p, "注册资本为3000万元"),)
    )

    bubble = render.answer_html(answer, turn=3)
    card = render.citation_card(answer.citations[0], 3, {doc.doc_id: doc})

    assert '<a class="yiju-cite" href="#yiju-c-3-1"' in bubble
    assert "[7]" in bubble and "yiju-c-3-7" not in bubble  # a marker with no citation stays plain text
    assert 'id="yiju-c-3-1"' in card
    assert '<mark class="yiju-quote">注册资本为3000万元</mark>' in card
    assert "《第二篇：注册信息》" in card and "companies.md · 第1段" in card


def test_a_card_marks_every_sentence_the_answer_quotes(company: tuple[Document, list[Passage]]) -> None:
    doc, passages = company
    p = _passage(passages, "丁公司")
    first, second = "丁公司的注册资本为500万元", "注册地在天津"
    s1, s2 = p.text.index(first), p.text.index(second)
    cite = Citation(1, p, first, s1, s1 + len(first), ((s1, s1 + len(first)), (s2, s2 + len(second))))

    card = render.citation_card(cite, 1, {doc.doc_id: doc})

    assert card.count('<mark class="yiju-quote">') == 4  # two in the card, two in the source view
    assert f'<mark class="yiju-quote">{render.esc(second)}</mark>' in card


def test_mode_and_time_are_shown_for_each_answer(company: tuple[Document, list[Passage]]) -> None:
    _, passages = company
    cite = (_citation(_passage(passages, "丙公司"), "3000万元"),)
    extractive = render.answer_html(_answer("q", "丙公司 3000万元。[1]", cite, latency_ms=870.0), 1)
    llm = render.answer_html(_answer("q", "丙公司 3000万元。[1]", cite, mode="llm", model="qwen2.5-7b"), 1)

    assert "抽取式（离线） · 用时 0.9 秒 · 依据 1 处原文" in extractive
    assert "LLM · qwen2.5-7b · 用时 1.2 秒" in llm


def test_source_view_shows_the_article_with_the_passage_in_place(company: tuple[Document, list[Passage]]) -> None:
    doc, passages = company
    p = _passage(passages, "丙公司")
    view = render.source_html(p, doc, [(p.text.index("3000"), p.text.index("3000") + 6)])

    context = re.search(r'<span class="yiju-ctx">(.*?)</span>', view)
    assert context is not None and "丙公司的注册资本为" in context.group(1)
    assert '<mark class="yiju-quote">3000万元</mark>' in view
    assert (
        "丁公司的注册资本为500万元" in view and "（前略）" not in view
    )  # the rest of the article is there, around the passage
    assert "甲公司" not in view  # ...but not the other article


def test_source_view_of_a_long_article_is_cut_around_the_passage(tmp_path: Path) -> None:
    filler = "".join(f"这是第{i}段，内容与问题无关，只是为了让文章足够长。" * 8 + "\n\n" for i in range(120))
    doc, passages = _load(tmp_path, "long.md", f"# 长文\n\n{filler}关键句：戊公司注册资本为42亿元。\n\n{filler}")
    p = _passage(passages, "戊公司")

    view = render.source_html(p, doc, ())

    assert "（前略）…" in view and "…（后略）" in view
    assert "戊公司注册资本为42亿元" in view
    assert len(view) < render.MAX_CONTEXT_CHARS * 1.3


def test_source_view_says_so_when_the_document_is_gone(company: tuple[Document, list[Passage]]) -> None:
    _, passages = company
    assert "原文已不在文档库中" in render.source_html(passages[0], None, ())


def test_document_and_user_text_is_escaped_everywhere(tmp_path: Path) -> None:
    doc, passages = _load(tmp_path, "<evil>.md", HOSTILE)
    p = passages[0]
    question = "<script>alert(1)</script>问题\x00\x07？"
    answer = _answer(question, p.text + "[1]", (_citation(p, "<b>粗体</b>"),))
    refusal = _answer(question, REFUSAL_TEXT, (), (ScoredPassage(p, 0.5),), refused=True)
    entry = DocumentEntry(doc.doc_id, doc.path, doc.name, doc.articles[0].title, 1, "2026-01-01 00:00:00", "utf-8")

    pages = [
        render.question_html(question),
        render.answer_html(answer, 1),
        render.partial_html(p.text),
        render.error_html(question),
        render.turn_section(answer, 1, {doc.doc_id: doc}),
        render.turn_section(refusal, 2, {doc.doc_id: doc}),
        render.documents_table([entry]),
        render.status_html([("error", question)]),
    ]
    for page in pages:
        assert "<script" not in page and "<img" not in page and "<b>" not in page and "<evil>" not in page
        assert "\x00" not in page and "\x07" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;问题？" in pages[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[1]
    assert "&quot;引号&quot; &amp; 符号" in pages[4]
    assert "&lt;evil&gt;.md" in pages[6]


def test_refusal_looks_different_and_lists_the_closest_passages(company: tuple[Document, list[Passage]]) -> None:
    doc, passages = company
    retrieved = tuple(ScoredPassage(p, 1.0 / (i + 1)) for i, p in enumerate(passages))
    refusal = _answer(
        "2022年全国个体工商户有多少户？",
        REFUSAL_TEXT,
        (),
        retrieved,
        refused=True,
        notice="问题中的“2022年”在资料中没有出现。",
    )

    bubble = render.answer_html(refusal, 2)
    section = render.turn_section(refusal, 2, {doc.doc_id: doc})

    assert 'class="yiju-answer yiju-refused"' in bubble and "资料不足 · 未作回答" in bubble
    assert REFUSAL_TEXT in bubble and "“2022年”在资料中没有出现" in bubble
    assert "yiju-cite" not in bubble
    assert "可能相关的段落（不足以回答）" in section and "yiju-turn-refused" in section
    assert section.count('class="yiju-card yiju-card-weak"') == 3 == min(3, len(passages))
    assert section.count("查看原文") == 3


def test_long_questions_are_shortened_for_display() -> None:
    shown = render.question_html("问" * 20000)
    assert "（共 20000 字）" in shown and len(shown) < 700


def test_chat_session_renders_turns_and_keeps_only_answers_in_history(company: tuple[Document, list[Passage]]) -> None:
    doc, passages = company
    first = _answer("丙公司注册资本？", "丙公司的注册资本为3000万元。[1]", (_citation(passages[2], "3000万元"),))
    second = _answer("丁公司呢？", "丁公司的注册资本为500万元。[1]", (_citation(passages[3], "500万元"),))
    session = ChatSession(
        [
            Turn("丙公司注册资本？", answer=first, documents={doc.doc_id: doc}),
            Turn("", error="请输入一个问题。"),
            Turn("丁公司呢？", answer=second, documents={doc.doc_id: doc}),
            Turn("还在生成", partial="部分回答"),
        ]
    )

    messages = session.messages()
    panel = session.panel()

    assert [m["role"] for m in messages] == ["user", "assistant", "assistant", "user", "assistant", "user", "assistant"]
    assert "yiju-error" in messages[2]["content"] and "yiju-pending" in messages[6]["content"]
    assert session.history() == [(first.question, first.text), (second.question, second.text)]
    assert panel.index('id="yiju-t-3" open') < panel.index('id="yiju-t-1"')  # newest first, only it open
    assert 'id="yiju-t-1" open' not in panel
    assert session.last_answered() == (3, second)


def test_a_stored_conversation_shows_again_as_it_was_and_goes_on(
    company: tuple[Document, list[Passage]], tmp_path: Path
) -> None:
    from ui.history import HistoryStore

    doc, passages = company
    first = _answer("丙公司注册资本？", "丙公司的注册资本为3000万元。[1]", (_citation(passages[2], "3000万元"),))
    second = _answer("丁公司呢？", "丁公司的注册资本为500万元。[1]", (_citation(passages[3], "500万元"),))
    live = ChatSession([Turn(first.question, answer=first, documents={doc.doc_id: doc})])
    live.add(second.question).answer = second
    live.turns[1].documents = {doc.doc_id: doc}
    store = HistoryStore(tmp_path / "yiju.db")
    conv = store.create("browser:x", first.question)
    for n, turn in enumerate(live.turns, start=1):
        turn.finish(n)
        assert store.save_turn("browser:x", conv.id, n, turn.to_row())

    restored = ChatSession.restore(HistoryStore(tmp_path / "yiju.db").turns("browser:x", conv.id), conv.id, "browser:x")

    assert restored.messages() == live.messages()
    assert restored.panel() == live.panel()
    assert 'id="yiju-t-2" open' in restored.panel() and 'id="yiju-t-1" open' not in restored.panel()
    assert restored.history() == [(first.question, first.text), (second.question, second.text)]
    assert restored.next_waiting() is None
    restored.add("丙公司在哪里注册？")
    assert restored.next_waiting() is restored.turns[2] and restored.message_turns() == [1, 1, 2, 2, 3, 3]


def test_empty_panel_explains_what_it_is_for() -> None:
    panel = ChatSession().panel()
    assert "引用来源" in panel and "点击回答中的" in panel


def test_removed_llm_sentences_can_be_opened_and_read(company: tuple[Document, list[Passage]]) -> None:
    _, passages = company
    cite = (_citation(_passage(passages, "丙公司"), "3000万元"),)
    removed = ("丙公司是全国最大的<仪表>企业。",)
    notice = "已删除 1 句无法被资料证实的内容。"
    bubble = render.answer_html(
        _answer("丙公司注册资本？", "丙公司 3000万元。[1]", cite, mode="llm", removed_sentences=removed, notice=notice),
        1,
    )
    assert '<details class="yiju-removed"><summary>查看被删除的 1 句</summary>' in bubble
    assert "<li>丙公司是全国最大的&lt;仪表&gt;企业。</li>" in bubble and notice in bubble
    assert "yiju-removed" not in render.answer_html(_answer("q", "丙公司 3000万元。[1]", cite), 1)


def test_an_english_question_gets_its_notices_in_english(company: tuple[Document, list[Passage]]) -> None:
    from qa.assistant import ENGLISH_NOTICE

    _, passages = company
    cite = (_citation(_passage(passages, "丙公司"), "3000万元"),)
    question = "What is the registered capital of company Bing?"
    bubble = render.answer_html(_answer(question, "丙公司 3000万元。[1]", cite, notice=ENGLISH_NOTICE), 1)
    assert "English questions can only be matched" in bubble and "英文问题" not in bubble

    refused = render.answer_html(
        _answer(
            question,
            REFUSAL_TEXT,
            (),
            refused=True,
            notice="资料中没有与该英文问题足够相关的内容。英文问题只能按语义比对，改用中文提问往往能找到答案。",
        ),
        2,
    )
    assert "The documents available cannot answer this question." in refused
    assert "asking in Chinese often finds the answer" in refused and "The closest passages" in refused
    assert render.notice_in_english("401 Unauthorized。已改用离线抽取式回答。").startswith(
        "The LLM could not be used (401"
    )
    assert render.notice_in_english("资料没有提到：甲") == "Note (in Chinese): 资料没有提到：甲"
    chinese = render.answer_html(_answer("丙公司注册资本？", "丙公司 3000万元。[1]", cite, notice=ENGLISH_NOTICE), 1)
    assert ENGLISH_NOTICE in chinese
    assert render.is_english("How many SMEs are there in China?") and not render.is_english("中小企业有多少户？GDP")


def test_the_upload_board_names_each_stage_with_its_counts_and_a_bar() -> None:
    from ui.services import FileStatus

    board = [
        FileStatus("scan.pdf", "ocr", 2, 5),
        FileStatus("a.txt", "embedding", 128, 300),
        FileStatus("b.txt", "sentences", 40, 90),
        FileStatus("d.txt", "reader_sentences", 7, 90),
        FileStatus("c.txt", "failed", message="不支持的文件类型 .exe"),
    ]
    html = render.upload_board(board)
    assert "识别页面（OCR）2/5 页" in html and "向量化段落 128/300" in html and "向量化句子 40/90" in html
    assert "向量化句子（阅读模型）7/90" in html
    assert html.count("<progress") == 4 and '<progress max="90" value="40">' in html
    assert "失败：不支持的文件类型 .exe" in html
