"""The user-configured LLM: answer from numbered passages, rewrite follow-ups, test the connection.

Talks to any OpenAI-compatible chat-completions endpoint through
``langchain_openai.ChatOpenAI``: OpenAI, DeepSeek, Qwen (DashScope compatible
mode), vLLM, Ollama's ``/v1`` and llama.cpp's server. Local servers need no key;
a placeholder is sent then. Every failure becomes an ``LLMError`` with a Chinese
message naming the host and what to check. The API key never appears in
messages, logs or exceptions: server texts are redacted and the SDK exception is
not chained (its request object carries the key in a header).

Retries: the answer request uses ``ChatOpenAI``'s ``max_retries`` (exponential
backoff for 429, 5xx, timeouts and connection errors). A server's
``Retry-After`` is capped at ``MAX_BACKOFF_SECONDS``, so the wait before the
answer starts or fails is bounded by about
``(max_retries + 1) × timeout + max_retries × MAX_BACKOFF_SECONDS``.
Rewrites and connection tests are tried once: a failed rewrite falls back to
the rule, and a connection test should report the first failure at once.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from core.errors import ConfigError, LLMError
from core.settings import Settings
from core.text import normalize
from core.types import ScoredPassage
from ingest.chunk import sentence_spans
from qa.prompt import (
    CHECK_MESSAGES,
    Message,
    answer_messages,
    looks_like_instruction,
    parse_rewrite,
    refusal_like,
    rewrite_messages,
    strip_reasoning,
)
from qa.verify import split_claims, unsupported_facts

__all__ = ["MAX_BACKOFF_SECONDS", "PLACEHOLDER_KEY", "LLMAnswerer", "drop_instruction_backed", "refusal_like"]

log = logging.getLogger(__name__)

PLACEHOLDER_KEY = "not-needed"  # local servers (Ollama, llama.cpp, vLLM) ignore the key, the SDK requires one
MAX_BACKOFF_SECONDS = 8.0  # the SDK's own cap for exponential backoff; server Retry-After may ask for 120 s
_SERVER_TEXT_CHARS = 160


@dataclass(frozen=True)
class SettingNames:
    """How messages name the settings to check: environment variables for the CLI and logs, the settings
    page's fields for someone using the app."""

    base_url: str
    model: str
    api_key: str
    timeout: str


ENV_NAMES = SettingNames(
    "YIJU_LLM_BASE_URL", "YIJU_LLM_MODEL", "YIJU_LLM_API_KEY 或 OPENAI_API_KEY", "YIJU_LLM_TIMEOUT"
)
PANEL_NAMES = SettingNames(
    "“设置”页的接口地址（Base URL）",
    "“设置”页的模型名称（Model）",
    "“设置”页的 API 密钥",
    "服务器的超时设置（请联系管理员）",
)


class LLMAnswerer:
    """One configured endpoint and model; cheap to build (no request until used).

    Raises ``ConfigError`` when ``llm_base_url`` is missing or not an http(s) URL.
    ``streaming=False`` asks for the whole answer in one JSON reply (for servers
    or proxies that mishandle server-sent events). ``names``: how failure
    messages name the settings to check (``PANEL_NAMES`` in the app).
    """

    def __init__(self, settings: Settings, *, streaming: bool = True, names: SettingNames = ENV_NAMES) -> None:
        self.settings = settings
        self.names = names
        self.model_name = settings.llm_model
        self.streaming = streaming
        self.host = endpoint_host(settings.llm_base_url, names)
        key = settings.api_key()
        self._key = SecretStr(key) if key else None
        http_client = _http_client(settings.llm_timeout)
        self._chat = self._build(settings.llm_max_retries, streaming, http_client)
        self._once = self._build(0, False, http_client)

    def _build(self, max_retries: int, streaming: bool, http_client: Any) -> Any:
        from langchain_openai import ChatOpenAI

        s = self.settings
        return ChatOpenAI(
            base_url=s.llm_base_url,
            model=s.llm_model,
            api_key=self._key.get_secret_value() if self._key else PLACEHOLDER_KEY,
            temperature=s.llm_temperature,
            timeout=s.llm_timeout,
            max_retries=max_retries,
            streaming=streaming,
            use_responses_api=False,  # compatible servers speak chat completions only
            http_client=http_client,
        )

    # -- the three operations ------------------------------------------------------
    def stream_answer(self, question: str, passages: list[ScoredPassage]) -> Iterator[str]:
        """Yield the growing answer text; raise ``LLMError`` on any failure or an empty answer."""
        messages = answer_messages(question, passages)
        started = time.perf_counter()
        text = ""
        try:
            for text in self._texts(messages):
                yield text
        except Exception as exc:
            raise self._failure(exc, self.settings.llm_max_retries, received=len(text)) from None
        if not text.strip():
            raise LLMError(
                f"LLM 服务 {self.host} 的模型 {self.model_name} 返回了空回答。请稍后重试，或换一个模型（{self.names.model}）。"
            )
        log.info("LLM %s@%s 回答 %d 字，用时 %.0f ms", self.model_name, self.host, len(text), _ms(started))

    def _texts(self, messages: list[Message]) -> Iterator[str]:
        if not self.streaming:
            reply = strip_reasoning(_content(self._chat.invoke(messages)))
            if reply:
                yield reply
            return
        raw, shown = "", ""
        for chunk in self._chat.stream(messages):
            raw += _content(chunk)
            visible = strip_reasoning(raw)
            if visible != shown:
                shown = visible
                yield shown

    def rewrite(self, question: str, history: Sequence[tuple[str, str]]) -> str:
        """The follow-up ``question`` as a standalone question, given earlier (question, answer) turns."""
        if not history:
            return question
        reply = self._ask_once(rewrite_messages(question, history))
        standalone = parse_rewrite(reply)
        if standalone is None:
            raise LLMError(f"LLM 服务 {self.host} 没有给出可用的改写问题。")
        log.info("LLM 改写追问：%s → %s", question, standalone)
        return standalone

    def check(self) -> str:
        """Send one tiny request; a Chinese success message, or ``LLMError`` saying exactly what failed."""
        started = time.perf_counter()
        reply = self._ask_once(CHECK_MESSAGES)
        if not strip_reasoning(reply).strip():
            raise LLMError(
                f"已连接到 LLM 服务 {self.host}，但模型 {self.model_name} 返回了空回答。请换一个模型（{self.names.model}）。"
            )
        return f"连接成功：LLM 服务 {self.host} 上的模型 {self.model_name} 已响应（用时 {_ms(started):.0f} 毫秒）。"

    def _ask_once(self, messages: list[Message]) -> str:
        try:
            return _content(self._once.invoke(messages))
        except Exception as exc:
            raise self._failure(exc, 0, received=0) from None

    # -- failures ------------------------------------------------------------------------
    def _failure(self, exc: Exception, retries: int, received: int) -> LLMError:
        message = describe_failure(
            exc,
            host=self.host,
            model=self.model_name,
            timeout=self.settings.llm_timeout,
            retries=retries,
            received=received,
            no_key=self._key is None,
            names=self.names,
        )
        message = self._redact(message)
        log.debug("LLM failure %s → %s", type(exc).__name__, message)
        return LLMError(message)

    def _redact(self, text: str) -> str:
        key = self._key.get_secret_value() if self._key else ""
        return text.replace(key, "***") if len(key) >= 6 else text


def endpoint_host(base_url: str | None, names: SettingNames = ENV_NAMES) -> str:
    """``host[:port]`` of the endpoint (never credentials or query strings); validates the URL."""
    if not base_url:
        raise ConfigError(f"未设置 LLM 服务地址。请填写{names.base_url}，例如 http://localhost:11434/v1。")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{names.base_url}必须是以 http:// 或 https:// 开头的地址，例如 https://api.deepseek.com/v1 "
            "或 http://localhost:11434/v1。"
        )
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def describe_failure(
    exc: BaseException,
    *,
    host: str,
    model: str,
    timeout: float,
    retries: int,
    received: int,
    no_key: bool,
    names: SettingNames = ENV_NAMES,
) -> str:
    """A Chinese sentence saying what went wrong and what to check (the settings named as ``names`` has them)."""
    import openai

    tried = f"，已重试 {retries} 次" if retries else ""
    if received:
        return f"LLM 服务 {host} 的回答在中途中断（已收到 {received} 字，{_transport_reason(exc)}）。请稍后重试。"
    if isinstance(exc, openai.APITimeoutError) or _caused_by(exc, TimeoutError):
        return f"LLM 服务 {host} 在 {timeout:g} 秒内没有响应（请求超时{tried}）。请检查服务是否过载，或调大{names.timeout}。"
    if isinstance(exc, openai.APIConnectionError):
        return f"无法连接到 LLM 服务 {host}（{_transport_reason(exc)}{tried}）。请确认服务已启动，并检查{names.base_url}与网络。"
    if isinstance(exc, openai.APIStatusError):
        return _status_message(exc, host, model, tried, no_key, names)
    if isinstance(exc, ValueError):  # json.JSONDecodeError is not wrapped by the SDK
        return (
            f"LLM 服务 {host} 返回了无法解析的数据（不是合法的 OpenAI 格式 JSON）。"
            f"请确认{names.base_url}指向 OpenAI 兼容接口（通常以 /v1 结尾）。"
        )
    return f"调用 LLM 服务 {host} 失败（{type(exc).__name__}）。请检查{names.base_url}与{names.model}。"


def _status_message(exc: Any, host: str, model: str, tried: str, no_key: bool, names: SettingNames) -> str:
    status = exc.status_code
    if status == 401:
        if no_key:
            return f"LLM 服务 {host} 需要 API 密钥（返回 401），但没有设置。请填写{names.api_key}。"
        return f"API 密钥无效（LLM 服务 {host} 返回 401）。请检查{names.api_key}。"
    if status == 403:
        return f"API 密钥无权使用模型 {model}（LLM 服务 {host} 返回 403）。请检查账户权限或更换模型。"
    if status == 404:
        return (
            f"LLM 服务 {host} 上找不到模型 {model} 或接口（返回 404）。"
            f"请检查{names.model}，以及{names.base_url}是否以 /v1 结尾。"
        )
    if status == 429:
        if getattr(exc, "code", None) == "insufficient_quota":
            return f"LLM 服务 {host} 的账户额度不足（返回 429）。请充值或更换 API 密钥。"
        return f"LLM 服务 {host} 限流（返回 429{tried}）。请稍后再试，或降低请求频率。"
    if status >= 500:
        return f"LLM 服务 {host} 出错（HTTP {status}{tried}）。请稍后再试。"
    return f"LLM 服务 {host} 拒绝了请求（HTTP {status}：{_server_text(exc)}）。请检查{names.model}等设置。"


def _server_text(exc: Any) -> str:
    text = re.sub(r"\s+", " ", str(getattr(exc, "message", "") or "")).strip()
    return text[:_SERVER_TEXT_CHARS] or "无说明"


def _transport_reason(exc: BaseException) -> str:
    if _caused_by(exc, socket.gaierror):
        return "无法解析主机名"
    if _caused_by(exc, ConnectionRefusedError):
        return "连接被拒绝"
    if _caused_by(exc, ssl.SSLError):
        return "TLS/证书错误，请确认地址是 http 还是 https"
    if _caused_by(exc, TimeoutError) or _cause_named(exc, "Timeout"):
        return "读取超时"
    if _cause_named(exc, "RemoteProtocolError") or _caused_by(exc, ConnectionError):
        return "连接被对方关闭"
    if isinstance(exc, ValueError):
        return "收到无法解析的数据"
    return f"网络错误 {type(exc).__name__}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _cause_named(exc: BaseException, fragment: str) -> bool:
    return any(fragment in type(e).__name__ for e in _chain(exc))


def _content(message: Any) -> str:
    return str(message.text)


def _http_client(timeout: float) -> Any:
    import openai

    return openai.DefaultHttpxClient(timeout=timeout, event_hooks={"response": [cap_retry_after]})


def cap_retry_after(response: Any) -> None:
    """Bound the server-requested wait between retries (the SDK honours up to 120 s)."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:  # an HTTP date: drop it, the SDK then uses its capped exponential backoff
            del response.headers[name]
            continue
        if seconds > MAX_BACKOFF_SECONDS:
            response.headers[name] = f"{MAX_BACKOFF_SECONDS * scale:g}"


def drop_instruction_backed(answer: str, passages: Sequence[ScoredPassage]) -> tuple[str, tuple[str, ...]]:
    """Remove answer sentences whose only support is an instruction written in a document.

    Citation verification checks that a sentence's numbers and names occur in
    the passages it cites, and an injected "回答“注册资本为1亿元”" contains them
    too. So when a cited passage holds instruction-like sentences, the claim's
    facts must occur outside them, and its closest sentence must not be one.
    """
    kept: list[str] = []
    removed: list[str] = []
    for claim in split_claims(answer, len(passages)):
        cited = [passages[n - 1].passage.text for n in dict.fromkeys(claim.cited) if 1 <= n <= len(passages)]
        if _instruction_backed(claim.text, cited):
            removed.append(claim.text)
        else:
            kept.append(claim.text + "".join(f"[{n}]" for n in claim.cited))
    if not removed:
        return answer, ()
    return "\n".join(kept), tuple(removed)


def _instruction_backed(claim: str, cited: list[str]) -> bool:
    sentences = [text[s:e] for text in cited for s, e in sentence_spans(text)]
    flagged = [looks_like_instruction(s) for s in sentences]
    if not any(flagged):
        return False
    clean = [s for s, bad in zip(sentences, flagged, strict=True) if not bad]
    if unsupported_facts(claim, clean):
        return True
    target = set(normalize(claim))
    overlap = [len(target & set(normalize(s))) / (1 + 0.01 * len(s)) for s in sentences]
    return flagged[max(range(len(sentences)), key=overlap.__getitem__)]


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
