"""The real app (``python app.py`` in a subprocess, fresh data dir) driven in
Debian's chromium: answer with a clickable citation and the original text,
refusal styling, bad input, feedback, upload-then-ask, the LLM connection
test against the scripted OpenAI-protocol server, and ``/ask`` through
``gradio_client``. Saves ``docs/screenshot.png``."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import launch_chromium
from tests.support.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "我国中小微企业有多少户？"
UNANSWERABLE = "2022年全国个体工商户有多少户？"
FINAL = "#yiju-chat .yiju-answer:not(.yiju-pending), #yiju-chat .yiju-error"
START_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RunningApp:
    def __init__(self, url: str, data_dir: Path, log: Path) -> None:
        self.url, self.data_dir, self.log = url, data_dir, log


@contextlib.contextmanager
def running_app(data: Path, log: Path, **extra_env: str) -> Iterator[RunningApp]:
    """``python app.py`` on a free port with ``data`` as its data dir, stopped afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIJU_", "OPENAI_", "GRADIO_"))}
    env.update(
        YIJU_DATA_DIR=str(data),
        YIJU_MODEL_CACHE_DIR=str(ROOT / ".cache" / "models"),
        YIJU_SEED_DIR=str(ROOT / "seeds"),
        GRADIO_SERVER_NAME="127.0.0.1",
        GRADIO_SERVER_PORT=str(port),
        GRADIO_ANALYTICS_ENABLED="False",
        PYTHONUNBUFFERED="1",
        **extra_env,
    )
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_up(url, proc, log)
        yield RunningApp(url, data, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    data = tmp_path_factory.mktemp("e2e-data")
    with running_app(data, data / "app.log") as running:
        yield running


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"app.py did not come up in {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, app: RunningApp) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN", device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#yiju-question textarea")
    yield page
    context.close()


def ask(page: Any, question: str) -> Any:
    """Type ``question``, send it, wait for the final bubble; returns that bubble."""
    done = page.locator(FINAL).count()
    box = page.locator("#yiju-question textarea")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[FINAL, done], timeout=120_000
    )
    return page.locator(FINAL).nth(done)


def choose_files(page: Any, files: list[Path]) -> None:
    """Choose ``files`` in the documents tab's upload box and wait until it lists them all."""
    page.get_by_role("tab", name="文档库").click()
    page.locator("#yiju-upload input[type=file]").set_input_files([str(f) for f in files])
    page.wait_for_function(
        "(names) => names.every(n => document.querySelector('#yiju-upload').innerText.includes(n))",
        arg=[f.stem for f in files],
    )


def upload(page: Any, files: list[Path], timeout_ms: int = 120_000) -> str:
    """Choose ``files``, press 入库 and wait for it to finish; returns the status shown."""
    choose_files(page, files)
    page.locator("#yiju-ingest").click()
    page.wait_for_selector("#yiju-ingest-status .yiju-status-ok", timeout=timeout_ms)
    return page.locator("#yiju-ingest-status").inner_text()


# -- the tests ---------------------------------------------------------------------------------


def test_first_start_ingested_the_seeds(app: RunningApp) -> None:
    text = app.log.read_text("utf-8")
    assert "首次启动：索引" in text and "入库完成：1 个文档" in text


def click_example(page: Any, text: str, tries: int = 4) -> None:
    """Click a start-screen example until the chat takes it up.

    A click that lands before the frontend has bound its handlers is lost
    without a trace, so one that shows no pending bubble is repeated."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    taken = f"{FINAL}, #yiju-chat .yiju-pending"
    for _ in range(tries):
        page.locator("#yiju-chat").get_by_text(text).first.click()
        try:
            page.wait_for_selector(taken, timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the example {text!r} was clicked {tries} times and never taken up")


def test_answer_citation_click_and_original_text(page: Any) -> None:
    click_example(page, QUESTION)
    page.wait_for_selector(FINAL, timeout=240_000)
    bubble = page.locator(FINAL).first

    assert "5200万" in bubble.inner_text() and "抽取式（离线）" in bubble.inner_text()
    link = bubble.locator("a.yiju-cite").first
    assert link.inner_text() == "[1]"
    link.click()
    card = page.locator("#yiju-c-1-1")
    page.wait_for_function("() => document.querySelector('#yiju-c-1-1').classList.contains('yiju-active')")
    assert card.is_visible() and "5200万" in card.locator(".yiju-passage mark.yiju-quote").inner_text()
    assert "第2段" in card.inner_text() and "000_90d63b1abeeeb38e.txt" in card.inner_text()

    card.locator("details.yiju-source > summary").click()
    context = card.locator(".yiju-doc .yiju-ctx")
    context.wait_for(state="visible")
    assert "5200万" in context.inner_text()
    assert card.locator(".yiju-doc").evaluate("d => d.scrollTop > 0 && d.scrollHeight > d.clientHeight")
    page.wait_for_timeout(600)  # let the smooth scroll settle before the picture
    (ROOT / "docs").mkdir(exist_ok=True)
    page.screenshot(path=str(ROOT / "docs" / "screenshot.png"))


def test_refusal_is_styled_as_a_refusal_with_closest_passages(page: Any) -> None:
    bubble = ask(page, UNANSWERABLE)

    assert "yiju-refused" in (bubble.get_attribute("class") or "")
    assert "资料不足 · 未作回答" in bubble.inner_text() and "无法回答" in bubble.inner_text()
    assert bubble.locator("a.yiju-cite").count() == 0
    section = page.locator("#yiju-t-1")
    assert "可能相关的段落（不足以回答）" in section.inner_text()
    assert section.locator(".yiju-card-weak").count() == 3
    colour = bubble.evaluate("b => getComputedStyle(b).borderLeftColor")
    assert colour == "rgb(217, 119, 6)"  # the amber refusal bar, not the answer style


def test_an_english_question_is_answered_with_a_note_on_its_weaker_check(page: Any) -> None:
    bubble = ask(page, "How many individual businesses were registered in China by the end of September 2023?")

    assert "1.22亿" in bubble.inner_text() and bubble.locator("a.yiju-cite").count() >= 1
    assert "English questions can only be matched to the Chinese documents" in bubble.locator(".yiju-note").inner_text()


def test_bad_input_gets_a_chinese_message_and_no_injection(page: Any) -> None:
    page.locator("#yiju-send").click()
    page.wait_for_selector("#yiju-question-hint .yiju-status-warn")
    assert "请先输入问题" in page.locator("#yiju-question-hint").inner_text()
    assert page.locator("#yiju-chat .yiju-error, #yiju-chat .yiju-q").count() == 0  # no bubble for it

    bubble = ask(page, '<img src=x onerror="window.__pwned=true"><script>window.__pwned=true</script>' + QUESTION)
    assert "用时" in bubble.inner_text()  # answered or refused like any question
    assert page.locator("#yiju-chat img[src=x], #yiju-sources img").count() == 0
    assert page.evaluate("() => window.__pwned === undefined")
    assert "<img src=x" in page.locator("#yiju-chat").inner_text()  # shown as text

    bubble = ask(page, "问" * 20000)
    assert "问题过长" in bubble.inner_text()
    assert "5200万" in ask(page, QUESTION).inner_text()  # the session goes on


def test_a_question_sent_while_answering_is_answered_next(page: Any) -> None:
    box = page.locator("#yiju-question textarea")
    box.fill(QUESTION)
    box.press("Enter")
    # The first answer may come from the answer cache before "pending" is ever painted: wait for either.
    page.wait_for_function(
        "([s]) => document.querySelector('#yiju-chat .yiju-pending') || document.querySelectorAll(s).length >= 1",
        arg=[FINAL],
        timeout=120_000,
    )
    box.fill(UNANSWERABLE)
    box.press("Enter")
    page.wait_for_function("([s]) => document.querySelectorAll(s).length === 2", arg=[FINAL], timeout=120_000)

    first, second = page.locator(FINAL).all()
    assert "5200万" in first.inner_text() and "资料不足" in second.inner_text()
    assert page.locator("#yiju-chat .yiju-q").all_inner_texts() == [QUESTION, UNANSWERABLE]


def stored_feedback(app: RunningApp) -> list[dict[str, Any]]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(app.data_dir / "yiju.db")) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM feedback ORDER BY id")]


def test_feedback_on_the_first_of_two_answers_is_stored_for_the_first(page: Any, app: RunningApp) -> None:
    before = len(stored_feedback(app))
    ask(page, QUESTION)
    ask(page, UNANSWERABLE)
    page.locator("#yiju-comment textarea, #yiju-comment input").first.fill("回答准确，引用清楚")
    page.locator('#yiju-chat button[aria-label="赞"]').first.click()  # under the first answer, not the latest
    page.wait_for_selector("#yiju-feedback-status .yiju-status-ok")
    assert "第 1 问" in page.locator("#yiju-feedback-status").inner_text()

    rows = stored_feedback(app)[before:]
    assert len(rows) == 1
    row = rows[0]
    assert row["rating"] == "up" and row["comment"] == "回答准确，引用清楚" and row["turn"] == 1
    assert row["question"] == QUESTION and "5200万" in row["answer"] and json.loads(row["citations"])
    assert row["mode"] == "extractive" and row["conversation_id"]  # the conversation the answer is in

    page.locator('#yiju-chat button[aria-label="踩"]').nth(1).click()  # the second answer, the refusal
    page.wait_for_function("() => document.querySelector('#yiju-feedback-status').innerText.includes('第 2 问')")
    rows = stored_feedback(app)[before:]
    assert [(r["turn"], r["rating"], r["question"]) for r in rows] == [(1, "up", QUESTION), (2, "down", UNANSWERABLE)]

    page.get_by_role("tab", name="反馈").click()
    page.locator("#yiju-fb-filter").get_by_text("👎 有问题").click()
    page.wait_for_function("() => !document.querySelector('#yiju-fb-list').innerText.includes('👍 有帮助')")
    assert UNANSWERABLE in page.locator("#yiju-fb-list").inner_text()
    page.locator("#yiju-fb-filter").get_by_text("全部").click()
    page.wait_for_function("() => document.querySelector('#yiju-fb-list').innerText.includes('回答准确，引用清楚')")
    item = page.locator("#yiju-fb-list li.yiju-fb-item", has_text="回答准确，引用清楚")
    item.locator("details.yiju-fb-sources > summary").click()
    assert "5200万" in item.locator(".yiju-passage mark").first.inner_text()

    with page.expect_download() as download:
        page.locator("#yiju-fb-csv").click()
        page.locator("#yiju-fb-file a").first.click()
    text = Path(download.value.path()).read_text("utf-8-sig")
    assert "回答准确，引用清楚" in text and QUESTION in text


def test_a_conversation_survives_a_reload_and_a_restart(page: Any, app: RunningApp, browser: Any) -> None:
    ask(page, QUESTION)
    conversations = page.locator("#yiju-convs")
    conversations.get_by_text(QUESTION).wait_for()
    page.get_by_role("tab", name="设置").click()
    top_k = page.locator("#yiju-top-k input[type=number]")
    top_k.fill("8")
    top_k.press("Enter")
    page.wait_for_timeout(500)  # the change reaches the browser storage
    page.get_by_role("tab", name="问答").click()

    page.reload(wait_until="domcontentloaded")
    page.wait_for_function("([s]) => document.querySelectorAll(s).length === 1", arg=[FINAL])
    assert "5200万" in page.locator(FINAL).first.inner_text()
    assert page.locator("#yiju-chat .yiju-q").all_inner_texts() == [QUESTION]
    assert "5200万" in page.locator("#yiju-sources #yiju-t-1").inner_text()
    assert conversations.locator("input:checked").count() == 1
    page.get_by_role("tab", name="设置").click()
    assert page.locator("#yiju-top-k input[type=number]").input_value() == "8"
    page.get_by_role("tab", name="问答").click()

    second = ask(page, UNANSWERABLE)  # the restored conversation goes on, numbered after the first answer
    assert "资料不足" in second.inner_text()
    page.locator("#yiju-sources #yiju-t-2").wait_for()
    page.locator("#yiju-conv-name input, #yiju-conv-name textarea").first.fill("企业户数")
    page.locator("#yiju-rename").click()
    conversations.get_by_text("企业户数").wait_for()

    page.locator("#yiju-new").click()
    page.wait_for_function("() => !document.querySelector('#yiju-chat .yiju-answer')")
    conversations.get_by_text("企业户数").click()
    page.wait_for_function("([s]) => document.querySelectorAll(s).length === 2", arg=[FINAL])

    # A restart of the app on another port: the browser's storage moves along, the database stays.
    storage = page.context.storage_state()
    with running_app(app.data_dir, app.data_dir / "restart.log") as restarted:
        for origin in storage["origins"]:
            origin["origin"] = restarted.url.rstrip("/")
        context = browser.new_context(locale="zh-CN", viewport={"width": 1440, "height": 900}, storage_state=storage)
        again = context.new_page()
        again.set_default_timeout(60_000)
        again.goto(restarted.url, wait_until="domcontentloaded")
        again.wait_for_function("([s]) => document.querySelectorAll(s).length === 2", arg=[FINAL])
        assert again.locator("#yiju-chat .yiju-q").all_inner_texts() == [QUESTION, UNANSWERABLE]
        assert again.locator("#yiju-convs").get_by_text("企业户数").count() == 1

        again.locator("#yiju-delete-conv").click()  # asks first; cancelling keeps the conversation
        again.locator("#yiju-conv-no").click()
        again.get_by_text("已取消，对话没有删除。").wait_for()
        assert again.locator("#yiju-convs").get_by_text("企业户数").count() == 1
        assert again.locator("#yiju-chat .yiju-answer").count() == 2
        again.locator("#yiju-delete-conv").click()
        again.locator("#yiju-conv-yes").click()
        again.get_by_text("已删除这个对话。").wait_for()
        assert again.locator("#yiju-convs").get_by_text("企业户数").count() == 0
        assert again.locator("#yiju-chat .yiju-answer").count() == 0
        context.close()


def test_upload_a_file_ask_about_it_then_remove_it(page: Any, tmp_path: Path) -> None:
    doc = tmp_path / "星河仪表简介.txt"
    doc.write_text(
        "# 星河仪表科技有限公司简介\n\n星河仪表科技有限公司成立于2019年，注册资本为8600万元，主要生产超声波流量计。\n",
        encoding="utf-8",
    )
    tool = tmp_path / "工具.exe"
    tool.write_bytes(b"MZ\x90\x00")
    status = upload(page, [doc, tool])
    assert "星河仪表简介.txt：已入库" in status and "工具.exe：不支持的文件类型 .exe" in status
    assert "星河仪表科技有限公司简介" in page.locator("#yiju-docs").inner_text()

    page.get_by_role("tab", name="问答").click()
    bubble = ask(page, "星河仪表科技有限公司的注册资本是多少？")
    assert "8600万元" in bubble.inner_text() and bubble.locator("a.yiju-cite").count() >= 1

    page.get_by_role("tab", name="文档库").click()
    page.locator("#yiju-doc-choice input").click()
    page.get_by_role("option", name="星河仪表科技有限公司简介（星河仪表简介.txt）").click()
    page.locator("#yiju-remove").click()  # asks first; 取消 keeps the document
    page.locator("#yiju-remove-question").get_by_text("确定删除《星河仪表科技有限公司简介》").wait_for()
    page.locator("#yiju-remove-no").click()
    page.wait_for_selector("#yiju-remove-status .yiju-status-ok")
    assert "文档没有删除" in page.locator("#yiju-remove-status").inner_text()
    assert "星河仪表科技有限公司简介" in page.locator("#yiju-docs").inner_text()
    assert not page.locator("#yiju-remove-yes").is_visible()
    page.locator("#yiju-remove").click()
    page.locator("#yiju-remove-yes").click()
    page.wait_for_function(
        "() => document.querySelector('#yiju-remove-status').innerText.includes('已删除《星河仪表科技有限公司简介》')"
    )
    assert "星河" not in page.locator("#yiju-docs").inner_text()
    page.get_by_role("tab", name="问答").click()
    assert "资料不足" in ask(page, "星河仪表科技有限公司的注册资本是多少？").inner_text()


OWN_LATIN = {  # the page's own bilingual labels, and the suffixes it lists
    *[
        "Yiju",
        "grounded",
        "answers",
        "from",
        "your",
        "documents",
        "Sources",
        "Base",
        "URL",
        "Model",
        "API",
        "Key",
        "Temperature",
        "top_k",
        "LLM",
    ],
    *["OpenAI", "JSONL", "CSV", "OCR"],
    *[
        "txt",
        "md",
        "markdown",
        "docx",
        "pdf",
        "html",
        "htm",
        "png",
        "jpg",
        "jpeg",
        "tif",
        "tiff",
        "webp",
        "pptx",
        "xlsx",
        "csv",
    ],
}


def test_gradio_texts_are_chinese_in_an_english_browser(browser: Any, app: RunningApp) -> None:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    page = context.new_page()
    page.goto(app.url, wait_until="domcontentloaded")
    page.wait_for_selector("#yiju-question textarea")
    try:
        for tab in ("问答", "文档库", "设置", "反馈"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(500)
            text = page.locator("body").inner_text()
            names = page.evaluate("() => document.querySelector('#yiju-docs')?.innerText || ''")  # its file names
            latin = set(re.findall(r"[A-Za-z][A-Za-z_]{2,}", text)) - set(re.findall(r"[A-Za-z_]+", names))
            assert latin <= OWN_LATIN, (tab, sorted(latin - OWN_LATIN))
            if tab == "文档库":
                assert "将文件拖放到此处" in text and "Drop File Here" not in text
    finally:
        context.close()


def test_an_upload_shows_each_files_progress_moving_before_it_finishes(page: Any, tmp_path: Path) -> None:
    long_doc = tmp_path / "园区企业名录.txt"
    rows = (
        f"第{i}号企业位于园区{i % 17 + 1}号楼，主营业务为第{i * 7 % 23 + 1}类精密零件加工，员工{i * 3 + 20}人。"
        for i in range(400)
    )
    long_doc.write_text("# 园区企业名录\n\n" + "\n\n".join(rows), encoding="utf-8")
    choose_files(page, [long_doc])
    page.locator("#yiju-ingest").click()
    # Part-way: the file's row shows passages embedded so far, as text and as a bar, and no Gradio progress anywhere.
    page.wait_for_function(
        """() => { const bar = document.querySelector('#yiju-ingest-status table.yiju-files progress');
                   return bar && bar.value > 0 && bar.value < bar.max; }""",
        timeout=120_000,
    )
    row = page.locator("#yiju-ingest-status tr.yiju-file-embedding").inner_text()
    assert "园区企业名录.txt" in row and re.search(r"向量化段落 \d+/\d+", row)
    assert page.locator(".progress-text, .eta-bar, .progress-level").count() == 0
    assert "queue" not in page.locator("body").inner_text()
    page.wait_for_selector("#yiju-ingest-status .yiju-status-ok", timeout=240_000)
    assert "园区企业名录.txt：已入库" in page.locator("#yiju-ingest-status").inner_text()


def test_the_layout_keeps_its_widths_after_an_answer_and_a_chosen_file(page: Any, tmp_path: Path) -> None:
    def width(selector: str) -> float:
        return page.locator(selector).bounding_box()["width"]

    chat, sources = width("#yiju-chat"), width("#yiju-sources")
    ask(page, QUESTION)
    assert (width("#yiju-chat"), width("#yiju-sources")) == (chat, sources)

    page.get_by_role("tab", name="文档库").click()
    upload = width("#yiju-upload")
    named = tmp_path / ("一份文件名特别长的" * 6 + "通知.txt")
    named.write_text("# 通知\n\n内容。", encoding="utf-8")
    choose_files(page, [named])
    assert width("#yiju-upload") == upload and width("#yiju-docs") == upload
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_connection_test_reports_success_and_failure(page: Any) -> None:
    with ScriptedOpenAIServer(api_key="sk-e2e-test-key-1234") as server:
        page.get_by_role("tab", name="设置").click()
        page.locator("#yiju-base-url textarea, #yiju-base-url input").first.fill(server.base_url)
        page.locator("#yiju-model textarea, #yiju-model input").first.fill("test-model")
        key = page.locator("#yiju-api-key input").first
        key.fill("sk-e2e-test-key-1234")
        page.locator("#yiju-test").click()
        page.wait_for_selector("#yiju-test-status .yiju-status-ok")
        assert "连接成功" in page.locator("#yiju-test-status").inner_text()

        key.fill("sk-wrong-key-0000")
        page.locator("#yiju-test").click()
        page.wait_for_selector("#yiju-test-status .yiju-status-error")
        assert "API 密钥无效" in page.locator("#yiju-test-status").inner_text()


def test_llm_answer_streams_into_the_chat_and_clear_resets(page: Any) -> None:
    with ScriptedOpenAIServer(api_key="sk-e2e-test-key-1234") as server:
        server.reply("我国中小微企业数量已超过5200万户。[1]")
        page.get_by_role("tab", name="设置").click()
        page.get_by_text("OpenAI 兼容接口（LLM）").click()
        page.locator("#yiju-base-url textarea, #yiju-base-url input").first.fill(server.base_url)
        page.locator("#yiju-model textarea, #yiju-model input").first.fill("test-model")
        page.locator("#yiju-api-key input").first.fill("sk-e2e-test-key-1234")
        page.get_by_role("tab", name="问答").click()
        bubble = ask(page, QUESTION)

        assert "LLM · test-model" in bubble.inner_text() and "5200万" in bubble.inner_text()
        assert bubble.locator("a.yiju-cite").count() == 1
        assert server.chat_requests[-1].get("stream") is True
    assert "sk-e2e-test-key-1234" not in page.locator("#yiju-chat").inner_text()

    page.locator("#yiju-new").click()
    page.wait_for_function("() => !document.querySelector('#yiju-chat .yiju-answer')")
    assert "点击回答中的" in page.locator("#yiju-sources").inner_text()


def test_ask_endpoint_of_the_running_app(app: RunningApp) -> None:
    from gradio_client import Client

    record = Client(app.url, verbose=False).predict(QUESTION, api_name="/ask")
    assert record["refused"] is False and "5200万" in record["answer"] and record["citations"]


def test_login_is_required_when_configured(app: RunningApp, browser: Any) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AuthenticationError

    log = app.data_dir / "auth.log"
    with running_app(app.data_dir, log, YIJU_AUTH_USER="staff", YIJU_AUTH_PASSWORD="s3cret-pass") as guarded:
        context = browser.new_context(locale="zh-CN")
        page = context.new_page()
        page.goto(guarded.url)
        page.locator("input[type=password]").fill("s3cret-pass")
        page.locator("input[type=text]").first.fill("staff")
        page.locator("input[type=password]").press("Enter")
        page.wait_for_selector("#yiju-question textarea", timeout=60_000)
        context.close()
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(guarded.url, verbose=False)
        record = Client(guarded.url, auth=("staff", "s3cret-pass"), verbose=False).predict(QUESTION, api_name="/ask")
        assert "5200万" in record["answer"]
    assert "首次启动" not in log.read_text("utf-8")  # the index was there already


def test_half_configured_login_stops_the_app_with_a_chinese_message(app: RunningApp) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("YIJU_", "GRADIO_"))}
    env.update(YIJU_DATA_DIR=str(app.data_dir), YIJU_AUTH_USER="staff")
    done = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "YIJU_AUTH_USER 与 YIJU_AUTH_PASSWORD 需要同时设置" in done.stderr


SCANNED_NEWS = [
    "青禾县2025年共发放稻谷种植补贴1.38亿元，惠及农户4.6万户，补贴资金已于九月底前全部拨付到位。",
    "县农业农村局介绍，今年新建高标准农田12.5万亩，配套建设灌溉泵站36座，粮食总产量预计增长百分之四。",
    "在农机购置方面，全县累计补贴各类农机2100台套，带动农户投入资金约9000万元，机收率提高到百分之九十二。",
    "下一步，青禾县将继续加大对种粮农民的支持力度，推动稻谷加工企业与合作社签订订单，稳定农民收入预期。",
]


def test_a_scanned_newspaper_page_is_cited_with_its_lines_marked_on_the_page(page: Any, tmp_path: Path) -> None:
    from tests.support.scans import print_page, save

    scan = save(print_page("青禾县稻谷种植补贴全部拨付到位", SCANNED_NEWS, columns=2), tmp_path / "县报扫描.pdf")
    assert "县报扫描.pdf：已入库" in upload(page, [scan], timeout_ms=180_000)

    page.get_by_role("tab", name="问答").click()
    bubble = ask(page, "青禾县2025年发放了多少稻谷种植补贴？")
    assert "1.38亿元" in bubble.inner_text()
    bubble.locator("a.yiju-cite").first.click()
    card = page.locator(".yiju-card.yiju-active")
    card.wait_for(state="visible")
    assert "第1页" in card.inner_text() and "OCR 识别" in card.inner_text() and "县报扫描.pdf" in card.inner_text()
    card.locator("details.yiju-page > summary").click()
    image = card.locator(".yiju-page-view img")
    image.wait_for(state="visible")
    page.wait_for_function(
        "() => document.querySelector('.yiju-card.yiju-active .yiju-page-view img').naturalWidth > 0"
    )
    boxes = card.locator(".yiju-page-box")
    assert boxes.count() >= 1
    frame, first = image.bounding_box(), boxes.first.bounding_box()
    assert frame and first and first["width"] > 0 and first["height"] > 0
    # the cited line is the first paragraph's: on the left column's upper part of the page
    assert frame["x"] <= first["x"] < frame["x"] + frame["width"] / 2
    assert frame["y"] < first["y"] < frame["y"] + frame["height"] / 2


def _pick_kb(page: Any, name: str) -> None:
    """Type ``name`` into the knowledge-base picker (a new name is allowed) and commit it."""
    box = page.locator("#yiju-kb input")
    box.click()
    box.fill(name)
    box.press("Enter")
    page.locator("#yiju-question textarea").click()  # blur commits a custom value too
    page.wait_for_function("(n) => document.querySelector('#yiju-kb input').value === n", arg=name)


def test_a_new_knowledge_base_is_picked_filled_asked_and_kept_apart(page: Any, tmp_path: Path) -> None:
    doc = tmp_path / "丁公司工厂.txt"
    doc.write_text("# 丁公司新建智能工厂\n\n丁公司宣布在成都新建一座智能工厂，总投资八十亿元。\n", encoding="utf-8")
    _pick_kb(page, "factory")
    page.get_by_role("tab", name="文档库").click()
    page.wait_for_function("() => !document.querySelector('#yiju-docs').innerText.includes('中小企业')")
    upload(page, [doc])
    assert "丁公司新建智能工厂" in page.locator("#yiju-docs").inner_text()

    page.get_by_role("tab", name="问答").click()
    page.locator("#yiju-only input").click()
    assert page.get_by_role("option").all_inner_texts() == ["丁公司新建智能工厂（丁公司工厂.txt）"]
    page.keyboard.press("Escape")
    bubble = ask(page, "丁公司的智能工厂总投资多少？")
    assert "八十亿元" in bubble.inner_text() and bubble.locator("a.yiju-cite").count() >= 1

    _pick_kb(page, "default")
    assert "资料不足" in ask(page, "丁公司的智能工厂总投资多少？").inner_text()
    assert "5200万" in ask(page, QUESTION).inner_text()
    page.get_by_role("tab", name="文档库").click()
    docs = page.locator("#yiju-docs").inner_text()
    assert "丁公司" not in docs and "中小企业" in docs

    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector("#yiju-question textarea")
    page.locator("#yiju-kb input").click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[role=option]')].some(o => o.innerText.trim() === 'factory')"
    )
