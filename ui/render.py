"""HTML for the chat bubbles, the "引用来源" panel and the documents table.

Every piece of text that comes from a document or a user goes through
``esc`` (``html.escape`` after dropping control characters); markup is only
ever added around escaped text. Citation cards get ids
``yiju-c-<turn>-<n>`` that the ``[n]`` links in the chat point at (see
``ui.assets.HEAD`` for the click handler).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from core.types import REFUSAL_TEXT, Answer, Citation, Document, Passage, ScoredPassage
from ingest.index import DocumentEntry
from ui.page_view import page_view_html

if TYPE_CHECKING:
    from ui.services import FileStatus

MAX_CONTEXT_CHARS = 8000  # "查看原文" shows the article, or this much of it around the passage
MAX_QUESTION_SHOWN = 500
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff]")
_MARKER = re.compile(r"\[(\d{1,3})\]")


def esc(text: str) -> str:
    return html.escape(_CONTROL.sub("", text or ""), quote=True)


def visible(text: str) -> str:
    """``text`` without control characters and surrounding blanks: empty means nothing to show."""
    return _CONTROL.sub("", text or "").strip()


def cite_id(turn: int, n: int) -> str:
    return f"yiju-c-{turn}-{n}"


def mode_label(answer: Answer) -> str:
    return f"LLM · {answer.model}" if answer.mode == "llm" else "抽取式（离线）"


def seconds(latency_ms: float) -> str:
    return f"用时 {latency_ms / 1000:.1f} 秒"


# -- chat bubbles -------------------------------------------------------------------


def question_html(question: str) -> str:
    text = _CONTROL.sub("", question or "")
    if len(text) > MAX_QUESTION_SHOWN:
        text = f"{text[:MAX_QUESTION_SHOWN]}…（共 {len(question)} 字）"
    return f'<div class="yiju-q">{_lines(esc(text))}</div>'


def link_citations(escaped: str, turn: int, numbers: Iterable[int]) -> str:
    """Turn ``[n]`` markers (for cited ``n`` only) into links to the matching card."""
    known = set(numbers)

    def link(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in known:
            return match.group(0)
        return f'<a class="yiju-cite" href="#{cite_id(turn, n)}" title="查看引用 {n} 的原文">[{n}]</a>'

    return _MARKER.sub(link, escaped)


def answer_html(answer: Answer, turn: int) -> str:
    """The assistant bubble for a final answer or refusal."""
    meta = f"{esc(mode_label(answer))} · {seconds(answer.latency_ms)}"
    english = is_english(answer.question)
    notes = []
    if answer.standalone_question:
        notes.append(
            f"Understood as “{esc(answer.standalone_question)}”."
            if english
            else f"按“{esc(answer.standalone_question)}”理解这个追问。"
        )
    if answer.notice:
        notes.append(esc(notice_in_english(answer.notice) if english else answer.notice))
    if answer.refused:
        notes.append(
            "The closest passages are listed on the right, but they are not enough to answer this question."
            if english
            else "右侧列出了最接近的段落，但它们不足以回答这个问题。"
        )
        badge = '<div class="yiju-badge">资料不足 · 未作回答</div>'
        text = ENGLISH_REFUSAL if english and answer.text == REFUSAL_TEXT else answer.text
        body, css = esc(text), "yiju-answer yiju-refused"
    else:
        badge = ""
        body = link_citations(_lines(esc(answer.text)), turn, (c.n for c in answer.citations))
        meta += f" · 依据 {len(answer.citations)} 处原文"
        css = "yiju-answer"
    note_html = "".join(f'<div class="yiju-note">{n}</div>' for n in notes)
    removed = _removed_html(answer.removed_sentences, english)
    return (
        f'<div class="{css}">{badge}<div class="yiju-text">{body}</div>{note_html}{removed}'
        f'<div class="yiju-meta">{meta}</div></div>'
    )


def _removed_html(sentences: Sequence[str], english: bool) -> str:
    """The LLM sentences that verification removed, folded, so a reader can see what was dropped."""
    if not sentences:
        return ""
    label = (
        f"Show the {len(sentences)} removed sentence{'s' if len(sentences) > 1 else ''}"
        if english
        else f"查看被删除的 {len(sentences)} 句"
    )
    items = "".join(f"<li>{esc(x)}</li>" for x in sentences)
    return f'<details class="yiju-removed"><summary>{label}</summary><ol>{items}</ol></details>'


_LATIN = re.compile(r"[A-Za-z]")
_CJK = re.compile(r"[\u3400-\u9fff]")
ENGLISH_REFUSAL = "The documents available cannot answer this question."
_ENGLISH_NOTICES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^英文问题只能按语义和词典译词与中文资料比对"),
        "English questions can only be matched to the Chinese documents by meaning and dictionary translations, "
        "so the check is less strict than for Chinese questions: please see whether the cited text really answers "
        "the question.",
    ),
    (
        re.compile(r"^已删除 (\d+) 句无法被资料证实的内容。$"),
        "Removed {0} sentence(s) the documents could not confirm.",
    ),
    (
        re.compile(r"^LLM 判断资料不足以回答该问题。$"),
        "The LLM judged the documents not enough to answer this question.",
    ),
    (
        re.compile(r"^LLM 的回答没有一句能被所引用的资料证实，已拒答。$"),
        "No sentence of the LLM's answer could be confirmed by the cited documents, so it was withheld.",
    ),
    (
        re.compile(r"^资料中没有与该英文问题足够相关的内容。英文问题只能按语义比对"),
        "The documents hold nothing close enough to this English question. English questions are matched by "
        "meaning only; asking in Chinese often finds the answer.",
    ),
    (
        re.compile(r"^(.*)。英文问题只能按语义比对，改用中文提问往往能找到答案。$", re.S),
        "The documents do not support an answer ({0}). English questions are matched by meaning only; asking in "
        "Chinese often finds the answer.",
    ),
    (re.compile(r"^(.*)已改用离线抽取式回答。$", re.S), "The LLM could not be used ({0}); answered offline instead."),
)


def is_english(question: str) -> bool:
    """A question written mostly in Latin letters (its notices are then shown in English)."""
    latin, cjk = len(_LATIN.findall(question or "")), len(_CJK.findall(question or ""))
    return latin >= 3 and latin > 2 * cjk


def notice_in_english(notice: str) -> str:
    """The English of a known answer notice; details that come only in Chinese are kept in brackets."""
    for pattern, english in _ENGLISH_NOTICES:
        match = pattern.search(notice)
        if match:
            return english.format(*(g.strip("，。 ") for g in match.groups()))
    return f"Note (in Chinese): {notice}"


def partial_html(text: str) -> str:
    """A streaming LLM answer, not yet verified."""
    return (
        '<div class="yiju-answer yiju-pending">'
        f'<div class="yiju-text">{_lines(esc(text))}<span class="yiju-caret">▍</span></div>'
        '<div class="yiju-meta">生成中…（完成后逐句核对引用）</div></div>'
    )


def pending_html() -> str:
    return '<div class="yiju-answer yiju-pending"><div class="yiju-meta">正在检索资料…</div></div>'


def error_html(message: str, tag: str = "提示") -> str:
    return f'<div class="yiju-error"><span class="yiju-error-tag">{esc(tag)}</span>{esc(message)}</div>'


def _lines(escaped: str) -> str:
    return escaped.replace("\n", "<br>")


# -- the 引用来源 panel --------------------------------------------------------------


def highlight(text: str, spans: Sequence[tuple[int, int]], css: str = "yiju-quote") -> str:
    """``text`` escaped, with each ``text[start:end]`` of ``spans`` wrapped in ``<mark>``."""
    out, pos = [], 0
    for start, end in sorted(spans):
        start, end = max(pos, min(start, len(text))), max(0, min(end, len(text)))
        if end <= start:
            continue
        out.append(f'{esc(text[pos:start])}<mark class="{css}">{esc(text[start:end])}</mark>')
        pos = end
    return "".join(out) + esc(text[pos:])


def _article_span(passage: Passage, document: Document) -> tuple[int, int, bool]:
    """The article around ``passage`` in ``document.text``; cut to ``MAX_CONTEXT_CHARS`` (then True)."""
    start, end = 0, len(document.text)
    if 1 <= passage.article <= len(document.articles):
        paragraphs = document.articles[passage.article - 1].paragraphs
        if paragraphs:
            start, end = min(p[0] for p in paragraphs), max(p[1] for p in paragraphs)
    start, end = min(start, passage.start), max(end, passage.end)
    if end - start <= MAX_CONTEXT_CHARS:
        return start, end, False
    room = max(0, MAX_CONTEXT_CHARS - (passage.end - passage.start)) // 2
    return max(start, passage.start - room), min(end, passage.end + room), True


def source_html(passage: Passage, document: Document | None, quote: Sequence[tuple[int, int]]) -> str:
    """The "查看原文" view: the article with the passage (and quote) highlighted in place."""
    if document is None or document.text[passage.start : passage.end] != passage.text:
        return '<div class="yiju-doc-missing">原文已不在文档库中（可能已被删除或重新入库）。</div>'
    start, end, cut = _article_span(passage, document)
    inner = highlight(passage.text, quote)
    before = esc(document.text[start : passage.start])
    after = esc(document.text[passage.end : end])
    if cut:
        before, after = f"（前略）…{before}", f"{after}…（后略）"
    return (
        f'<div class="yiju-doc-head">{esc(document.name)} ·《{esc(passage.title)}》全文</div>'
        f'<div class="yiju-doc" tabindex="0">{before}<span class="yiju-ctx">{inner}</span>{after}</div>'
    )


def _location(p: Passage) -> str:
    part = f"（第{p.part}部分）" if p.part > 1 else ""
    page = f"第{p.page}页 · " if p.page else ""
    return f"{esc(p.doc_name)} · {page}第{p.paragraph}段{part}{_ocr_mark(p)}"


def _ocr_mark(p: Passage) -> str:
    if not p.ocr:
        return ""
    if p.uncertain:
        tip = "此段由 OCR 从扫描页识别，其中有识别把握不大的行，可能有错字；请对照页面图像核对。"
        return f' <span class="yiju-ocr yiju-ocr-low" title="{tip}">OCR 识别 · 部分存疑</span>'
    tip = "此段由 OCR 从扫描页识别，可能有个别错字；可对照页面图像核对。"
    return f' <span class="yiju-ocr" title="{tip}">OCR 识别</span>'


def citation_card(citation: Citation, turn: int, documents: Mapping[str, Document]) -> str:
    p = citation.passage
    quote = citation.highlights
    return (
        f'<div class="yiju-card" id="{cite_id(turn, citation.n)}">'
        f'<div class="yiju-card-head"><span class="yiju-num">[{citation.n}]</span>'
        f'<span class="yiju-title">《{esc(p.title)}》</span></div>'
        f'<div class="yiju-loc">{_location(p)}</div>'
        f'<div class="yiju-passage">{highlight(p.text, quote)}</div>'
        f"{page_view_html(p, documents.get(p.doc_id), quote)}"
        '<details class="yiju-source"><summary>查看原文</summary>'
        f"{source_html(p, documents.get(p.doc_id), quote)}</details></div>"
    )


def related_card(scored: ScoredPassage, rank: int, turn: int, documents: Mapping[str, Document]) -> str:
    p = scored.passage
    return (
        f'<div class="yiju-card yiju-card-weak" id="yiju-r-{turn}-{rank}">'
        f'<div class="yiju-card-head"><span class="yiju-num">相关 {rank}</span>'
        f'<span class="yiju-title">《{esc(p.title)}》</span></div>'
        f'<div class="yiju-loc">{_location(p)}</div>'
        f'<div class="yiju-passage">{esc(p.text)}</div>'
        '<details class="yiju-source"><summary>查看原文</summary>'
        f"{source_html(p, documents.get(p.doc_id), ())}</details></div>"
    )


def turn_section(answer: Answer, turn: int, documents: Mapping[str, Document], *, open_: bool = True) -> str:
    """One answer's sources: its citation cards, or for a refusal the closest passages."""
    if answer.refused:
        cards = "".join(related_card(s, i, turn, documents) for i, s in enumerate(answer.retrieved[:3], start=1))
        body = '<div class="yiju-related-head">可能相关的段落（不足以回答）</div>' + (
            cards or '<div class="yiju-empty">没有检索到相关段落。</div>'
        )
    else:
        body = "".join(citation_card(c, turn, documents) for c in answer.citations)
    question = answer.question if len(answer.question) <= 60 else answer.question[:60] + "…"
    state = " open" if open_ else ""
    kind = " yiju-turn-refused" if answer.refused else ""
    return (
        f'<details class="yiju-turn{kind}" id="yiju-t-{turn}"{state}>'
        f'<summary><span class="yiju-turn-no">第 {turn} 问</span>{esc(question)}</summary>{body}</details>'
    )


EMPTY_PANEL = (
    '<div class="yiju-empty">提问后，这里列出回答所依据的原文段落。<br>'
    "点击回答中的 <b>[1]</b> 等标号可定位到对应段落，点“查看原文”可在全文中核对。</div>"
)


def panel_html(sections: Sequence[str]) -> str:
    """The whole panel: newest answer first."""
    body = "".join(reversed(sections)) if sections else EMPTY_PANEL
    return f'<div class="yiju-panel"><div class="yiju-panel-head">引用来源 <span>Sources</span></div>{body}</div>'


# -- documents ----------------------------------------------------------------------------


def documents_table(entries: Sequence[DocumentEntry]) -> str:
    if not entries:
        return '<div class="yiju-empty">文档库是空的。请在下方上传文档。</div>'
    rows = "".join(
        "<tr>"
        f"<td>{esc(e.title)}</td>"
        f"<td>{esc(e.name)}</td>"
        f'<td class="yiju-num-cell">{e.passages}</td>'
        f"<td>{esc(e.ingested_at)}</td>"
        f'<td class="yiju-id-cell">{esc(e.doc_id[:12])}</td>'
        "</tr>"
        for e in entries
    )
    total = sum(e.passages for e in entries)
    return (
        f'<div class="yiju-docs-summary">共 {len(entries)} 个文档，{total} 个段落。</div>'
        '<table class="yiju-docs"><thead><tr><th>标题</th><th>文件</th><th>段落数</th>'
        f"<th>入库时间</th><th>编号</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def status_html(lines: Sequence[tuple[str, str]]) -> str:
    """A list of (kind, message) lines; kind is ``ok``, ``warn`` or ``error``."""
    items = "".join(f'<li class="yiju-status-{k}">{esc(m)}</li>' for k, m in lines)
    return f'<ul class="yiju-status">{items}</ul>' if items else ""


_FILE_STATES = {
    "queued": "排队中",
    "waiting": "等待中：另一个上传正在入库，完成后自动开始",
    "parsing": "解析文件中",
    "done": "已入库",
    "unchanged": "无需重复入库",
    "failed": "失败",
}

_STAGES = {
    "ocr": "识别页面（OCR）{done}/{total} 页",
    "embedding": "向量化段落 {done}/{total}",
    "sentences": "向量化句子 {done}/{total}",
    "reader_sentences": "向量化句子（阅读模型）{done}/{total}",
}


def upload_board(statuses: Sequence[FileStatus]) -> str:
    """One row per uploaded file (``ui.services.FileStatus``): its stage, with a bar while pages or passages
    are being processed, or its outcome."""
    rows = []
    for s in statuses:
        if s.state in _STAGES and s.total:
            what = _STAGES[s.state].format(done=s.done, total=s.total)
            state = f'{what}<progress max="{s.total}" value="{s.done}"></progress>'
        else:
            state = esc(_FILE_STATES.get(s.state, s.state))
            if s.message:
                state = f"{state}：{esc(s.message)}" if s.state == "failed" else esc(s.message)
        rows.append(f'<tr class="yiju-file-{esc(s.state)}"><td>{esc(s.name)}</td><td>{state}</td></tr>')
    return f'<table class="yiju-files"><tr><th>文件</th><th>状态</th></tr>{"".join(rows)}</table>'


# -- feedback review ----------------------------------------------------------------------


def feedback_html(rows: Sequence[Mapping[str, object]], total: int | None = None) -> str:
    """The review list of stored feedback (newest first), each with its cited sources to open."""
    if not rows:
        return '<div class="yiju-empty">还没有符合条件的反馈。</div>'
    items = []
    for row in rows:
        down = row.get("rating") == "down"
        verdict = '<span class="yiju-fb-down">👎 有问题</span>' if down else '<span class="yiju-fb-up">👍 有帮助</span>'
        mode = "LLM · " + str(row.get("model") or "") if row.get("mode") == "llm" else "抽取式（离线）"
        comment = str(row.get("comment") or "")
        cited = row.get("citations") or []
        cards = "".join(
            '<div class="yiju-card">'
            f'<div class="yiju-card-head"><span class="yiju-num">[{esc(str(c.get("n", "")))}]</span>'
            f'<span class="yiju-title">《{esc(str(c.get("title", "")))}》</span></div>'
            f'<div class="yiju-loc">{esc(str(c.get("doc", "")))}'
            f"{' · 第' + esc(str(c['page'])) + '页' if c.get('page') else ''} · 第{esc(str(c.get('paragraph', '')))}段</div>"
            f'<div class="yiju-passage">{_quoted(str(c.get("text", "")), c.get("spans") or ())}</div></div>'
            for c in cited
            if isinstance(c, Mapping)
        )
        sources = (
            f'<details class="yiju-fb-sources"><summary>引用来源（{len(cited)}）</summary>{cards}</details>'
            if cards
            else '<div class="yiju-hint">没有引用（拒答或出错）。</div>'
        )
        items.append(
            f'<li class="yiju-fb-item{" yiju-fb-item-down" if down else ""}">'
            f'<div class="yiju-fb-head">{verdict}<span class="yiju-meta">{esc(str(row.get("time", "")))} · '
            f"{esc(mode)} · 第 {esc(str(row.get('turn', '')))} 问</span></div>"
            f'<div class="yiju-fb-q">问：{esc(str(row.get("question", "")))}</div>'
            f'<div class="yiju-fb-a">答：{_lines(esc(str(row.get("answer", ""))))}</div>'
            + (f'<div class="yiju-fb-comment">反馈说明：{esc(comment)}</div>' if comment else "")
            + f"{sources}</li>"
        )
    shown = (
        f"共 {total} 条，显示最新的 {len(rows)} 条。"
        if total is not None and total > len(rows)
        else f"共 {len(rows)} 条。"
    )
    return f'<div class="yiju-docs-summary">{shown}</div><ul class="yiju-fb-list">{"".join(items)}</ul>'


def _quoted(text: str, spans: object) -> str:
    pairs = [(int(s[0]), int(s[1])) for s in spans if isinstance(s, list | tuple) and len(s) == 2]  # type: ignore[union-attr]
    return highlight(text, pairs)
