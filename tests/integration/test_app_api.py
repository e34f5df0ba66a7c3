"""The app without a browser: the ``/ask`` API through ``gradio_client`` on a
real server, and the UI's handlers (chat loop, uploads, removal, feedback,
connection test) against a real index built with the real e5 model. LLM
calls go to the real scripted OpenAI-protocol server on 127.0.0.1."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.errors import ConfigError, YijuError
from core.settings import Settings
from core.text import normalize
from core.types import REFUSAL_TEXT, Answer
from qa.assistant import Assistant
from qa.feedback import FeedbackStore
from tests.support.openai_server import ScriptedOpenAIServer
from ui import render
from ui.chat import GENERIC_ERROR, ChatSession, give_feedback, respond
from ui.services import FileStatus, Preferences, Services, ensure_index

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "我国中小微企业有多少户？"
UNANSWERABLE = "2022年全国个体工商户有多少户？"
FAKE_KEY = "sk-yiju-UI-TEST-93b1f0c4d2"
RECORD_KEYS = set(Answer("", "", True, (), (), "extractive", 0.0).to_record())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, model_settings: Settings, embedder) -> tuple[Services, list[str]]:  # type: ignore[no-untyped-def]
    """A fresh data dir seeded the way the app seeds itself on first start."""
    data = tmp_path_factory.mktemp("app-data")
    settings = model_settings.replace(data_dir=data, index_dir=data / "index", seed_dir=ROOT / "seeds")
    echoed: list[str] = []
    ensure_index(settings, embedder, echoed.append)
    ensure_index(settings, embedder, echoed.append)  # second start: index exists, nothing to do
    services = Services(settings, Assistant(settings, embedder))
    return services, echoed


@pytest.fixture(scope="module")
def services(built: tuple[Services, list[str]]) -> Services:
    return built[0]


@pytest.fixture(scope="module")
def url(services: Services) -> Iterator[str]:
    from ui.assets import CSS, HEAD, theme
    from ui.blocks import build_demo

    demo = build_demo(services)
    demo.queue(default_concurrency_limit=2)
    port = free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        theme=theme(),
        css=CSS,
        head=HEAD,
    )
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(api_key=FAKE_KEY) as srv:
        yield srv


def final(
    updates: Iterator[tuple[list[dict[str, str]], str | None, ChatSession]],
) -> tuple[list[str], str, ChatSession]:
    bubbles: list[str] = []
    panel, session = "", ChatSession()
    for messages, new_panel, state in updates:
        bubbles.append(messages[-1]["content"])
        panel = new_panel if new_panel is not None else panel
        session = state
    return bubbles, panel, session


def chat(
    services: Services, session: ChatSession, question: str, prefs: Preferences
) -> tuple[list[str], str, ChatSession]:
    """What the UI does on 发送: add the question, then answer what is waiting."""
    session.add(question)
    return final(respond(services, session, prefs))


# -- start-up and the /ask API ------------------------------------------------------------


def test_first_start_ingests_the_seeds_once(built: tuple[Services, list[str]]) -> None:
    services, echoed = built
    assert echoed[0].startswith("首次启动：索引") and "入库完成：1 个文档" in echoed[-1]
    assert any("向量化" in line and "个段落" in line for line in echoed)
    assert any("向量化" in line and "个句子" in line for line in echoed)  # the sentence vectors, named as such
    assert sum(line.startswith("首次启动") for line in echoed) == 1
    assert [e.name for e in services.document_entries()] == ["000_90d63b1abeeeb38e.txt"]


def test_ask_endpoint_returns_the_answer_record(url: str) -> None:
    from gradio_client import Client

    record = Client(url, verbose=False).predict(QUESTION, api_name="/ask")

    assert set(record) == RECORD_KEYS
    assert record["refused"] is False and "5200万" in record["answer"]
    assert record["citations"] and "5200万" in record["citations"][0]["quote"]
    assert record["mode"] == "extractive" and record["latency_ms"] > 0


def test_ask_endpoint_refuses_and_rejects_bad_input_in_chinese(url: str) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False)
    refusal = client.predict(UNANSWERABLE, api_name="/ask")
    assert refusal["refused"] is True and refusal["answer"] == REFUSAL_TEXT and refusal["citations"] == []

    with pytest.raises(AppError, match="问题为空"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="问题过长"):
        client.predict("问" * 20000, api_name="/ask")


def test_several_users_at_once_are_queued_not_crashed(url: str) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    jobs = [client.submit(q, api_name="/ask") for q in [QUESTION, UNANSWERABLE] * 3]
    records = [job.result(timeout=180) for job in jobs]

    assert [r["refused"] for r in records] == [False, True] * 3
    assert all("5200万" in r["answer"] for r in records[::2])


def test_only_the_apps_own_load_event_writes_the_chat_session(services: Services) -> None:
    """A second writer at page load (Gradio's own, for a callable State default) raced the restored conversation."""
    import gradio as gr

    from ui.blocks import build_demo

    demo = build_demo(services)
    states = [b._id for b in demo.blocks.values() if type(b) is gr.State]
    writers = [
        dep
        for dep in demo.config["dependencies"]
        if any(event == "load" for _, event in dep["targets"]) and set(dep["outputs"]) & set(states)
    ]
    assert len(states) == 1 and len(writers) == 1
    assert writers[0]["queue"] is False  # done before a first question can be sent


# -- the chat loop -------------------------------------------------------------------------


def test_chat_answers_with_linked_citations_and_a_sources_panel(services: Services) -> None:
    bubbles, panel, session = chat(services, ChatSession(), QUESTION, Preferences())

    assert "正在检索资料" in bubbles[0]
    assert "5200万" in bubbles[-1] and 'href="#yiju-c-1-1"' in bubbles[-1]
    assert "抽取式（离线） · 用时" in bubbles[-1]
    assert 'id="yiju-c-1-1"' in panel and '<mark class="yiju-quote">' in panel and "查看原文" in panel
    assert session.history() == [(QUESTION, session.turns[0].answer.text)]  # type: ignore[union-attr]


def test_questions_sent_while_answering_wait_their_turn(services: Services) -> None:
    session = ChatSession()
    session.add(QUESTION)
    first = respond(services, session, Preferences())
    next(first)  # the first request now holds the session and is answering
    session.add(UNANSWERABLE)  # ...when a second question arrives
    second = list(respond(services, session, Preferences()))

    assert len(second) == 1 and session.turns[1].waiting  # the second request leaves it to the first
    list(first)
    assert [t.answer is not None and t.answer.refused for t in session.turns] == [False, True]
    assert "5200万" in session.turns[0].answer.text  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "请输入一个问题"),
        ("   \n ", "请输入一个问题"),
        ("\x00\x01\x1b\u200b", "请输入一个问题"),
        ("问" * 20000, "问题过长"),
    ],
)
def test_bad_input_gets_a_chinese_message_and_the_session_goes_on(
    services: Services, question: str, message: str
) -> None:
    bubbles, _, session = chat(services, ChatSession(), question, Preferences())
    assert "yiju-error" in bubbles[-1] and message in bubbles[-1] and "Traceback" not in bubbles[-1]

    bubbles, panel, session = chat(services, session, QUESTION, Preferences())
    assert "5200万" in bubbles[-1] and 'id="yiju-c-2-1"' in panel


def test_html_in_a_question_is_shown_as_text(services: Services) -> None:
    question = "<script>alert('x')</script><img src=x onerror=alert(1)>我国中小微企业有多少户？"
    _, panel, session = chat(services, ChatSession(), question, Preferences())
    shown = "".join(m["content"] for m in session.messages()) + panel
    assert "<script" not in shown and "<img" not in shown and "&lt;script&gt;" in shown


def test_strictness_and_top_k_from_the_settings_panel_apply(services: Services) -> None:
    loose = chat(services, ChatSession(), QUESTION, Preferences(top_k=2, strictness=0.0))[2]
    answer = loose.turns[0].answer
    assert answer is not None and len(answer.retrieved) == 2
    strict = chat(services, ChatSession(), QUESTION, Preferences(top_k=8, strictness=1.0))[2]
    answer = strict.turns[0].answer
    assert answer is not None and len(answer.retrieved) == 8


def test_unexpected_errors_are_logged_without_the_key_and_shown_generically(
    services: Services, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"index exploded while using {FAKE_KEY}")

    monkeypatch.setattr(services.assistant.retriever, "search", broken)
    with caplog.at_level(logging.ERROR):
        bubbles, _, session = chat(services, ChatSession(), QUESTION, Preferences(api_key=FAKE_KEY))

    assert GENERIC_ERROR in bubbles[-1] and "RuntimeError" not in bubbles[-1]
    assert "RuntimeError: index exploded" in caplog.text and FAKE_KEY not in caplog.text
    monkeypatch.undo()
    assert "5200万" in chat(services, session, QUESTION, Preferences())[0][-1]


# -- LLM mode, connection test and feedback --------------------------------------------------


def test_llm_answer_streams_then_is_verified_and_feedback_never_holds_the_key(
    services: Services, server: ScriptedOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    retrieved = services.assistant.retriever.search(normalize(QUESTION), k=services.settings.top_k)
    n = next(i for i, s in enumerate(retrieved, start=1) if "5200万" in s.passage.text)
    server.reply(f"我国中小微企业数量已超过5200万户。[{n}]")
    prefs = Preferences(use_llm=True, base_url=server.base_url, model="test-model", api_key=FAKE_KEY)

    with caplog.at_level(logging.DEBUG):
        bubbles, panel, session = chat(services, ChatSession(), QUESTION, prefs)
        saved, status = give_feedback(services, session, 1, "down", "引用对，但想要更详细的说明")

    assert any("生成中" in b for b in bubbles[1:-1])  # streamed before verification
    assert "LLM · test-model" in bubbles[-1] and 'href="#yiju-c-1-1"' in bubbles[-1]
    assert "5200万户" in panel
    assert saved and "已记录" in status
    db = services.settings.history_path
    saved = "".join(f.read_bytes().decode("utf-8", "replace") for f in db.parent.glob(db.name + "*"))  # with -wal
    record = services.history.feedback()[0]
    assert record["rating"] == "down" and record["comment"] == "引用对，但想要更详细的说明"
    assert record["question"] == QUESTION and "5200万" in record["answer"] and record["citations"]
    assert record["mode"] == "llm" and record["model"] == "test-model"
    assert FAKE_KEY not in saved and FAKE_KEY not in caplog.text
    assert FAKE_KEY not in "".join(m["content"] for m in session.messages())


def test_llm_failure_falls_back_and_says_why(services: Services, server: ScriptedOpenAIServer) -> None:
    prefs = Preferences(use_llm=True, base_url=server.base_url, model="test-model", api_key="sk-wrong-key-000")
    bubbles, _, _ = chat(services, ChatSession(), QUESTION, prefs)
    assert "5200万" in bubbles[-1] and "抽取式（离线）" in bubbles[-1] and "401" in bubbles[-1]
    # The person at the settings page is pointed to its field, not to the server's environment variables.
    assert "“设置”页的 API 密钥" in bubbles[-1]
    assert "YIJU_" not in bubbles[-1] and "OPENAI_API_KEY" not in bubbles[-1]


@pytest.mark.parametrize(
    ("prefs", "message"),
    [
        (Preferences(use_llm=True, base_url=" "), "已选择用 LLM 回答，但没有填写接口地址"),
        (Preferences(top_k=0), "设置无效（检索段落数："),
        (Preferences(strictness=3.0), "设置无效（拒答严格度："),
    ],
)
def test_unusable_settings_are_explained_in_the_chat(services: Services, prefs: Preferences, message: str) -> None:
    bubbles, _, session = chat(services, ChatSession(), QUESTION, prefs)
    assert "yiju-error" in bubbles[-1] and message in bubbles[-1]
    assert "5200万" in chat(services, session, QUESTION, Preferences())[0][-1]


def test_connection_test_reports_success_or_the_exact_failure(services: Services, server: ScriptedOpenAIServer) -> None:
    ok = services.check_connection(Preferences(base_url=server.base_url, model="test-model", api_key=FAKE_KEY))
    assert ok.startswith("连接成功") and "test-model" in ok

    failures = {
        "API 密钥无效": Preferences(base_url=server.base_url, model="m", api_key="sk-wrong-key-000"),
        "无法连接到 LLM 服务": Preferences(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m"),
        "请先填写接口地址": Preferences(base_url="  ", model="m"),
        "必须是以 http:// 或 https:// 开头": Preferences(base_url="ftp://example/v1", model="m"),
    }
    for expected, prefs in failures.items():
        with pytest.raises(YijuError, match=expected) as failure:
            services.check_connection(prefs)
        assert "YIJU_" not in str(failure.value) and "OPENAI_API_KEY" not in str(failure.value)


def test_the_servers_key_is_only_sent_to_the_servers_endpoint(services: Services, server: ScriptedOpenAIServer) -> None:
    configured = Services(
        services.settings.replace(llm_base_url=server.base_url, llm_api_key=FAKE_KEY),
        services.assistant,
        services.history,
    )
    assert configured.check_connection(Preferences(base_url=server.base_url, model="m")).startswith("连接成功")

    with ScriptedOpenAIServer(api_key=FAKE_KEY) as elsewhere:  # accepts exactly the server's key, were it sent
        with pytest.raises(YijuError, match="API 密钥无效"):
            configured.check_connection(Preferences(base_url=elsewhere.base_url, model="m"))
        assert [r["_auth_ok"] for r in elsewhere.requests] == [False]


def test_feedback_without_an_answer_says_so(services: Services) -> None:
    saved, status = give_feedback(services, ChatSession(), None, "up", "")
    assert not saved and "还没有可以评价的回答" in status


def test_feedback_lines_from_many_threads_stay_whole(tmp_path: Path, services: Services) -> None:
    answer = services.assistant.ask(QUESTION)
    store = FeedbackStore(tmp_path / "fb" / "feedback.jsonl")
    threads = [
        threading.Thread(target=lambda i=i: [store.add("up", answer, f"评论{i}-{j}\x00") for j in range(25)])
        for i in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = store.read()
    assert len(rows) == 200 and len({r["comment"] for r in rows}) == 200
    assert all("\x00" not in r["comment"] and r["citations"] for r in rows)


# -- documents: upload, ask, remove ----------------------------------------------------------


def test_upload_then_ask_then_remove(services: Services, tmp_path: Path) -> None:
    upload = tmp_path / "upload.txt"
    upload.write_text(
        "# 星河仪表科技有限公司简介\n\n星河仪表科技有限公司成立于2019年，注册资本为8600万元，主要生产超声波流量计。\n",
        encoding="utf-8",
    )
    lines = services.add_files([(upload, "../../etc/星河<公司>\x07简介.txt")])

    assert [kind for kind, _ in lines] == ["ok"] and "已入库" in lines[0][1]
    entry = next(e for e in services.document_entries() if "星河" in e.title)
    stored = Path(entry.path)
    assert stored.is_file() and services.settings.uploads_dir.resolve() in stored.parents
    assert stored.name == "星河_公司_简介.txt"
    assert services.add_files([(upload, "星河<公司>简介.txt")])[0][0] == "warn"  # same file again

    bubbles, _, _ = chat(services, ChatSession(), "星河仪表科技有限公司的注册资本是多少？", Preferences())
    assert "8600万元" in bubbles[-1]

    removed = services.remove_document(entry.doc_id)
    assert removed.doc_id == entry.doc_id and not stored.exists()
    assert entry.doc_id not in {e.doc_id for e in services.document_entries()}
    bubbles, _, _ = chat(services, ChatSession(), "星河仪表科技有限公司的注册资本是多少？", Preferences())
    assert "资料不足" in bubbles[-1]


def test_uploads_that_cannot_be_used_are_reported_per_file(services: Services, tmp_path: Path) -> None:
    small = services.settings.replace(max_upload_mb=0.001)
    strict = Services(small, services.assistant, services.history)
    big = tmp_path / "big.txt"
    big.write_text("很长的内容。" * 1000, encoding="utf-8")
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    before = {e.doc_id for e in services.document_entries()}

    lines = strict.add_files([(big, "big.txt")]) + services.add_files(
        [(exe, "tool.exe"), (binary, "binary.txt"), (empty, "empty.md")]
    )

    assert [kind for kind, _ in lines] == ["error"] * 4
    messages = [m for _, m in lines]
    assert "big.txt：文件过大" in messages[0] and "上限为 0.001 MB" in messages[0]
    assert "tool.exe：不支持的文件类型 .exe" in messages[1]
    assert messages[2].startswith("binary.txt：") and "二进制" in messages[2]
    assert "empty.md：文件是空的" in messages[3]
    assert {e.doc_id for e in services.document_entries()} == before
    leftovers = [p for p in services.settings.uploads_dir.rglob("*") if p.is_file() and "binary" in p.name]
    assert leftovers == []


def test_the_last_document_cannot_be_removed(services: Services) -> None:
    [entry] = services.document_entries()
    with pytest.raises(ConfigError, match="唯一的文档"):
        services.remove_document(entry.doc_id)
    with pytest.raises(ConfigError, match="已不在文档库中"):
        services.remove_document("no-such-document")


def test_each_uploaded_file_reports_its_stage_and_waits_for_another_upload(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ingest.pipeline

    monkeypatch.setattr(ingest.pipeline, "_PROGRESS_STEP", 8)  # 40 passages: five reports
    story = tmp_path / "story.txt"
    story.write_text(
        "# 青禾农机合作社简介\n\n"
        + "\n\n".join(f"青禾农机合作社第{i}号仓库存放播种机{i * 3}台。" for i in range(1, 41)),
        encoding="utf-8",
    )
    tool = tmp_path / "tool.exe"
    tool.write_bytes(b"MZ\x90\x00")
    board = [FileStatus("story.txt"), FileStatus("tool.exe")]
    seen: list[tuple[str, int, int]] = []

    def watch() -> None:  # what the page would poll
        while not finished.is_set():
            first = board[0]
            seen.append((first.state, first.done, first.total))
            time.sleep(0.005)

    finished = threading.Event()
    watcher = threading.Thread(target=watch)
    services._ingest_lock.acquire()  # another upload is being ingested
    worker = threading.Thread(
        target=lambda: services.add_files([(story, "story.txt"), (tool, "tool.exe")], statuses=board)
    )
    watcher.start()
    worker.start()
    time.sleep(1.0)
    assert board[0].state == "waiting" and board[1].state == "failed" and ".exe" in board[1].message
    services._ingest_lock.release()
    worker.join(timeout=300)
    finished.set()
    watcher.join()
    seen.append((board[0].state, board[0].done, board[0].total))  # the last look, after the upload returned

    assert board[0].state == "done" and "个段落" in board[0].message
    states = [s for s, _, _ in seen]
    assert states.index("waiting") < states.index("parsing") < states.index("embedding") < states.index("done")
    # Then the passages' sentences, stored for answering (40 passages of one sentence each).
    assert states.index("embedding") < states.index("sentences") < states.index("done")
    assert ("sentences", 40, 40) in seen
    assert any(state == "embedding" and 0 < done < total for state, done, total in seen)  # moved before the end
    html = render.upload_board(board)
    assert "story.txt" in html and "已入库（40 个段落" in html and "失败：不支持的文件类型 .exe" in html
