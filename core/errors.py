"""Errors that tell the user what to do.

Library code raises these; only the CLIs and the app turn them into exit
codes or UI messages. Messages are in Chinese with the command to run.
"""

from __future__ import annotations


class YijuError(Exception):
    """Base class: ``str(error)`` is a message fit to show a user."""


class LoadError(YijuError):
    """A file could not be read as a document."""


class IndexMissingError(YijuError):
    def __init__(self, index_dir: str) -> None:
        super().__init__(
            f"索引目录 {index_dir} 中没有索引。请先运行 `python -m ingest seeds/ --index {index_dir}` 建立索引。"
        )


class IndexCorruptError(YijuError):
    def __init__(self, index_dir: str, detail: str) -> None:
        super().__init__(
            f"索引 {index_dir} 已损坏（{detail}）。请删除该目录后重新运行 "
            f"`python -m ingest <文档目录> --index {index_dir}` 重建索引。"
        )


class ModelMismatchError(YijuError):
    def __init__(self, index_model: str, index_dim: int, model: str, dim: int) -> None:
        super().__init__(
            f"索引由 {index_model}（{index_dim} 维）构建，当前模型为 {model}（{dim} 维），二者不能混用。"
            "请用当前模型重新运行 `python -m ingest <文档目录> --rebuild`，或把模型设置改回索引所用的模型。"
        )


class InvalidQuestionError(YijuError):
    """The question is empty, too long or otherwise unusable."""


class LLMError(YijuError):
    """The configured LLM endpoint failed; the message says how."""


class ConfigError(YijuError):
    """A setting has an invalid value."""


class KnowledgeBaseMissingError(IndexMissingError):
    """A named knowledge base has no index on the chosen store."""

    def __init__(self, kb: str, where: str, store: str) -> None:
        YijuError.__init__(
            self,
            f"知识库 {kb} 还没有索引（{where}）。请先运行 "
            f"`python -m ingest <文档目录> --kb {kb} --store {store}` 建立索引，或用 `python -m qa kb list` 查看已有的知识库。",
        )


class StoreError(YijuError):
    """The index engine (a Milvus server) could not be reached or refused a request."""
