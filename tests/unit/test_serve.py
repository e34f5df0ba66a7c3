"""The page shown while the app is prepared, and the script that makes Gradio's own texts Chinese."""

from __future__ import annotations

import asyncio
import socket
import urllib.error
import urllib.request
from typing import Any

from ui.serve import CHINESE_FIRST, ChinesePage, StartingPage, with_chinese_first


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def test_the_starting_page_says_the_current_step_and_answers_503() -> None:
    port = _free_port()
    with StartingPage("127.0.0.1", port) as page:
        page.say("正在准备向量模型（首次约 1–2 分钟）：第 2/3 步 <onnx>")
        status, body = _get(f"http://127.0.0.1:{port}/")
        assert status == 503  # anything waiting for the app keeps waiting
        assert "第 2/3 步 &lt;onnx&gt;" in body and 'http-equiv="refresh"' in body and 'lang="zh-CN"' in body
        page.say("首次启动：向量化 10/46 个段落")
        assert "向量化 10/46 个段落" in _get(f"http://127.0.0.1:{port}/anything")[1]
    with socket.socket() as sock:  # the address is free again for the app itself
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))


def test_a_busy_address_does_not_stop_the_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with StartingPage("127.0.0.1", taken.getsockname()[1]) as page:
            page.say("正在加载向量模型……")  # no page, no error


def test_the_language_script_comes_before_everything_in_the_head() -> None:
    page = b'<!doctype html><html lang="en"><head><script type="module" src="./assets/index.js"></script></head>'
    out = with_chinese_first(page)
    assert out.index(CHINESE_FIRST) < out.index(b"./assets/index.js")
    assert b'<html lang="zh-CN">' in out
    assert with_chinese_first(b'{"not": "a page"}') == b'{"not": "a page"}'


def _through_middleware(content_type: bytes, chunks: list[bytes]) -> tuple[dict[bytes, bytes], bytes]:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        length = str(sum(len(c) for c in chunks)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", content_type), (b"content-length", length)],
            }
        )
        for i, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    scope = {"type": "http", "method": "GET", "path": "/"}
    asyncio.run(ChinesePage(app)(scope, receive, send))
    headers = dict(sent[0]["headers"])
    return headers, b"".join(m.get("body", b"") for m in sent[1:])


def test_the_middleware_rewrites_html_pages_only_and_keeps_the_length_right() -> None:
    headers, body = _through_middleware(
        b"text/html; charset=utf-8", [b"<html><head>", b"<title>t</title></head></html>"]
    )
    assert body.startswith(b"<html><head>" + CHINESE_FIRST) and int(headers[b"content-length"]) == len(body)

    data = b'{"head": "<head>"}'
    headers, body = _through_middleware(b"application/json", [data])
    assert body == data and headers[b"content-length"] == str(len(data)).encode()
