"""Prove that ScriptedOpenAIServer really speaks the OpenAI chat-completions protocol.

Everything here goes over real sockets, through the real ``openai`` SDK as driven by
``langchain_openai.ChatOpenAI``.  Exceptions observed (langchain-openai 1.7.4,
openai 3.57.0, which uses ``httpx2``):

* wrong key / "401" -> ``langchain_openai.chat_models.base.OpenAIAuthenticationError``
  (subclass of ``openai.AuthenticationError``)
* "429"             -> ``...OpenAIRateLimitError`` (subclass of ``openai.RateLimitError``)
* "500" / "503"     -> ``...OpenAIAPIError`` (subclass of ``openai.InternalServerError``)
* "slow"            -> ``...OpenAITimeoutError`` (subclass of ``openai.APITimeoutError``,
  caused by ``httpx2.ReadTimeout``)
* "cut"             -> ``...OpenAIConnectionError`` (subclass of ``openai.APIConnectionError``,
  caused by ``httpx2.RemoteProtocolError``), both streaming and non-streaming
* "malformed"       -> plain ``json.JSONDecodeError`` (not wrapped), both modes
"""

from __future__ import annotations

import json
import time
import urllib.request

import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.support.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.integration

API_KEY = "sk-test-key"


def make_llm(server: ScriptedOpenAIServer, **overrides: object) -> ChatOpenAI:
    kwargs: dict[str, object] = {
        "base_url": server.base_url,
        "api_key": API_KEY,
        "model": "test-model",
        "max_retries": 0,
        "timeout": 2,
    }
    kwargs.update(overrides)
    return ChatOpenAI(**kwargs)  # type: ignore[arg-type]


def cause_names(exc: BaseException) -> list[str]:
    names: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        names.append(type(current).__name__)
        current = current.__cause__ or current.__context__
    return names


@pytest.fixture
def server():
    with ScriptedOpenAIServer(api_key=API_KEY) as srv:
        yield srv


def test_invoke_returns_scripted_text_and_records_prompt(
    server: ScriptedOpenAIServer,
) -> None:
    server.reply("你好，我是测试助手。")
    message = make_llm(server).invoke([("system", "你是易居助手。"), ("human", "租房押金怎么退？")])

    assert message.content == "你好，我是测试助手。"
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata is not None and message.usage_metadata["output_tokens"] > 0

    [request] = server.requests
    assert request["_path"] == "/v1/chat/completions"
    assert request["_auth_ok"] is True
    assert request["model"] == "test-model"
    assert not request.get("stream")
    assert "authorization" not in request["_headers"]
    assert API_KEY not in json.dumps(request, ensure_ascii=False)
    assert server.messages == [
        [
            {"role": "system", "content": "你是易居助手。"},
            {"role": "user", "content": "租房押金怎么退？"},
        ]
    ]


def test_replies_are_fifo_then_default(server: ScriptedOpenAIServer) -> None:
    server.default_reply = "默认"
    server.reply("第一")
    server.reply("第二")
    llm = make_llm(server)
    assert [llm.invoke("q").content for _ in range(3)] == ["第一", "第二", "默认"]


def test_stream_yields_several_chunks(server: ScriptedOpenAIServer) -> None:
    text = "流式输出：押金一般在退房验收后七个工作日内退还。"
    server.reply(text)
    pieces = [chunk.content for chunk in make_llm(server).stream("押金？")]

    assert "".join(pieces) == text  # type: ignore[arg-type]
    assert len([p for p in pieces if p]) >= 3
    assert server.requests[-1]["stream"] is True


def test_stream_usage_chunk_when_requested(server: ScriptedOpenAIServer) -> None:
    server.reply("带用量")
    chunks = list(make_llm(server, stream_usage=True).stream("q"))
    assert "".join(c.content for c in chunks) == "带用量"  # type: ignore[misc]
    assert any(c.usage_metadata for c in chunks)
    assert server.requests[-1]["stream_options"] == {"include_usage": True}


def test_raw_sse_wire_format(server: ScriptedOpenAIServer) -> None:
    server.reply("abcdefghij")
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(
            {
                "model": "test-model",
                "stream": True,
                "messages": [{"role": "user", "content": "x"}],
            }
        ).encode(),
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=2) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        raw = response.read().decode()

    events = [block.removeprefix("data: ") for block in raw.split("\n\n") if block]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "abcdefghij"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_models_endpoint(server: ScriptedOpenAIServer) -> None:
    client = openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0, timeout=2)
    assert [m.id for m in client.models.list()] == ["test-model"]
    assert server.requests[-1]["_method"] == "GET"


def test_wrong_key_raises_authentication_error_and_consumes_nothing(
    server: ScriptedOpenAIServer,
) -> None:
    server.reply("留给正确的密钥")
    with pytest.raises(openai.AuthenticationError) as excinfo:
        make_llm(server, api_key="sk-wrong-key").invoke("hi")
    assert excinfo.value.status_code == 401
    assert server.requests[-1]["_auth_ok"] is False
    assert "sk-wrong-key" not in json.dumps(server.requests, ensure_ascii=False)

    assert make_llm(server).invoke("hi").content == "留给正确的密钥"


def test_scripted_401(server: ScriptedOpenAIServer) -> None:
    server.fail("401")
    with pytest.raises(openai.AuthenticationError):
        make_llm(server).invoke("hi")
    assert server.requests[-1]["_auth_ok"] is True


def test_429_then_success_with_retries(server: ScriptedOpenAIServer) -> None:
    server.fail("429")
    server.reply("重试成功")
    assert make_llm(server, max_retries=2).invoke("hi").content == "重试成功"
    assert len(server.chat_requests) == 2
    assert [r["_headers"]["x-stainless-retry-count"] for r in server.chat_requests] == [
        "0",
        "1",
    ]


def test_429_without_retries_raises_rate_limit_error(
    server: ScriptedOpenAIServer,
) -> None:
    server.fail("429")
    with pytest.raises(openai.RateLimitError):
        make_llm(server).invoke("hi")


@pytest.mark.parametrize("mode", ["500", "503"])
@pytest.mark.parametrize("stream", [False, True])
def test_server_errors_raise_internal_server_error(server: ScriptedOpenAIServer, mode: str, stream: bool) -> None:
    server.fail(mode)
    llm = make_llm(server)
    with pytest.raises(openai.InternalServerError) as excinfo:
        list(llm.stream("hi")) if stream else llm.invoke("hi")
    assert excinfo.value.status_code == int(mode)


def test_fail_times_applies_to_several_requests(server: ScriptedOpenAIServer) -> None:
    server.fail("503", times=2)
    server.reply("第三次成功")
    assert make_llm(server, max_retries=2).invoke("hi").content == "第三次成功"
    assert len(server.chat_requests) == 3


def test_slow_raises_timeout(server: ScriptedOpenAIServer) -> None:
    server.slow_seconds = 3
    server.fail("slow")
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        make_llm(server, timeout=1).invoke("hi")
    assert time.monotonic() - started < 2.5


def test_cut_stream_raises_connection_error_after_partial_chunks(
    server: ScriptedOpenAIServer,
) -> None:
    server.reply("这段回复会在中途被切断")
    server.fail("cut")
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError) as excinfo:
        for chunk in make_llm(server).stream("hi"):
            received.append(chunk.content)  # type: ignore[arg-type]
    assert not isinstance(excinfo.value, openai.APITimeoutError)
    assert "RemoteProtocolError" in cause_names(excinfo.value)
    assert "".join(received) == "这段回复会在中途"  # the two chunks sent before the cut
    # "cut" consumed no queued reply: the next request still gets it in full
    assert make_llm(server).invoke("hi").content == "这段回复会在中途被切断"


def test_cut_non_streaming_raises_connection_error(
    server: ScriptedOpenAIServer,
) -> None:
    server.fail("cut")
    with pytest.raises(openai.APIConnectionError) as excinfo:
        make_llm(server).invoke("hi")
    assert "RemoteProtocolError" in cause_names(excinfo.value)


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_raises_json_decode_error(server: ScriptedOpenAIServer, stream: bool) -> None:
    server.fail("malformed")
    llm = make_llm(server)
    with pytest.raises(json.JSONDecodeError):
        list(llm.stream("hi")) if stream else llm.invoke("hi")


def test_empty_reply(server: ScriptedOpenAIServer) -> None:
    server.fail("empty")
    assert make_llm(server).invoke("hi").content == ""
    server.fail("empty")
    assert "".join(c.content for c in make_llm(server).stream("hi")) == ""  # type: ignore[misc]


def test_exit_is_fast_while_slow_handler_sleeps() -> None:
    srv = ScriptedOpenAIServer()
    with srv:
        srv.slow_seconds = 30
        srv.fail("slow")
        with pytest.raises(openai.APITimeoutError):
            make_llm(srv, timeout=0.3).invoke("hi")
        started = time.monotonic()
    assert time.monotonic() - started < 2
    with pytest.raises(openai.APIConnectionError):
        make_llm(srv).invoke("hi")  # the port is closed now
