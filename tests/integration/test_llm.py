"""The LLM answerer against the real scripted OpenAI-protocol server on 127.0.0.1.

Real retrieval over the seed index (real e5 model, real FAISS), real HTTP through
``langchain_openai.ChatOpenAI``; nothing is patched. Every failure must end in the
extractive answer with a Chinese notice, and the API key must never show up.
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest

from core.errors import ConfigError, LLMError
from core.settings import Settings
from core.text import normalize
from core.types import REFUSAL_TEXT, Answer, ScoredPassage
from qa.assistant import Assistant
from qa.followup import rewrite_rule
from qa.llm import PLACEHOLDER_KEY, LLMAnswerer, cap_retry_after
from qa.prompt import DATA_CLOSE, DATA_OPEN
from tests.support.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FAKE_KEY = "sk-yiju-FAKE-7f3a9c1e5b2d"
QUESTION = "我国中小微企业有多少户？"
ANSWER = "我国中小微企业数量已超过5200万户。"


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(api_key=FAKE_KEY) as srv:
        yield srv


@pytest.fixture
def llm_settings(seed_settings: Settings, server: ScriptedOpenAIServer) -> Settings:
    return seed_settings.replace(
        llm_base_url=server.base_url,
        llm_model="test-model",
        llm_api_key=FAKE_KEY,
        llm_timeout=1.0,
        llm_max_retries=1,
    )


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, including openai / httpx internals
    return caplog


def make_assistant(settings: Settings, embedder, seed_index, streaming: bool = True) -> Assistant:  # type: ignore[no-untyped-def]
    return Assistant(settings, embedder, index=seed_index, llm=LLMAnswerer(settings, streaming=streaming))


def number_of(assistant: Assistant, question: str, needle: str) -> int:
    """The [n] the answerer will give the passage containing ``needle``."""
    hits = assistant.retriever.search(normalize(question), k=assistant.settings.top_k)
    return next(i for i, hit in enumerate(hits, start=1) if needle in hit.passage.text)


def run(assistant: Assistant, question: str, history: list[tuple[str, str]] | None = None) -> tuple[list[str], Answer]:
    items = list(assistant.stream(question, history or []))
    final = items[-1]
    assert isinstance(final, Answer)
    return [i for i in items if isinstance(i, str)], final


def some_passages(seed_index) -> list[ScoredPassage]:  # type: ignore[no-untyped-def]
    return [ScoredPassage(p, 1.0) for p in seed_index.passages[:3]]


def assert_key_absent(*texts: str) -> None:
    for text in texts:
        assert FAKE_KEY not in text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- answering ---------------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [True, False])
def test_llm_answer_is_streamed_cited_and_verified(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer, streaming: bool
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index, streaming)
    n = number_of(assistant, QUESTION, "5200万")
    reply = f"{ANSWER}[{n}]"
    server.reply(reply)

    partials, answer = run(assistant, QUESTION)

    assert (answer.mode, answer.model, answer.refused) == ("llm", "test-model", False)
    assert answer.text == f"{ANSWER}[1]"  # renumbered in order of use
    assert "5200万户" in answer.citations[0].quote
    assert answer.removed_sentences == () and answer.notice == ""
    if streaming:
        assert len(partials) >= 3 and all(b.startswith(a) for a, b in pairwise(partials))
        assert partials[-1] == reply
    else:
        assert partials == [reply]
    [request] = server.chat_requests
    assert bool(request.get("stream")) is streaming
    assert request["model"] == "test-model" and request["temperature"] == 0.0
    system, user = request["messages"]
    assert system["role"] == "system" and REFUSAL_TEXT in system["content"]
    block = user["content"][user["content"].index(DATA_OPEN) : user["content"].index(DATA_CLOSE)]
    assert all(f"[{i}] 来源：" in block for i in range(1, len(answer.retrieved) + 1))
    assert "5200万户" in block
    assert f"问题：{normalize(QUESTION)}" in user["content"].split(DATA_CLOSE)[1]


def test_fabricated_number_loses_its_sentence(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index)
    n = number_of(assistant, QUESTION, "5200万")
    server.reply(f"{ANSWER}[{n}]其中个体工商户有1.2亿户。[{n}]")

    _, answer = run(assistant, QUESTION)

    assert answer.mode == "llm" and not answer.refused
    assert "5200万" in answer.text and "1.2亿" not in answer.text
    assert answer.removed_sentences == ("其中个体工商户有1.2亿户。",)
    assert "已删除 1 句" in answer.notice
    assert "1.2亿" not in json.dumps(answer.to_record()["citations"], ensure_ascii=False)


def test_a_question_the_offline_gate_refuses_still_reaches_the_llm_when_passages_are_near(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    question = "我国中小微企业的平均寿命是多少年？"  # a word no passage holds: the offline gate refuses
    offline = Assistant(llm_settings, embedder, index=seed_index).ask(question)
    assert offline.refused and offline.support is not None
    assert offline.support.score >= llm_settings.llm_support_floor
    assistant = make_assistant(llm_settings, embedder, seed_index)
    n = number_of(assistant, question, "5200万")
    server.reply(f"{ANSWER}[{n}]")
    _, answer = run(assistant, question)
    assert len(server.chat_requests) == 1
    assert answer.mode == "llm" and not answer.refused and "5200万户" in answer.citations[0].quote
    server.reply(REFUSAL_TEXT)
    _, refused = run(assistant, question)
    assert refused.refused and refused.mode == "llm"


def test_a_floor_of_one_keeps_refused_questions_from_the_llm(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    assistant = make_assistant(llm_settings.replace(llm_support_floor=1.0), embedder, seed_index)
    server.reply(f"{ANSWER}[1]")
    _, answer = run(assistant, "我国中小微企业的平均寿命是多少年？")
    assert answer.refused and answer.mode == "extractive" and server.chat_requests == []


def test_refusal_reply_becomes_refused(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    server.reply(REFUSAL_TEXT)
    _, answer = run(make_assistant(llm_settings, embedder, seed_index), QUESTION)
    record = answer.to_record()
    assert record["refused"] is True and record["mode"] == "llm"
    assert record["answer"] == REFUSAL_TEXT and record["citations"] == []


def test_citation_of_a_passage_that_does_not_exist_is_caught(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index)
    n = number_of(assistant, QUESTION, "5200万")
    server.reply(f"{ANSWER}[9]")
    server.reply(f"{ANSWER}[{n}]科技型中小企业50万家。[9]")

    _, only_bad = run(assistant, QUESTION)
    _, mixed = run(assistant, QUESTION)

    assert len(only_bad.retrieved) == 5
    assert only_bad.refused and only_bad.citations == () and only_bad.removed_sentences == (ANSWER,)
    assert not mixed.refused and mixed.text == f"{ANSWER}[1]"
    assert mixed.removed_sentences == ("科技型中小企业50万家。",)


def test_citation_styles_models_write_are_verified_and_cited(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index)
    n1 = number_of(assistant, QUESTION, "5200万")
    n2 = number_of(assistant, QUESTION, "1.22亿")
    n3 = number_of(assistant, QUESTION, "创新创造力")
    lo, hi = sorted((n1, n2))
    server.reply(
        "\n".join(
            [
                f"【{n1}】数据显示，我国中小微企业数量已超过5200万户。",  # before the sentence
                f"其中高新技术企业46.5万家[^{n1}]，专精特新中小企业10.3万家。",
                f"截至2023年9月底，个体工商户达到1.22亿户。（来源：{n2}）",
                f"全国登记在册的经营主体达到了1.81亿户。[{n2}, {n1}]",
                f"王斌表示，要精准提升中小企业活力和创新创造力(来源：{n3})。",
                f"其中个体工商户有1.2亿户。【{n1}】",  # a figure no passage gives
                f"中小企业是经济的毛细血管。[{lo}-{hi}]",
                "",
                f"[^{n1}]: 资料{n1}",
            ]
        )
    )
    kept = [
        ("数据显示，我国中小微企业数量已超过5200万户。", [n1]),
        ("其中高新技术企业46.5万家，专精特新中小企业10.3万家。", [n1]),
        ("截至2023年9月底，个体工商户达到1.22亿户。", [n2]),
        ("全国登记在册的经营主体达到了1.81亿户。", [n2, n1]),
        ("王斌表示，要精准提升中小企业活力和创新创造力。", [n3]),
        ("中小企业是经济的毛细血管。", list(range(lo, hi + 1))),
    ]
    renumbered: dict[int, int] = {}  # retrieved number → answer number, in order of first use
    for _, cited in kept:
        for n in cited:
            renumbered.setdefault(n, len(renumbered) + 1)

    _, answer = run(assistant, QUESTION)

    assert answer.mode == "llm" and not answer.refused
    assert answer.text == "".join(text + "".join(f"[{renumbered[n]}]" for n in cited) for text, cited in kept)
    assert answer.removed_sentences == ("其中个体工商户有1.2亿户。",) and "已删除 1 句" in answer.notice
    by_number = {c.n: c.passage.passage_id for c in answer.citations}
    assert by_number == {renumbered[n]: answer.retrieved[n - 1].passage.passage_id for n in renumbered}
    quotes = {c.n: c.quote for c in answer.citations}
    assert "5200万户" in quotes[renumbered[n1]] and "1.22亿户" in quotes[renumbered[n2]]


def test_reasoning_block_is_never_shown(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index)
    n = number_of(assistant, QUESTION, "5200万")
    server.reply(f"<think>资料第{n}段提到了数量，可能还有1亿户？</think>{ANSWER}[{n}]")

    partials, answer = run(assistant, QUESTION)

    assert partials and not any("think" in p or "1亿" in p for p in partials)
    assert answer.text == f"{ANSWER}[1]" and answer.removed_sentences == ()


def test_429_then_success_is_retried_with_backoff(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index)
    n = number_of(assistant, QUESTION, "5200万")
    server.fail("429")
    server.reply(f"{ANSWER}[{n}]")

    _, answer = run(assistant, QUESTION)

    assert answer.mode == "llm" and "5200万" in answer.text
    assert [r["_headers"]["x-stainless-retry-count"] for r in server.chat_requests] == ["0", "1"]


# -- failures: message + extractive fallback ----------------------------------------------


def _refused(server: ScriptedOpenAIServer, settings: Settings) -> Settings:
    return settings.replace(llm_base_url=f"http://127.0.0.1:{free_port()}/v1")


def _slow(server: ScriptedOpenAIServer, settings: Settings) -> Settings:
    server.slow_seconds = 3
    server.fail("slow", times=2)  # the first try and its one retry
    return settings


def _wrong_key(server: ScriptedOpenAIServer, settings: Settings) -> Settings:
    server.api_key = "sk-the-server-expects-another-key"
    return settings


def _times(mode: str, times: int):  # type: ignore[no-untyped-def]
    def script(server: ScriptedOpenAIServer, settings: Settings) -> Settings:
        server.fail(mode, times=times)
        server.reply("这句不该被用到。[1]")
        return settings

    return script


FAILURES = {
    "server down": (_refused, "无法连接到 LLM 服务 127.0.0.1:", "连接被拒绝"),
    "slow": (_slow, "1 秒内没有响应", "请求超时，已重试 1 次"),
    "401": (_wrong_key, "API 密钥无效", "返回 401"),
    "429 twice": (_times("429", 2), "限流", "已重试 1 次"),
    "500 twice": (_times("500", 2), "出错（HTTP 500", "已重试 1 次"),
    "malformed": (_times("malformed", 1), "无法解析", "/v1"),
    "cut stream": (_times("cut", 1), "回答在中途中断", "连接被对方关闭"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_failure_gives_message_and_extractive_answer(
    case: str,
    llm_settings: Settings,
    embedder,
    seed_index,
    server: ScriptedOpenAIServer,
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    script, phrase, detail = FAILURES[case]
    assistant = make_assistant(script(server, llm_settings), embedder, seed_index)

    partials, answer = run(assistant, QUESTION)

    assert answer.mode == "extractive" and answer.model == ""
    assert phrase in answer.notice and detail in answer.notice
    assert answer.notice.endswith("已改用离线抽取式回答。")
    assert not answer.refused and "5200万" in answer.text and answer.citations
    assert "这句不该被用到" not in answer.text
    if case == "cut stream":
        assert partials and "这句" in partials[0]  # the partial text was shown before the cut
    assert_key_absent(json.dumps(answer.to_record(), ensure_ascii=False), debug_logs.text, answer.notice)
    assert any(phrase in r.getMessage() for r in debug_logs.records if r.levelno == logging.WARNING)


@pytest.mark.parametrize(
    ("mode", "times", "streaming", "expected"),
    [
        ("503", 2, False, "出错（HTTP 503，已重试 1 次）"),
        ("malformed", 1, False, "返回了无法解析的数据"),
        ("cut", 2, False, "无法连接到 LLM 服务 127.0.0.1:"),
        ("empty", 1, True, "返回了空回答"),
        ("empty", 1, False, "返回了空回答"),
    ],
)
def test_answerer_failures_without_streaming(
    llm_settings: Settings,
    server: ScriptedOpenAIServer,
    seed_index,
    mode: str,
    times: int,
    streaming: bool,
    expected: str,
) -> None:  # type: ignore[no-untyped-def]
    server.fail(mode, times=times)
    server.reply("这句不该被用到。[1]")
    with pytest.raises(LLMError, match=re.escape(expected)) as excinfo:
        list(LLMAnswerer(llm_settings, streaming=streaming).stream_answer(QUESTION, some_passages(seed_index)))
    assert_key_absent(str(excinfo.value))


def test_retries_are_bounded(llm_settings: Settings, server: ScriptedOpenAIServer, seed_index) -> None:  # type: ignore[no-untyped-def]
    server.fail("500", times=10)
    started = time.monotonic()
    with pytest.raises(LLMError, match="已重试 2 次"):
        list(LLMAnswerer(llm_settings.replace(llm_max_retries=2)).stream_answer(QUESTION, some_passages(seed_index)))
    assert len(server.chat_requests) == 3
    assert time.monotonic() - started < 4  # backoff about 0.5 s + 1 s


def test_server_retry_after_is_capped() -> None:
    import httpx2

    from qa.llm import MAX_BACKOFF_SECONDS

    long_wait = httpx2.Response(429, headers={"retry-after": "120", "retry-after-ms": "120000"})
    cap_retry_after(long_wait)
    assert float(long_wait.headers["retry-after"]) == MAX_BACKOFF_SECONDS
    assert float(long_wait.headers["retry-after-ms"]) == MAX_BACKOFF_SECONDS * 1000
    dated = httpx2.Response(503, headers={"retry-after": "Wed, 21 Oct 2065 07:28:00 GMT"})
    cap_retry_after(dated)
    assert "retry-after" not in dated.headers
    short = httpx2.Response(429, headers={"retry-after": "2"})
    cap_retry_after(short)
    assert short.headers["retry-after"] == "2"


def test_errors_never_carry_the_key(
    llm_settings: Settings, server: ScriptedOpenAIServer, seed_index, debug_logs: pytest.LogCaptureFixture
) -> None:
    server.api_key = "sk-the-server-expects-another-key"
    answerer = LLMAnswerer(llm_settings)
    with pytest.raises(LLMError) as excinfo:
        list(answerer.stream_answer(QUESTION, some_passages(seed_index)))
    error = excinfo.value
    assert error.__cause__ is None and error.__suppress_context__  # the SDK error holds the request headers
    shown = "".join(traceback.format_exception(error))
    assert_key_absent(str(error), repr(error), shown, repr(answerer.__dict__), debug_logs.text)
    assert "API 密钥无效" in str(error)


# -- follow-up questions -------------------------------------------------------------------


def test_follow_up_is_rewritten_by_the_llm_before_retrieval(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index)
    follow_up, rewritten = "那个体工商户呢？", "我国个体工商户有多少户？"
    n = number_of(assistant, rewritten, "1.22亿")
    server.reply(f"改写后的问题：“{rewritten}”")
    server.reply(f"截至2023年9月底，个体工商户达到1.22亿户。[{n}]")

    _, answer = run(assistant, follow_up, [(QUESTION, f"{ANSWER}[1]")])

    assert answer.standalone_question == normalize(rewritten)
    expected = assistant.retriever.search(normalize(rewritten), k=llm_settings.top_k)
    assert [s.passage.passage_id for s in answer.retrieved] == [s.passage.passage_id for s in expected]
    assert answer.mode == "llm" and answer.text == "截至2023年9月底，个体工商户达到1.22亿户。[1]"
    rewrite_prompt, answer_prompt = server.messages
    history_and_question = rewrite_prompt[1]["content"]
    assert QUESTION in history_and_question and f"最新问题：{normalize(follow_up)}" in history_and_question
    assert "[1]" not in history_and_question  # citation marks are stripped from earlier answers
    assert f"问题：{normalize(rewritten)}" in answer_prompt[1]["content"]


def test_failed_rewrite_falls_back_to_the_rule(
    llm_settings: Settings, embedder, seed_index, server: ScriptedOpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    assistant = make_assistant(llm_settings, embedder, seed_index)
    history = [(QUESTION, ANSWER)]
    rule = rewrite_rule(normalize("那高新技术企业呢？"), history)
    n = number_of(assistant, rule, "46.5万")
    server.fail("500")  # rewrites are tried once
    server.reply(f"高新技术企业46.5万家。[{n}]")

    _, answer = run(assistant, "那高新技术企业呢？", history)

    assert answer.standalone_question == rule and "高新技术企业" in rule
    assert answer.mode == "llm" and "46.5万" in answer.text
    assert len(server.chat_requests) == 2
    assert any("HTTP 500" in r.getMessage() for r in caplog.records)


# -- connection test -------------------------------------------------------------------------


def test_check_reports_success_with_the_model(llm_settings: Settings, server: ScriptedOpenAIServer) -> None:
    server.reply("正常")
    message = LLMAnswerer(llm_settings).check()
    assert message.startswith("连接成功") and "test-model" in message and server.base_url.split("/")[2] in message
    assert len(server.chat_requests) == 1


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:{port}/v1", "连接被拒绝"),
        ("http://yiju-no-such-host.invalid/v1", "无法解析主机名"),
        ("{server}/nowhere", "/v1 结尾"),
    ],
)
def test_check_says_what_failed(
    llm_settings: Settings, server: ScriptedOpenAIServer, base_url: str, expected: str
) -> None:
    url = base_url.format(port=free_port(), server=server.base_url.removesuffix("/v1"))
    started = time.monotonic()
    with pytest.raises(LLMError, match=expected) as excinfo:
        LLMAnswerer(llm_settings.replace(llm_base_url=url)).check()
    assert time.monotonic() - started < 5 and len(server.chat_requests) <= 1  # a connection test is tried once
    assert_key_absent(str(excinfo.value))


def test_check_on_rate_limit_and_wrong_key(llm_settings: Settings, server: ScriptedOpenAIServer) -> None:
    server.fail("429")
    with pytest.raises(LLMError, match="限流"):
        LLMAnswerer(llm_settings).check()
    server.api_key = "sk-other"
    with pytest.raises(LLMError, match="API 密钥无效"):
        LLMAnswerer(llm_settings).check()


def test_local_server_without_key_gets_a_placeholder(llm_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = Settings(**{**llm_settings.model_dump(), "llm_api_key": None})
    assert settings.api_key() is None
    with ScriptedOpenAIServer(api_key=PLACEHOLDER_KEY) as local:
        local.reply("正常")
        assert LLMAnswerer(settings.replace(llm_base_url=local.base_url)).check().startswith("连接成功")
        assert local.requests[-1]["_auth_ok"] is True
    with ScriptedOpenAIServer(api_key="sk-needs-a-real-key") as remote, pytest.raises(LLMError, match="没有设置"):
        LLMAnswerer(settings.replace(llm_base_url=remote.base_url)).check()


# -- the command line -------------------------------------------------------------------------


def test_cli_ask_uses_the_configured_llm(
    seed_settings: Settings, seed_index, server: ScriptedOpenAIServer, embedder
) -> None:
    assistant = Assistant(seed_settings, embedder, index=seed_index)
    n = number_of(assistant, QUESTION, "5200万")
    server.reply(f"{ANSWER}[{n}]")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("YIJU_") and k != "OPENAI_API_KEY"},
        "YIJU_INDEX_DIR": str(seed_settings.resolved_index_dir),
        "YIJU_MODEL_CACHE_DIR": str(seed_settings.resolved_model_cache_dir),
        "YIJU_LLM_BASE_URL": server.base_url,
        "YIJU_LLM_MODEL": "test-model",
        "YIJU_LLM_API_KEY": FAKE_KEY,
        "YIJU_LLM_TIMEOUT": "5",
        "YIJU_LLM_MAX_RETRIES": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "qa", "ask", QUESTION, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["mode"] == "llm" and record["model"] == "test-model"
    assert record["answer"] == f"{ANSWER}[1]"
    assert server.chat_requests[-1]["_auth_ok"] is True  # the key travelled, in the header only
    assert_key_absent(done.stdout, done.stderr)


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["localhost:11434/v1", "ftp://example.com/v1", ""])
def test_unusable_base_url_is_a_config_error(llm_settings: Settings, url: str) -> None:
    with pytest.raises(ConfigError, match="YIJU_LLM_BASE_URL"):
        LLMAnswerer(llm_settings.replace(llm_base_url=url))


def test_messages_name_the_host_without_credentials(llm_settings: Settings) -> None:
    port = free_port()
    url = f"http://user:{FAKE_KEY}@127.0.0.1:{port}/v1?api-key={FAKE_KEY}"
    with pytest.raises(LLMError) as excinfo:
        LLMAnswerer(llm_settings.replace(llm_base_url=url)).check()
    assert f"127.0.0.1:{port}" in str(excinfo.value)
    assert_key_absent(str(excinfo.value))
