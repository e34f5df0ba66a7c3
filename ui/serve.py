"""Serving the app: the Gradio page in Chinese whatever the browser's language, and a page that says what is
being prepared while the model and the first index are built (before the app itself can answer).

Gradio picks the language of its own texts (``Drop File Here``, ``queue:``, ``Loading``) from
``navigator.language``, read before any ``head`` script of the app runs; so the page is served with a small
script in front of Gradio's that reports Chinese.
"""

from __future__ import annotations

import html
import http.server
import logging
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CHINESE_FIRST = (
    b"<script>(()=>{const zh=['zh-CN','zh'];"
    b"Object.defineProperty(Navigator.prototype,'language',{get:()=>zh[0],configurable:true});"
    b"Object.defineProperty(Navigator.prototype,'languages',{get:()=>zh,configurable:true});})();</script>"
)


class ChinesePage:
    """ASGI middleware: HTML pages get ``CHINESE_FIRST`` as the first thing in their ``<head>``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def rewrite(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if not headers.get(b"content-type", b"").startswith(b"text/html"):
                    await send(message)
                    return
                start = message  # held until the body is complete, so its length can change
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = with_chinese_first(b"".join(chunks))
            headers = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, rewrite)


def with_chinese_first(page: bytes) -> bytes:
    """``page`` with the language script right after ``<head>`` and ``lang="zh-CN"`` (unchanged without a head)."""
    at = page.find(b"<head>")
    if at < 0:
        return page
    page = page[: at + 6] + CHINESE_FIRST + page[at + 6 :]
    return page.replace(b'<html lang="en"', b'<html lang="zh-CN"', 1)


# -- while the app is being prepared ------------------------------------------------------------

_STARTING = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="3"><title>依据 · 正在准备</title>
<style>body{{font-family:"Noto Sans CJK SC","PingFang SC","Microsoft YaHei",sans-serif;max-width:640px;
margin:80px auto;padding:0 20px;color:#1f2937;line-height:1.7}}h1{{font-size:22px}}
.step{{padding:10px 14px;border-left:3px solid #2563eb;background:#eff6ff;border-radius:4px}}
.hint{{color:#6b7280;font-size:14px}}</style></head><body><h1>依据 · 有据可查的文档问答</h1>
<p class="step">{step}</p><p class="hint">准备完成后本页会自动打开问答界面（每 3 秒刷新一次）。</p></body></html>"""


class StartingPage:
    """A plain page on the app's address saying what is being prepared; answers 503 so that checks waiting
    for the app keep waiting. ``with StartingPage(host, port) as page: page.say("…")``; if the address
    cannot be bound the app simply starts without it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.step = "正在启动……"
        self._server: http.server.ThreadingHTTPServer | None = None

    def say(self, step: str) -> None:
        self.step = step

    def __enter__(self) -> StartingPage:
        page = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = _STARTING.format(step=html.escape(page.step)).encode("utf-8")
                self.send_response(503)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Retry-After", "3")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        try:
            self._server = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        except OSError as exc:
            log.warning("准备期间的提示页无法在 %s:%s 上启动：%s", self.host, self.port, exc)
            return self
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="starting-page", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
