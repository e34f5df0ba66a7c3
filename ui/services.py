"""What the app does, without Gradio: answer with per-session settings, test
the LLM connection, add and remove documents; conversations and feedback are
kept in ``history`` (``ui.history``).

One ``Services`` object is built at start (model, index, assistant) and
shared by all sessions; per-session choices travel as ``Preferences``.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.errors import ConfigError, LoadError
from core.settings import Settings
from ingest.index import DocumentEntry
from ingest.pipeline import IngestReport, ingest
from ingest.store import list_kbs, store_exists
from ingest.uploads import StoredUpload, display_name, remove_stored, store_upload
from qa.assistant import Assistant
from ui.history import HistoryStore

log = logging.getLogger(__name__)

Echo = Callable[[str], None]
StatusLine = tuple[str, str]  # (ok | warn | error, message)

_FIELD_NAMES = {
    "top_k": "检索段落数",
    "strictness": "拒答严格度",
    "llm_base_url": "接口地址",
    "llm_model": "模型名称",
    "llm_temperature": "温度",
    "llm_api_key": "API 密钥",
}


@dataclass(frozen=True)
class Preferences:
    """The settings panel of one browser session."""

    use_llm: bool = False
    base_url: str = ""
    model: str = ""
    api_key: str = field(default="", repr=False)
    temperature: float = 0.0
    top_k: int = 5
    strictness: float = 0.5
    kb: str = ""  # the knowledge base asked; "" is the server's (YIJU_KB)
    doc_ids: tuple[str, ...] = ()  # ask only these documents of it; () is all

    @classmethod
    def defaults(cls, settings: Settings) -> Preferences:
        """From the server's settings; the API key is never sent to the browser."""
        return cls(
            use_llm=bool(settings.llm_base_url),
            base_url=settings.llm_base_url or "",
            model=settings.llm_model,
            temperature=settings.llm_temperature,
            top_k=settings.top_k,
            strictness=settings.strictness,
        )


@dataclass
class FileStatus:
    """Where one uploaded file stands, updated by the ingest thread while the page polls it.

    ``state``: queued, waiting (another upload holds the index), parsing, ocr, embedding, sentences,
    reader_sentences (the learned reader's own encoder), done, unchanged, failed.
    """

    name: str
    state: str = "queued"
    done: int = 0
    total: int = 0
    message: str = ""

    def move(self, state: str, done: int = 0, total: int = 0, message: str = "") -> None:
        self.state, self.done, self.total, self.message = state, done, total, message


def redact(text: str, secrets: Sequence[str | None]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


class Services:
    def __init__(self, settings: Settings, assistant: Assistant, history: HistoryStore | None = None) -> None:
        self.settings = settings
        self.assistant = assistant  # of the server's knowledge base, settings.kb
        self.history = history if history is not None else HistoryStore(settings.history_path)
        self._assistants: dict[str, Assistant] = {settings.kb: assistant}  # others opened when first asked
        self._ingest_lock = threading.Lock()  # one ingest at a time: each writes a whole new generation
        self._swap_lock = threading.Lock()  # no snapshot of the assistant while it switches index

    # -- answering ------------------------------------------------------------------
    def settings_for(self, prefs: Preferences) -> Settings:
        url = (prefs.base_url or "").strip() or None
        key = (prefs.api_key or "").strip() or None
        if key is None and url is not None and url != self.settings.llm_base_url:
            # The server's key (setting or OPENAI_API_KEY) is only ever sent to the server's own endpoint:
            # a user who types another address must bring their own key.
            from qa.llm import PLACEHOLDER_KEY

            key = PLACEHOLDER_KEY
        try:
            return self.settings.replace(
                top_k=int(prefs.top_k),
                strictness=float(prefs.strictness),
                llm_base_url=url,
                llm_model=(prefs.model or "").strip() or None,
                llm_temperature=float(prefs.temperature),
                llm_api_key=key,
            )
        except ValidationError as exc:
            problems = "；".join(f"{_FIELD_NAMES.get(str(e['loc'][0]), e['loc'][0])}：{e['msg']}" for e in exc.errors())
            raise ConfigError(f"设置无效（{problems}）。请在“设置”页修改。") from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"设置无效（{type(exc).__name__}）。请在“设置”页修改。") from None

    def snapshot(self, kb: str | None = None) -> Assistant:
        """A shallow copy sharing the model and index, safe to re-configure per request."""
        name = kb or self.settings.kb
        with self._swap_lock:
            if name not in self._assistants:
                self._assistants[name] = self._open(name)
            return copy.copy(self._assistants[name])

    def _open(self, kb: str) -> Assistant:
        """An assistant like the server's (model, LLM, reranker) on the knowledge base ``kb``."""
        view = copy.copy(self.assistant)
        view.settings = self.kb_settings(kb)
        view.reload()
        return view

    def kb_settings(self, kb: str | None) -> Settings:
        try:
            return self.settings.replace(kb=kb or None)
        except ValidationError as exc:
            raise ConfigError(f"{exc.errors()[0]['msg'].removeprefix('Value error, ')}。") from None

    def knowledge_bases(self) -> list[str]:
        """The knowledge bases on this store, the server's first."""
        names = list_kbs(self.settings)
        return [self.settings.kb, *(n for n in names if n != self.settings.kb)]

    def assistant_for(self, prefs: Preferences) -> Assistant:
        settings = self.settings_for(prefs)
        if prefs.use_llm and not prefs.base_url.strip():
            raise ConfigError("已选择用 LLM 回答，但没有填写接口地址。请在“设置”页填写 Base URL，或改用离线抽取式。")
        view = self.snapshot(prefs.kb)
        view.settings = settings.replace(kb=view.settings.kb)
        view.llm = _llm(settings) if prefs.use_llm else None
        if prefs.doc_ids:
            view.retriever = view.retriever.restricted_to(prefs.doc_ids)
        return view

    def ask_record(self, question: str) -> dict[str, Any]:
        """The ``/ask`` API: the server's own settings (and LLM, if configured)."""
        return self.snapshot().ask(question).to_record()

    def check_connection(self, prefs: Preferences) -> str:
        settings = self.settings_for(prefs)
        if not prefs.base_url.strip():
            raise ConfigError(
                "请先填写接口地址（Base URL），例如 https://api.deepseek.com/v1 或 http://localhost:11434/v1。"
            )
        return _llm(settings).check()

    def secrets(self, prefs: Preferences | None = None) -> list[str | None]:
        return [prefs.api_key if prefs else None, self.settings.api_key()]

    # -- documents ------------------------------------------------------------------
    def document_entries(self, kb: str | None = None) -> list[DocumentEntry]:
        """The documents of ``kb`` (default: the server's); none for a knowledge base not made yet."""
        settings = self.kb_settings(kb)
        if settings.kb not in self._assistants and not store_exists(settings):
            return []
        return list(self.snapshot(settings.kb).index.manifest.documents)

    def add_files(
        self,
        files: Sequence[tuple[Path, str]],
        kb: str | None = None,
        statuses: Sequence[FileStatus] | None = None,
    ) -> list[StatusLine]:
        """Store and ingest uploads ``(temp path, original name)`` into ``kb`` (made if new), one file after the
        other; one status line per file, in order. ``statuses`` (one per file) follow each file as it goes."""
        settings = self.kb_settings(kb)
        board = list(statuses) if statuses is not None else [FileStatus(original) for _, original in files]
        lines: list[StatusLine] = []
        stored: list[tuple[StoredUpload, FileStatus, int]] = []
        for (source, original), status in zip(files, board, strict=True):
            try:
                stored.append(
                    (
                        store_upload(source, original, self.settings.uploads_dir, self.settings.max_upload_mb),
                        status,
                        len(lines),
                    )
                )
                lines.append(("ok", ""))  # replaced once the file is ingested
            except LoadError as exc:
                lines.append(("error", f"{display_name(original)}：{exc}"))
                status.move("failed", message=str(exc))
        if not stored:
            return lines
        if not self._ingest_lock.acquire(blocking=False):
            for _, status, _ in stored:
                status.move("waiting")
            self._ingest_lock.acquire()
        replaced: list[StatusLine] = []
        try:
            for upload, status, at in stored:
                lines[at], removed = self._ingest_one(upload, status, settings)
                replaced.extend(removed)
        finally:
            self._ingest_lock.release()
        return lines + replaced

    def _ingest_one(
        self, upload: StoredUpload, status: FileStatus, settings: Settings
    ) -> tuple[StatusLine, list[StatusLine]]:
        def progress(stage: str, done: int, total: int) -> None:
            status.move(stage if stage in ("ocr", "sentences", "reader_sentences") else "embedding", done, total)

        status.move("parsing")
        reader = self.assistant.reader_encoder
        report = ingest([upload.path], settings, self.assistant.embedder, progress=progress, reader=reader)
        self._reload(settings.kb)  # answerable now, and its entry readable for the line below
        line = self._outcome(upload, report, settings.kb)
        state = {"ok": "done", "warn": "unchanged"}.get(line[0], "failed")
        status.move(state, message=line[1].removeprefix(f"{upload.original_name}："))
        removed: list[StatusLine] = []
        for path in report.removed:
            remove_stored(Path(path), self.settings.uploads_dir)
            removed.append(("warn", f"{Path(path).name}：与新上传的文件内容相同，已由新文件替换。"))
        return line, removed

    def _outcome(self, upload: StoredUpload, report: IngestReport, kb: str) -> StatusLine:
        path = str(upload.path)
        reason = next((s.reason for s in report.skipped if s.path == path), None)
        if reason is not None:
            remove_stored(upload.path, self.settings.uploads_dir)
            return ("error", f"{upload.original_name}：{reason}")
        if path in report.unchanged:
            return ("warn", f"{upload.original_name}：文档库中已有同一文件，无需重复入库。")
        entry = next((e for e in self.document_entries(kb) if e.path == path), None)
        detail = f"{entry.passages} 个段落，标题《{entry.title}》" if entry else "没有可用段落"
        return ("ok", f"{upload.original_name}：已入库（{detail}）。")

    def remove_document(self, doc_id: str, kb: str | None = None) -> DocumentEntry:
        settings = self.kb_settings(kb)
        with self._ingest_lock:
            entries = {e.doc_id: e for e in self.document_entries(settings.kb)}
            entry = entries.get(doc_id)
            if entry is None:
                raise ConfigError("该文档已不在文档库中，请刷新列表后重试。")
            if len(entries) == 1:
                raise ConfigError("这是文档库中唯一的文档，不能删除。请先上传其他文档。")
            ingest([], settings, self.assistant.embedder, remove_doc_ids=[doc_id])
            self._reload(settings.kb)
        remove_stored(Path(entry.path), self.settings.uploads_dir)
        return entry

    def _reload(self, kb: str) -> None:
        with self._swap_lock:
            if kb in self._assistants:
                self._assistants[kb].reload()
            else:
                self._assistants[kb] = self._open(kb)


def _llm(settings: Settings) -> Any:
    from qa.llm import PANEL_NAMES, LLMAnswerer

    return LLMAnswerer(settings, names=PANEL_NAMES)  # messages name the settings page, not environment variables


# -- start-up ---------------------------------------------------------------------------


def ensure_index(settings: Settings, embedder: Any, echo: Echo = print, reader: Any = None) -> None:
    """On first start, ingest the seed documents so the app has something to answer from (``reader``: the
    learned reader's encoder, whose sentence vectors are stored too)."""
    from ingest.load import iter_files

    where = _where(settings)
    if store_exists(settings):
        return
    seeds = settings.seed_dir
    if not seeds.exists() or not any(True for _ in iter_files([seeds])):
        raise ConfigError(
            f"还没有索引（{where}），种子文档目录 {seeds} 也不存在或为空。"
            "请设置 YIJU_SEED_DIR 指向文档目录，或先运行 `python -m ingest <文档目录>`。"
        )
    echo(f"首次启动：索引 {where} 不存在，正在把 {seeds} 中的文档入库……")

    what = {"sentences": "个句子", "reader_sentences": "个句子（阅读模型）", "ocr": "页（OCR）"}

    def progress(stage: str, done: int, total: int) -> None:
        echo(f"  {'识别' if stage == 'ocr' else '向量化'} {done}/{total} {what.get(stage, '个段落')}")

    report = ingest([seeds], settings, embedder, progress=progress, reader=reader)
    for skipped in report.skipped:
        echo(f"  跳过 {skipped.path}：{skipped.reason}")
    if report.documents == 0:
        raise ConfigError(f"{seeds} 中没有可入库的文档。请放入 .txt .md .pdf .docx .html .pptx .xlsx .csv 文件。")
    echo(f"入库完成：{report.documents} 个文档，{report.passages} 个段落，用时 {report.seconds:.1f} 秒。")


def _where(settings: Settings) -> str:
    """Where the knowledge base lives, for messages (never the Milvus token)."""
    if settings.store == "milvus":
        return f"Milvus {settings.resolved_milvus_uri}，知识库 {settings.kb}"
    return str(settings.kb_index_dir)


def build_services(settings: Settings, echo: Echo = print) -> Services:
    """Load the model once, make sure there is an index, and wire the assistant."""
    from ingest.embed import SentenceTransformerEmbedder
    from qa.build import build_llm
    from qa.encoder import answering_reader_encoder
    from qa.models import answering_models
    from qa.retrieve import CrossEncoderReranker

    echo("正在加载向量模型……")
    embedder = SentenceTransformerEmbedder(settings, notify=echo)
    # Read once for the seed ingest and the assistant (None unless YIJU_ANSWERER=learned).
    models = answering_models(settings, embedder.name)
    reader = answering_reader_encoder(settings, models)
    ensure_index(settings, embedder, echo, reader=reader)
    assistant = Assistant(settings, embedder, llm=build_llm(settings), models=models, reader_embedder=reader)
    if settings.reranker:
        assistant.retriever.reranker = CrossEncoderReranker(settings.reranker)
    return Services(settings, assistant, HistoryStore(settings.history_path))
