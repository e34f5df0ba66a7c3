"""Shared fixtures: the real e5 model (built once per machine into .cache/)
and a real index of the seed document (built once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SEED_FILE = SEEDS / "000_90d63b1abeeeb38e.txt"
MODEL_CACHE = ROOT / ".cache" / "models"
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def model_settings() -> Settings:
    return Settings(model_cache_dir=MODEL_CACHE, data_dir=ROOT / ".cache" / "test-data")


@pytest.fixture(scope="session")
def embedder(model_settings: Settings):  # type: ignore[no-untyped-def]
    from ingest.embed import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model_settings)


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory, model_settings: Settings) -> Settings:
    data = tmp_path_factory.mktemp("seed-data")
    return model_settings.replace(data_dir=data, index_dir=data / "index")


@pytest.fixture(scope="session")
def seed_index(seed_settings: Settings, embedder):  # type: ignore[no-untyped-def]
    from ingest.index import load_index
    from ingest.pipeline import ingest

    ingest([SEEDS], seed_settings, embedder)
    return load_index(seed_settings.resolved_index_dir)


@pytest.fixture(scope="session")
def assistant(seed_settings: Settings, embedder, seed_index):  # type: ignore[no-untyped-def]
    from qa.assistant import Assistant

    return Assistant(seed_settings, embedder, index=seed_index)
