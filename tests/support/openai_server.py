"""A real, scripted OpenAI-compatible HTTP server for tests (standard library only).

It binds ``127.0.0.1`` on a free port and speaks enough of the OpenAI REST protocol
for ``openai`` / ``langchain_openai.ChatOpenAI`` to talk to it over real sockets:

* ``POST /v1/chat/completions`` -- non-streaming (a ``chat.completion`` JSON object)
  and streaming (``"stream": true`` -> ``text/event-stream`` of
  ``chat.completion.chunk`` objects sent with chunked transfer encoding, terminated
  by ``data: [DONE]``; a usage chunk is added when
  ``stream_options.include_usage`` is set);
* ``GET /v1/models`` (and ``GET /v1/models/<id>``).

Usage::

    with ScriptedOpenAIServer() as server:
        server.reply("你好")            # next chat request gets this content
        server.fail("429")              # ...but the one before it gets a 429
        llm = ChatOpenAI(base_url=server.base_url, api_key="sk-test-key", ...)
        llm.invoke("hi")                # with max_retries>=1: 429, then "你好"
        assert server.requests[-1]["messages"][0]["content"] == "hi"

Scripting rules:

* A request whose ``Authorization: Bearer <token>`` differs from ``api_key`` always
  gets a 401 and consumes nothing from the queues.
* Queued failures (``fail``) apply to chat-completion requests before queued replies:
  each of the next ``times`` chat requests gets the failure, FIFO.
* Otherwise the request consumes the oldest ``reply()`` content, or ``default_reply``
  when that queue is empty.
* Failure modes never consume a queued reply, except ``"slow"``, which sleeps first
  and then consumes a reply (so a client retry that arrived during the sleep gets
  the queued reply first).  ``"cut"`` borrows the text of the next queued reply
  (without consuming it) to build its partial stream.

Every request is recorded in ``requests`` (parsed JSON body, ``{}`` for a GET) with
the extra keys ``_method``, ``_path``, ``_headers`` (lower-cased, without
``authorization`` / ``api-key`` / ``cookie``) and ``_auth_ok``.  The bearer token
itself is never stored.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

FAILURE_MODES = frozenset({"401", "429", "500", "503", "slow", "malformed", "cut", "empty"})

_SECRET_HEADERS = frozenset({"authorization", "api-key", "cookie", "proxy-authorization"})

_ERRORS: dict[int, tuple[str, str, str | None]] = {
    # status: (message, type, code) -- shaped like OpenAI's error bodies
    400: (
        "We could not parse the JSON body of your request.",
        "invalid_request_error",
        None,
    ),
    401: (
        ("Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."),
        "invalid_request_error",
        "invalid_api_key",
    ),
    404: ("Unknown request URL.", "invalid_request_error", "unknown_url"),
    429: (
        "Rate limit reached for test-model on requests per min (RPM). Please try again later.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    503: (
        "The engine is currently overloaded, please try again later.",
        "server_error",
        None,
    ),
}


def _estimate_tokens(text: str) -> int:
    """Crude, deterministic token estimate (good enough for usage fields)."""
    return max(1, len(text) // 2) if text else 0


def _messages_text(messages: Any) -> str:
    parts: list[str] = []
    if isinstance(messages, list):
        for message in messages:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return "".join(parts)


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a sleeping "slow" handler never blocks interpreter exit
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, owner: ScriptedOpenAIServer) -> None:
        self.owner = owner
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out / hang up mid-response are expected in these tests.
        return

    def close_all_connections(self) -> None:
        with self.sockets_lock:
            sockets = list(self.open_sockets)
            self.open_sockets.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive + chunked streaming, like the real API
    server_version = "ScriptedOpenAI/1.0"
    sys_version = ""
    timeout = 30  # idle keep-alive connections do not keep a thread forever
    server: _Server

    # -- plumbing ---------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        return

    @property
    def owner(self) -> ScriptedOpenAIServer:
        return self.server.owner

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self._send_raw(status, body, "application/json", headers)

    def _send_raw(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header(
            "Content-Length",
            str(len(body) if content_length is None else content_length),
        )
        self.send_header("x-request-id", f"req_{self.owner._next_id()}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _send_error(self, status: int, headers: dict[str, str] | None = None) -> None:
        message, err_type, code = _ERRORS[status]
        payload = {"error": {"message": message, "type": err_type, "param": None, "code": code}}
        self._send_json(status, payload, headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _record(self, body: dict[str, Any]) -> bool:
        auth = self.headers.get("Authorization", "")
        auth_ok = auth == f"Bearer {self.owner.api_key}"
        entry = dict(body)
        entry["_method"] = self.command
        entry["_path"] = self.path
        entry["_headers"] = {k.lower(): v for k, v in self.headers.items() if k.lower() not in _SECRET_HEADERS}
        entry["_auth_ok"] = auth_ok
        with self.owner._lock:
            self.owner.requests.append(entry)
        return auth_ok

    # -- routes -----------------------------------------------------------------
    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if not self._record({}):
            self._send_error(401)
            return
        if path == "/v1/models":
            self._send_json(
                200,
                {"object": "list", "data": [self._model(m) for m in self.owner.models]},
            )
        elif path.startswith("/v1/models/") and path[len("/v1/models/") :] in self.owner.models:
            self._send_json(200, self._model(path[len("/v1/models/") :]))
        else:
            self._send_error(404)

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        raw = self._read_body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._record({"_raw": raw.decode("utf-8", "replace")})
            self._send_error(400)
            return
        if not self._record(body):
            self._send_error(401)
            return
        if path != "/v1/chat/completions":
            self._send_error(404)
            return
        self._chat(body)

    @staticmethod
    def _model(model_id: str) -> dict[str, Any]:
        return {
            "id": model_id,
            "object": "model",
            "created": 1_700_000_000,
            "owned_by": "yiju-tests",
        }

    # -- chat completions ---------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        owner = self.owner
        stream = bool(body.get("stream"))
        mode = owner._next_failure()

        if mode in {"401", "429", "500", "503"}:
            status = int(mode)
            headers = {"Retry-After": "0"} if status == 429 else None
            self._send_error(status, headers)
            return
        if mode == "malformed":
            self.close_connection = True
            if stream:
                payload = b'data: {"id": "chatcmpl-broken", "object": "chat.completion.chunk", "choices": [\n\n'
                self._send_raw(200, payload, "text/event-stream; charset=utf-8")
            else:
                self._send_raw(
                    200,
                    b'{"id": "chatcmpl-broken", "object": "chat.completion", "choi',
                    "application/json",
                )
            return
        if mode == "cut":
            self._cut(body, stream)
            return
        if mode == "slow":
            if owner._closing.wait(owner.slow_seconds):
                self.close_connection = True
                return  # server is shutting down: just drop the connection
            content = owner._next_reply()
        elif mode == "empty":
            content = ""
        else:
            content = owner._next_reply()

        try:
            if stream:
                self._stream_reply(body, content)
            else:
                self._json_reply(body, content)
        except OSError:
            self.close_connection = True  # client went away (e.g. after its timeout)

    def _usage(self, body: dict[str, Any], content: str) -> dict[str, int]:
        prompt = _estimate_tokens(_messages_text(body.get("messages")))
        completion = _estimate_tokens(content)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    def _json_reply(self, body: dict[str, Any], content: str) -> None:
        payload = {
            "id": f"chatcmpl-{self.owner._next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "system_fingerprint": "fp_scripted",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": content,
                        "refusal": None,
                    },
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": self._usage(body, content),
        }
        self._send_json(200, payload)

    def _chunk(
        self,
        body: dict[str, Any],
        chunk_id: str,
        delta: dict[str, Any],
        finish: str | None,
    ) -> dict[str, Any]:
        return {
            "id": chunk_id,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "system_fingerprint": "fp_scripted",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_{self.owner._next_id()}")
        self.end_headers()
        self.wfile.flush()

    def _write_event(self, data: Any) -> None:
        text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
        payload = f"data: {text}\n\n".encode()
        self.wfile.write(f"{len(payload):X}\r\n".encode("ascii") + payload + b"\r\n")
        self.wfile.flush()

    def _split(self, content: str) -> list[str]:
        size = max(1, self.owner.chunk_size)
        return [content[i : i + size] for i in range(0, len(content), size)]

    def _stream_reply(self, body: dict[str, Any], content: str) -> None:
        chunk_id = f"chatcmpl-{self.owner._next_id()}"
        self._start_stream()
        self._write_event(
            self._chunk(
                body,
                chunk_id,
                {"role": "assistant", "content": "", "refusal": None},
                None,
            )
        )
        for piece in self._split(content):
            self._write_event(self._chunk(body, chunk_id, {"content": piece}, None))
        self._write_event(self._chunk(body, chunk_id, {}, "stop"))
        stream_options = body.get("stream_options") or {}
        if isinstance(stream_options, dict) and stream_options.get("include_usage"):
            usage_chunk = self._chunk(body, chunk_id, {}, None)
            usage_chunk["choices"] = []
            usage_chunk["usage"] = self._usage(body, content)
            self._write_event(usage_chunk)
        self._write_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")  # end of chunked body
        self.wfile.flush()

    def _cut(self, body: dict[str, Any], stream: bool) -> None:
        self.close_connection = True
        content = self.owner._peek_reply()
        try:
            if stream:
                chunk_id = f"chatcmpl-{self.owner._next_id()}"
                self._start_stream()
                self._write_event(self._chunk(body, chunk_id, {"role": "assistant", "content": ""}, None))
                pieces = self._split(content) or [""]
                for piece in (pieces + pieces)[:2]:
                    self._write_event(self._chunk(body, chunk_id, {"content": piece}, None))
                # no finish chunk, no [DONE], no terminating zero-length chunk
            else:
                full = json.dumps({"id": "chatcmpl-cut", "object": "chat.completion", "choices": []}).encode()
                partial = full[: len(full) // 2]
                self._send_raw(200, partial, "application/json", content_length=len(full))
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class ScriptedOpenAIServer:
    """Real HTTP server speaking the OpenAI chat-completions protocol, scripted per request."""

    def __init__(self, api_key: str = "sk-test-key") -> None:
        self.api_key = api_key
        self.default_reply: str = "这是默认的测试回复。"
        self.slow_seconds: float = 5.0
        self.chunk_size: int = 4  # characters per streamed content chunk
        self.models: list[str] = ["test-model"]
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._replies: deque[str] = deque()
        self._failures: deque[str] = deque()
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str = ""

    # -- scripting ----------------------------------------------------------------
    def reply(self, content: str) -> None:
        """Queue a normal reply for the next chat request (FIFO)."""
        with self._lock:
            self._replies.append(content)

    def fail(self, mode: str, *, times: int = 1) -> None:
        """Make the next ``times`` chat requests fail in ``mode`` (see module docstring)."""
        if mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; expected one of {sorted(FAILURE_MODES)}")
        if times < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._failures.extend([mode] * times)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """Recorded requests to ``/v1/chat/completions`` only."""
        with self._lock:
            return [r for r in self.requests if r["_path"].split("?", 1)[0].rstrip("/") == "/v1/chat/completions"]

    @property
    def messages(self) -> list[list[dict[str, Any]]]:
        """The ``messages`` list of each chat request, in order (the prompts sent)."""
        return [r.get("messages", []) for r in self.chat_requests]

    # -- internals used by the handler ---------------------------------------------
    def _next_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def _next_failure(self) -> str | None:
        with self._lock:
            return self._failures.popleft() if self._failures else None

    def _next_reply(self) -> str:
        with self._lock:
            return self._replies.popleft() if self._replies else self.default_reply

    def _peek_reply(self) -> str:
        with self._lock:
            return self._replies[0] if self._replies else self.default_reply

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._closing.clear()
        self._httpd = _Server(self)
        host, port = self._httpd.server_address[:2]
        self.base_url = f"http://{host}:{port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-openai-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._closing.set()  # wakes sleeping "slow" handlers
        httpd.shutdown()
        httpd.server_close()
        httpd.close_all_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
