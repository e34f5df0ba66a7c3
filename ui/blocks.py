"""The Gradio interface: 问答 (chat + 引用来源), 文档库 and 设置 tabs, and the ``/ask`` API.

Handlers here only adapt Gradio values to ``ui.chat`` / ``ui.services`` and
turn errors into Chinese messages; they never let a traceback reach the page.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr  # this module is the Gradio adapter; nothing else imports gradio

from core.errors import YijuError
from ui import render
from ui.chat import GENERIC_ERROR, ChatSession, give_feedback, respond
from ui.history import title_for, to_csv, to_jsonl
from ui.services import FileStatus, Preferences, Services, redact

log = logging.getLogger(__name__)

TITLE = "依据 · 有据可查的文档问答"
EXAMPLES = (
    "我国中小微企业有多少户？",
    "《专利产业化促进中小企业成长计划实施方案》是由哪几个部门联合印发的？",
    "祥符区高端装备制造产业园项目的项目经理是谁？",
    "截至2023年9月底全国个体工商户有多少户？",
)
HEADER = (
    '<div class="yiju-header"><h1>依据<span class="yiju-en">Yiju · grounded answers from your documents</span></h1>'
    "<p>每句回答都标注出处，可点开核对原文；资料里没有的，会直接说明无法回答。</p></div>"
)
PLACEHOLDER = (
    "**向文档库提问**\n\n回答中的 [1]、[2] 是引用标号，点击即可在右侧查看原文段落。\n\n可以试试下面的示例问题："
)
UPLOAD_TYPES = [
    ".txt",
    ".md",
    ".pdf",
    ".docx",
    ".html",
    ".png",
    ".jpg",
    ".jpeg",
    ".tif",
    ".tiff",
    ".webp",
    ".pptx",
    ".xlsx",
    ".csv",
]
UPLOAD_POLL_S = 0.5  # how often the upload table is redrawn while files are ingested
_ARRIVAL = threading.Lock()  # a question and the page's load event may come at once: one at a time
# The settings a browser keeps, by their place in the settings inputs (the API key, third, is never kept).
PREF_FIELDS = {"mode": 0, "base_url": 1, "model": 2, "temperature": 4, "top_k": 5, "strictness": 6, "kb": 7}
FEEDBACK_FILTERS = [("全部", "all"), ("👎 有问题", "down"), ("👍 有帮助", "up")]
FEEDBACK_SHOWN = 200
MODES = [("离线抽取式（不使用 LLM）", "extractive"), ("OpenAI 兼容接口（LLM）", "llm")]


def preferences(
    mode: Any,
    base_url: Any,
    model: Any,
    api_key: Any,
    temperature: Any,
    top_k: Any,
    strictness: Any,
    kb: Any = "",
    doc_ids: Any = (),
) -> Preferences:
    return Preferences(
        kb=str(kb or ""),
        doc_ids=tuple(str(d) for d in (doc_ids or ()) if d),
        use_llm=mode == "llm",
        base_url=base_url or "",
        model=model or "",
        api_key=api_key or "",
        temperature=float(temperature if temperature is not None else 0.0),
        top_k=int(top_k if top_k is not None else 5),
        strictness=float(strictness if strictness is not None else 0.5),
    )


def _failure(services: Services, exc: BaseException, what: str, prefs: Preferences | None = None) -> str:
    """The Chinese message for ``exc``; unexpected ones are logged (keys redacted)."""
    if isinstance(exc, YijuError):
        return redact(str(exc), services.secrets(prefs))
    log.error("%s时出错：\n%s", what, redact(traceback.format_exc(), services.secrets(prefs)))
    return GENERIC_ERROR


def build_demo(services: Services) -> gr.Blocks:
    defaults = Preferences.defaults(services.settings)
    # delete_cache: Gradio's copies of uploaded files are removed after two hours (ours live in uploads_dir).
    with gr.Blocks(title=TITLE, analytics_enabled=False, fill_width=True, delete_cache=(3600, 7200)) as demo:
        # A value, deep-copied per visitor; a callable default would make Gradio add a queued load event of
        # its own that could land after ours and replace the restored conversation with an empty one.
        session = gr.State(ChatSession())
        # What the browser keeps across reloads (encrypted with a secret kept in the database, so it survives
        # restarts): its id, the open conversation, the settings chosen; never the API key.
        stored = gr.BrowserState(
            {"client": "", "conversation": "", "prefs": {}},
            storage_key="yiju",
            secret=services.history.secret("browser"),
        )
        gr.HTML(HEADER)
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                chat = _chat_tab(services)
            with gr.Tab("文档库", id="docs"):
                docs = _docs_tab(services)
            with gr.Tab("设置", id="settings"):
                prefs_inputs, test_btn, test_status = _settings_tab(services, defaults)
            with gr.Tab("反馈", id="feedback") as feedback_tab:
                review = {**_feedback_tab(), "tab": feedback_tab}
        prefs_inputs = [*prefs_inputs, chat["kb"], chat["only"]]
        _wire_chat(services, session, stored, chat, prefs_inputs, demo)
        _wire_docs(services, docs, demo, chat)
        _wire_settings(services, prefs_inputs, test_btn, test_status)
        _wire_feedback(services, review)
        _api(services)
    return demo


# -- layout ------------------------------------------------------------------------------


def _chat_tab(services: Services) -> dict[str, Any]:
    c: dict[str, Any] = {}
    with gr.Row(equal_height=True):
        c["kb"] = gr.Dropdown(
            label="知识库",
            choices=services.knowledge_bases(),
            value=services.settings.kb,
            allow_custom_value=True,
            info="问答与文档库都用所选的知识库；输入新名称并在“文档库”上传文档即可新建。",
            scale=1,
            elem_id="yiju-kb",
        )
        c["only"] = gr.Dropdown(
            label="只问这些文档（可选）",
            choices=_choices(services),
            multiselect=True,
            info="留空则在整个知识库中检索。",
            scale=3,
            elem_id="yiju-only",
        )
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=210, elem_classes="yiju-convs-col"):
            c["new"] = gr.Button("＋ 新对话", size="sm", elem_id="yiju-new")
            c["convs"] = gr.Radio(
                choices=[], value=None, label="对话记录", elem_id="yiju-convs", elem_classes="yiju-convs"
            )
            c["conv_name"] = gr.Textbox(
                label="对话名称",  # hidden, but read by screen readers (Gradio's default is the English "Textbox")
                placeholder="当前对话的新名称",
                container=False,
                show_label=False,
                lines=1,
                elem_id="yiju-conv-name",
            )
            with gr.Row(equal_height=True):
                c["rename"] = gr.Button("重命名", size="sm", min_width=60, elem_id="yiju-rename")
                c["delete_conv"] = gr.Button(
                    "删除对话", size="sm", variant="stop", min_width=60, elem_id="yiju-delete-conv"
                )
            with gr.Row(visible=False, equal_height=True, elem_id="yiju-conv-ask") as c["conv_confirm_row"]:
                c["conv_confirm"] = gr.Button(
                    "确认删除", size="sm", variant="stop", min_width=60, elem_id="yiju-conv-yes"
                )
                c["conv_cancel"] = gr.Button("取消", size="sm", min_width=60, elem_id="yiju-conv-no")
            c["conv_status"] = gr.HTML(elem_id="yiju-conv-status")
        with gr.Column(scale=3, min_width=420):
            c["chatbot"] = gr.Chatbot(
                label="对话",
                show_label=False,
                height=600,
                render_markdown=False,  # bubbles are HTML built from escaped text (ui.render)
                sanitize_html=True,
                allow_tags=False,
                feedback_options=("Like", "Dislike"),  # 👍/👎 under every answer: .like() says which one
                buttons=[],
                placeholder=PLACEHOLDER,
                examples=[{"text": q} for q in EXAMPLES],
                group_consecutive_messages=False,
                elem_id="yiju-chat",
            )
            with gr.Row(equal_height=True):
                c["question"] = gr.Textbox(
                    label="问题",
                    placeholder="输入问题，按回车发送",
                    container=False,
                    show_label=False,
                    lines=1,
                    max_lines=4,
                    scale=8,
                    autofocus=True,
                    elem_id="yiju-question",
                )
                c["send"] = gr.Button("发送", variant="primary", scale=1, min_width=90, elem_id="yiju-send")
            c["hint"] = gr.HTML(elem_id="yiju-question-hint")
            with gr.Row(equal_height=True, elem_classes="yiju-feedback-row"):
                c["comment"] = gr.Textbox(
                    label="反馈说明",
                    placeholder="反馈说明（可选）：写好后点那条回答下方的 👍 或 👎",
                    container=False,
                    show_label=False,
                    lines=1,
                    scale=5,
                    elem_id="yiju-comment",
                )
            c["feedback_status"] = gr.HTML(elem_id="yiju-feedback-status")
        with gr.Column(scale=2, min_width=360):
            c["panel"] = gr.HTML(render.panel_html([]), js_on_load=None, elem_id="yiju-sources", max_height=720)
    return c


def _docs_tab(services: Services) -> dict[str, Any]:
    d: dict[str, Any] = {}
    gr.Markdown("### 已入库的文档")
    d["table"] = gr.HTML(render.documents_table(services.document_entries()), js_on_load=None, elem_id="yiju-docs")
    gr.Markdown(
        f"### 上传新文档\n支持 {' '.join(UPLOAD_TYPES)}，单个文件不超过 {services.settings.max_upload_mb:g} MB。"
        "上传后点“入库”，入库完成即可提问。"
    )
    d["files"] = gr.File(
        label="选择文件（可多选）",
        file_count="multiple",
        type="filepath",  # no file_types: Gradio would reject other types with an English message; we check in Chinese
        elem_id="yiju-upload",
    )
    d["ingest"] = gr.Button("入库", variant="primary", elem_id="yiju-ingest")
    d["ingest_status"] = gr.HTML(elem_id="yiju-ingest-status")
    gr.Markdown("### 删除文档")
    with gr.Row(equal_height=True):
        d["choice"] = gr.Dropdown(
            label="选择要删除的文档", choices=_choices(services), scale=4, elem_id="yiju-doc-choice"
        )
        d["remove"] = gr.Button("删除所选文档", variant="stop", scale=1, elem_id="yiju-remove")
    with gr.Row(visible=False, equal_height=True, elem_id="yiju-remove-ask") as d["confirm_row"]:
        d["confirm_text"] = gr.HTML(elem_id="yiju-remove-question")
        d["confirm"] = gr.Button(
            "确认删除", variant="stop", size="sm", scale=0, min_width=100, elem_id="yiju-remove-yes"
        )
        d["cancel"] = gr.Button("取消", size="sm", scale=0, min_width=80, elem_id="yiju-remove-no")
    d["remove_status"] = gr.HTML(elem_id="yiju-remove-status")
    return d


def _settings_tab(services: Services, defaults: Preferences) -> tuple[list[Any], Any, Any]:
    has_env_key = bool(services.settings.api_key())
    gr.Markdown("### 回答方式\n离线抽取式直接摘录原文句子；LLM 生成的回答会逐句核对引用，无法证实的句子会被删除。")
    mode = gr.Radio(MODES, value="llm" if defaults.use_llm else "extractive", label="回答方式", elem_id="yiju-mode")
    with gr.Row():
        base_url = gr.Textbox(
            label="接口地址 Base URL",
            value=defaults.base_url,
            placeholder="如 https://api.deepseek.com/v1 或 http://localhost:11434/v1",
            elem_id="yiju-base-url",
        )
        model = gr.Textbox(label="模型名称 Model", value=defaults.model, elem_id="yiju-model")
    with gr.Row():
        api_key = gr.Textbox(
            label="API 密钥 API Key",
            type="password",
            placeholder="留空则使用服务器配置的密钥（仅用于服务器配置的接口地址）"
            if has_env_key
            else "本地服务（Ollama、vLLM 等）可留空",
            elem_id="yiju-api-key",
        )
        temperature = gr.Slider(0, 2, value=defaults.temperature, step=0.1, label="温度 Temperature")
    test_btn = gr.Button("测试连接", elem_id="yiju-test")
    test_status = gr.HTML(elem_id="yiju-test-status")
    gr.Markdown("### 检索")
    with gr.Row():
        top_k = gr.Slider(1, 20, value=defaults.top_k, step=1, label="检索段落数 top_k", elem_id="yiju-top-k")
        strictness = gr.Slider(
            0,
            1,
            value=defaults.strictness,
            step=0.05,
            label="拒答严格度（0 宽松，1 严格）",
            info="0.5 为拟合的工作点；再宽松，问题里的数字、年份和名称也须出现在资料中。",
            elem_id="yiju-strictness",
        )
    gr.HTML(
        '<div class="yiju-hint">这些设置保存在本浏览器中，刷新页面后仍然有效；API 密钥除外，它不会被保存，'
        "刷新后需重新填写。API 密钥只用于调用接口，不会写入日志、反馈或对话记录。</div>"
    )
    return [mode, base_url, model, api_key, temperature, top_k, strictness], test_btn, test_status


def _feedback_tab() -> dict[str, Any]:
    r: dict[str, Any] = {}
    gr.Markdown("### 回答反馈\n用户在回答下方点的 👍/👎 和反馈说明；展开“引用来源”可核对回答所依据的原文。")
    with gr.Row(equal_height=True):
        r["filter"] = gr.Radio(
            FEEDBACK_FILTERS, value="all", label="筛选", scale=3, elem_id="yiju-fb-filter", container=False
        )
        r["refresh"] = gr.Button("刷新", size="sm", scale=0, min_width=88, elem_id="yiju-fb-refresh")
        r["jsonl"] = gr.Button("导出 JSONL", size="sm", scale=0, min_width=110, elem_id="yiju-fb-jsonl")
        r["csv"] = gr.Button("导出 CSV", size="sm", scale=0, min_width=100, elem_id="yiju-fb-csv")
    r["file"] = gr.File(label="导出文件（点击下载）", interactive=False, visible=False, elem_id="yiju-fb-file")
    r["list"] = gr.HTML(render.feedback_html([]), elem_id="yiju-fb-list")
    return r


def _choices(services: Services, kb: str | None = None) -> list[tuple[str, str]]:
    return [(f"{e.title}（{e.name}）", e.doc_id) for e in services.document_entries(kb)]


# -- events --------------------------------------------------------------------------------


def _owner(request: gr.Request | None, stored: Any) -> str:
    """Whose conversations these are: the logged-in user, else this browser's id (see ``ui.history``)."""
    name = getattr(request, "username", None) if request is not None else None
    if name:
        return f"user:{name}"
    client = stored.get("client") if isinstance(stored, dict) else None
    return f"browser:{client}" if isinstance(client, str) and client else ""


def _conv_choices(services: Services, owner: str, current: str = "") -> Any:
    try:
        convs = services.history.conversations(owner) if owner else []
    except Exception as exc:
        log.error("读取对话记录失败：%s", exc)
        return gr.skip()
    choices = [(c.title, c.id) for c in convs]
    return gr.Radio(choices=choices, value=current if any(c.id == current for c in convs) else None)


def _wire_chat(
    services: Services, session: Any, stored: Any, c: dict[str, Any], prefs_inputs: list[Any], demo: Any
) -> None:
    def add(question: Any, state: ChatSession, saved: Any, request: gr.Request) -> tuple[Any, ...]:
        saved = dict(saved) if isinstance(saved, dict) else {}
        if not render.visible(question if isinstance(question, str) else ""):
            hint = render.status_html([("warn", "请先输入问题，再按回车或点“发送”。")])
            return gr.skip(), state, gr.skip(), hint, gr.skip(), gr.skip()
        with _ARRIVAL:
            if not state.owner and not saved.get("client"):  # asked before the page's load event ran
                saved["client"] = uuid.uuid4().hex
            state.owner = state.owner or _owner(request, saved)
            convs: Any = gr.skip()
            if not state.conversation_id and state.owner:
                try:
                    state.conversation_id = services.history.create(state.owner, title_for(question)).id
                    convs = _conv_choices(services, state.owner, state.conversation_id)
                except Exception as exc:  # the chat goes on unsaved
                    log.error("保存对话失败：%s", exc)
            saved["conversation"] = state.conversation_id
            state.add(question)
            return state.messages(), state, "", "", convs, saved

    def add_example(state: ChatSession, saved: Any, event: gr.SelectData, request: gr.Request) -> tuple[Any, ...]:
        value = event.value
        return add(value.get("text", "") if isinstance(value, dict) else str(value or ""), state, saved, request)

    def answer(state: ChatSession, *prefs_values: Any) -> Iterator[tuple[Any, ...]]:
        for messages, panel, new_state in respond(services, state, preferences(*prefs_values)):
            yield messages, gr.skip() if panel is None else panel, new_state

    # Step 1 (no queue, instant) records the question and clears the box; step 2 answers what is waiting.
    added = {
        "outputs": [c["chatbot"], session, c["question"], c["hint"], c["convs"], stored],
        "queue": False,
        "api_visibility": "private",
        "show_progress": "hidden",
        "trigger_mode": "multiple",
    }
    answering = {
        "fn": answer,
        "inputs": [session, *prefs_inputs],
        "outputs": [c["chatbot"], c["panel"], session],
        "api_visibility": "private",
        "show_progress": "hidden",
    }
    events = [
        c["question"].submit(add, inputs=[c["question"], session, stored], **added).then(**answering),
        c["send"].click(add, inputs=[c["question"], session, stored], **added).then(**answering),
        c["chatbot"].example_select(add_example, inputs=[session, stored], **added).then(**answering),
    ]
    _wire_history(services, session, stored, c, prefs_inputs, demo, events)


def _wire_history(
    services: Services,
    session: Any,
    stored: Any,
    c: dict[str, Any],
    prefs_inputs: list[Any],
    demo: Any,
    events: list[Any],
) -> None:
    """The conversation list (new, open, rename, delete), and what the browser keeps across reloads."""
    saved_prefs = [prefs_inputs[i] for i in PREF_FIELDS.values()]  # never the API key
    shown = [c["chatbot"], c["panel"], session, c["feedback_status"], c["comment"], c["conv_name"]]

    def view(state: ChatSession, title: str = "") -> tuple[Any, ...]:
        return state.messages(), state.panel(), state, "", "", title

    def opened(owner: str, conversation_id: str) -> tuple[ChatSession, str]:
        conv = services.history.get(owner, conversation_id) if owner and conversation_id else None
        if conv is None:
            return ChatSession(owner=owner), ""
        return ChatSession.restore(services.history.turns(owner, conv.id), conv.id, owner), conv.title

    def load(current: ChatSession, saved: Any, request: gr.Request) -> tuple[Any, ...]:
        saved = dict(saved) if isinstance(saved, dict) else {}
        if not isinstance(saved.get("client"), str) or not saved.get("client"):
            saved["client"] = uuid.uuid4().hex
        owner = _owner(request, saved)
        prefs = saved.get("prefs") if isinstance(saved.get("prefs"), dict) else {}
        values = [prefs.get(name, gr.skip()) for name in PREF_FIELDS]  # type: ignore[union-attr]
        try:
            state, title = opened(owner, str(saved.get("conversation") or ""))
        except Exception as exc:
            log.error("读取对话记录失败：%s", exc)
            state, title = ChatSession(owner=owner), ""
        with _ARRIVAL:  # filled in place: a question sent meanwhile holds the same object
            if current.turns:  # a question sent before the page finished loading: keep that conversation
                if current.owner.startswith("browser:"):
                    saved["client"] = current.owner.removeprefix("browser:")
                current.owner = current.owner or owner
                saved["conversation"] = current.conversation_id
                convs = _conv_choices(services, current.owner, current.conversation_id)
                return (*[gr.skip()] * len(shown), convs, saved, *values)
            current.turns, current.conversation_id, current.owner = state.turns, state.conversation_id, owner
            shown_now = view(current, title)
        saved["conversation"] = current.conversation_id
        return (*shown_now, _conv_choices(services, owner, current.conversation_id), saved, *values)

    demo.load(
        load,
        inputs=[session, stored],
        outputs=[*shown, c["convs"], stored, *saved_prefs],
        api_visibility="private",
        show_progress="hidden",
        queue=False,  # a few SQLite reads: done before a first question can race it
    )

    def remember(saved: Any, *values: Any) -> Any:
        saved = dict(saved) if isinstance(saved, dict) else {}
        saved["prefs"] = {name: value for name, value in zip(PREF_FIELDS, values, strict=True) if value is not None}
        return saved

    gr.on(
        [component.change for component in saved_prefs],
        remember,
        inputs=[stored, *saved_prefs],
        outputs=[stored],
        queue=False,
        api_visibility="private",
        show_progress="hidden",
    )

    def start_new(state: ChatSession, saved: Any, request: gr.Request) -> tuple[Any, ...]:
        saved = dict(saved) if isinstance(saved, dict) else {}
        saved["conversation"] = ""
        fresh = ChatSession(owner=state.owner or _owner(request, saved))
        return (*view(fresh), _conv_choices(services, fresh.owner), saved, "")

    after = [*shown, c["convs"], stored, c["conv_status"]]
    for trigger in (c["new"].click, c["chatbot"].clear):  # our button and the chat's own trash icon
        trigger(start_new, inputs=[session, stored], outputs=after, api_visibility="private", cancels=events)

    def open_conv(conversation_id: Any, state: ChatSession, saved: Any, request: gr.Request) -> tuple[Any, ...]:
        saved = dict(saved) if isinstance(saved, dict) else {}
        owner = state.owner or _owner(request, saved)
        try:
            fresh, title = opened(owner, str(conversation_id or ""))
        except Exception as exc:
            message = render.status_html([("error", _failure(services, exc, "打开对话"))])
            return (*[gr.skip()] * len(shown), gr.skip(), gr.skip(), message)
        if not fresh.conversation_id:
            message = render.status_html([("warn", "这个对话已不存在（可能已在别处删除）。")])
            return (*view(fresh), _conv_choices(services, owner), saved, message)
        saved["conversation"] = fresh.conversation_id
        return (*view(fresh, title), gr.skip(), saved, "")

    c["convs"].input(
        open_conv, inputs=[c["convs"], session, stored], outputs=after, api_visibility="private", cancels=events
    )

    def rename(name: Any, state: ChatSession) -> tuple[Any, ...]:
        if not state.conversation_id:
            return gr.skip(), render.status_html([("warn", "当前对话还没有提问，提问后才会保存，才能重命名。")])
        if not title_for(name if isinstance(name, str) else ""):
            return gr.skip(), render.status_html([("warn", "请先在上面的框里输入新名称。")])
        try:
            done = services.history.rename(state.owner, state.conversation_id, name)
        except Exception as exc:
            return gr.skip(), render.status_html([("error", _failure(services, exc, "重命名对话"))])
        if not done:
            return gr.skip(), render.status_html([("warn", "这个对话已不存在（可能已在别处删除）。")])
        return _conv_choices(services, state.owner, state.conversation_id), render.status_html([("ok", "已重命名。")])

    for trigger in (c["rename"].click, c["conv_name"].submit):
        trigger(
            rename, inputs=[c["conv_name"], session], outputs=[c["convs"], c["conv_status"]], api_visibility="private"
        )

    def delete(state: ChatSession, saved: Any, request: gr.Request) -> tuple[Any, ...]:
        if not state.conversation_id:
            return (*[gr.skip()] * (len(after) - 1), render.status_html([("warn", "当前对话还没有保存，无需删除。")]))
        try:
            services.history.delete(state.owner, state.conversation_id)
        except Exception as exc:
            return (
                *[gr.skip()] * (len(after) - 1),
                render.status_html([("error", _failure(services, exc, "删除对话"))]),
            )
        *rest, _ = start_new(state, saved, request)
        return (*rest, render.status_html([("ok", "已删除这个对话。")]))

    def ask_delete(state: ChatSession) -> tuple[Any, str]:
        if not state.conversation_id:
            return gr.Row(visible=False), render.status_html([("warn", "当前对话还没有保存，无需删除。")])
        question = "确定删除当前对话吗？删除后无法恢复。"
        return gr.Row(visible=True), render.status_html([("warn", question)])

    ask_outputs = [c["conv_confirm_row"], c["conv_status"]]
    c["delete_conv"].click(ask_delete, inputs=[session], outputs=ask_outputs, api_visibility="private", queue=False)
    c["conv_cancel"].click(
        lambda: (gr.Row(visible=False), render.status_html([("ok", "已取消，对话没有删除。")])),
        outputs=ask_outputs,
        api_visibility="private",
        queue=False,
    )
    c["conv_confirm"].click(lambda: gr.Row(visible=False), outputs=[c["conv_confirm_row"]], queue=False).then(
        delete, inputs=[session, stored], outputs=after, api_visibility="private", cancels=events
    )

    def rate(state: ChatSession, comment: Any, event: gr.LikeData) -> tuple[str, Any]:
        turns = state.message_turns()
        index = event.index if isinstance(event.index, int) else -1
        if event.liked not in (True, False):  # a click that takes the thumb back: nothing to store
            return render.status_html([("warn", "已取消选择；之前记录的反馈保留。")]), gr.skip()
        n = turns[index] if 0 <= index < len(turns) else 0
        saved, status = give_feedback(services, state, n, "up" if event.liked else "down", comment)
        return status, "" if saved else gr.skip()  # keep an unsaved comment so it is not lost

    c["chatbot"].like(
        rate,
        inputs=[session, c["comment"]],
        outputs=[c["feedback_status"], c["comment"]],
        api_visibility="private",
        queue=False,
    )


def _wire_docs(services: Services, d: dict[str, Any], demo: Any, chat: dict[str, Any]) -> None:
    def refresh(kb: Any = None) -> tuple[Any, ...]:
        try:
            choices, table = (
                _choices(services, kb or None),
                render.documents_table(services.document_entries(kb or None)),
            )
        except Exception as exc:
            message = render.status_html([("error", _failure(services, exc, "读取文档库"))])
            return message, gr.Dropdown(choices=[], value=None), gr.Dropdown(choices=[], value=[])
        return table, gr.Dropdown(choices=choices, value=None), gr.Dropdown(choices=choices, value=[])

    def kb_choices() -> Any:
        try:
            return gr.Dropdown(choices=services.knowledge_bases())
        except Exception as exc:
            log.warning("列出知识库失败：%s", exc)
            return gr.skip()

    def upload(files: Any, kb: Any) -> Iterator[tuple[Any, ...]]:
        """Ingest in a thread and show each file's stage every half second: one display, no Gradio bar."""
        paths = [Path(f) for f in (files or []) if f]
        if not paths:
            yield render.status_html([("warn", "请先选择要上传的文件。")]), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        board = [FileStatus(p.name) for p in paths]
        outcome: dict[str, Any] = {}

        def work() -> None:
            try:
                outcome["lines"] = services.add_files([(p, p.name) for p in paths], kb=kb or None, statuses=board)
            except Exception as exc:
                outcome["lines"] = [("error", _failure(services, exc, "入库"))]

        worker = threading.Thread(target=work, name="upload", daemon=True)
        worker.start()
        while worker.is_alive():
            yield render.upload_board(board), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            worker.join(UPLOAD_POLL_S)
        table, choice, only = refresh(kb)
        yield render.status_html(outcome["lines"]), table, choice, only, None

    d["ingest"].click(
        upload,
        inputs=[d["files"], chat["kb"]],
        outputs=[d["ingest_status"], d["table"], d["choice"], chat["only"], d["files"]],
        api_visibility="private",
        show_progress="hidden",  # the per-file table is the one progress display
        # Uploads wait for each other inside add_files, saying so in Chinese, not in Gradio's queue.
        concurrency_limit=4,
        concurrency_id="ingest",
    )

    def ask_first(doc_id: Any, kb: Any) -> tuple[Any, ...]:
        if not doc_id:
            return render.status_html([("warn", "请先在下拉框中选择要删除的文档。")]), gr.Row(visible=False), gr.skip()
        try:
            entry = next((e for e in services.document_entries(kb or None) if e.doc_id == doc_id), None)
        except Exception as exc:
            return render.status_html([("error", _failure(services, exc, "读取文档库"))]), gr.Row(visible=False), ""
        if entry is None:
            return render.status_html([("warn", "该文档已不在文档库中，请刷新列表后重试。")]), gr.Row(visible=False), ""
        question = f"确定删除《{entry.title}》（{entry.name}）吗？删除后它的段落不会再被检索到。"
        return "", gr.Row(visible=True), render.status_html([("warn", question)])

    d["remove"].click(
        ask_first,
        inputs=[d["choice"], chat["kb"]],
        outputs=[d["remove_status"], d["confirm_row"], d["confirm_text"]],
        api_visibility="private",
        queue=False,
    )
    d["cancel"].click(
        lambda: (render.status_html([("ok", "已取消，文档没有删除。")]), gr.Row(visible=False)),
        outputs=[d["remove_status"], d["confirm_row"]],
        api_visibility="private",
        queue=False,
    )

    def remove(doc_id: Any, kb: Any) -> tuple[Any, ...]:
        if not doc_id:
            return render.status_html([("warn", "请先在下拉框中选择要删除的文档。")]), gr.skip(), gr.skip(), gr.skip()
        try:
            entry = services.remove_document(str(doc_id), kb=kb or None)
            line = ("ok", f"已删除《{entry.title}》（{entry.name}），它的段落不会再被检索到。")
        except Exception as exc:
            line = ("error", _failure(services, exc, "删除文档"))
        table, choice, only = refresh(kb)
        return render.status_html([line]), table, choice, only

    d["confirm"].click(lambda: gr.Row(visible=False), outputs=[d["confirm_row"]], queue=False).then(
        remove,
        inputs=[d["choice"], chat["kb"]],
        outputs=[d["remove_status"], d["table"], d["choice"], chat["only"]],
        api_visibility="private",
        concurrency_limit=1,
        concurrency_id="ingest",
    )
    docs_outputs = [d["table"], d["choice"], chat["only"]]
    chat["kb"].change(refresh, inputs=[chat["kb"]], outputs=docs_outputs, api_visibility="private")
    demo.load(refresh, inputs=[chat["kb"]], outputs=docs_outputs, api_visibility="private")
    demo.load(kb_choices, outputs=[chat["kb"]], api_visibility="private")


def _wire_settings(services: Services, prefs_inputs: list[Any], test_btn: Any, test_status: Any) -> None:
    def test(*values: Any) -> str:
        prefs = preferences(*values)
        try:
            message = services.check_connection(prefs)
            return render.status_html([("ok", redact(message, services.secrets(prefs)))])
        except Exception as exc:
            return render.status_html([("error", _failure(services, exc, "测试连接", prefs))])

    test_btn.click(test, inputs=prefs_inputs, outputs=test_status, api_visibility="private")


def _wire_feedback(services: Services, r: dict[str, Any]) -> None:
    def rows(choice: Any, limit: int | None = FEEDBACK_SHOWN) -> list[dict[str, Any]]:
        rating = choice if choice in ("up", "down") else None
        return services.history.feedback(rating, limit=limit)  # type: ignore[arg-type]

    def show(choice: Any) -> str:
        try:
            shown = rows(choice)
            total = len(rows(choice, None)) if len(shown) == FEEDBACK_SHOWN else None
            return render.feedback_html(shown, total)
        except Exception as exc:
            return render.status_html([("error", _failure(services, exc, "读取反馈"))])

    def export(kind: str) -> Callable[[Any], tuple[Any, Any]]:
        def handler(choice: Any) -> tuple[Any, Any]:
            try:
                found = rows(choice, None)
                if not found:
                    return gr.File(value=None, visible=False), render.status_html([("warn", "没有可导出的反馈。")])
                folder = Path(tempfile.mkdtemp(prefix="yiju-feedback-"))
                path = folder / f"feedback-{time.strftime('%Y%m%d-%H%M%S')}.{kind}"
                path.write_text(to_jsonl(found) if kind == "jsonl" else to_csv(found), encoding="utf-8")
            except Exception as exc:
                return gr.skip(), render.status_html([("error", _failure(services, exc, "导出反馈"))])
            return gr.File(value=str(path), visible=True), show(choice)

        return handler

    for trigger in (r["filter"].change, r["refresh"].click, r["tab"].select):
        trigger(show, inputs=[r["filter"]], outputs=[r["list"]], api_visibility="private")
    for kind in ("jsonl", "csv"):
        r[kind].click(export(kind), inputs=[r["filter"]], outputs=[r["file"], r["list"]], api_visibility="private")


def _api(services: Services) -> None:
    def ask(question: str) -> dict[str, Any]:
        """Answer one question from the indexed documents; returns the answer record (JSON)."""
        try:
            return services.ask_record(question)
        except Exception as exc:
            raise gr.Error(_failure(services, exc, "API 回答问题")) from None

    gr.api(ask, api_name="ask")
