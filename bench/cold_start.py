"""Cold start: from ``python app.py`` to the first answer of its ``/ask`` API, on an existing index."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.25


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _try_ask(url: str, question: str) -> dict[str, Any] | None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
        return client.predict(question, api_name="/ask")
    except Exception:  # not up yet: connection refused, config not served, queue not ready
        return None


def measure_cold_start(index_dir: Path, model_cache: Path, data_dir: Path, question: str, timeout: float = 300) -> dict:
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "YIJU_INDEX_DIR": str(index_dir),
        "YIJU_MODEL_CACHE_DIR": str(model_cache),
        "YIJU_DATA_DIR": str(data_dir),
    }
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        while time.perf_counter() - started < timeout:
            if proc.poll() is not None:
                return {
                    "error": f"app.py exited with {proc.returncode}: {proc.stderr.read()[-2000:] if proc.stderr else ''}"
                }
            record = _try_ask(url, question)
            if record is not None:
                return {
                    "seconds_to_first_answer": round(time.perf_counter() - started, 2),
                    "refused": bool(record.get("refused")) if isinstance(record, dict) else None,
                    "answer_latency_ms": record.get("latency_ms") if isinstance(record, dict) else None,
                }
            time.sleep(POLL_SECONDS)
        return {"error": f"no answer within {timeout:.0f} s"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
