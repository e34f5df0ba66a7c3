"""Load test of the running app through ``gradio_client`` on 127.0.0.1.

``python -m bench.load_test [--users 20] [--seconds 120] [--url URL] [--out DIR]``

Without ``--url`` it starts ``python app.py`` itself on a free loopback port
(so it can sample the server's memory), waits until ``/ask`` answers, then
lets ``--users`` simulated users ask seed questions in a loop until
``--seconds`` have passed (bounded in time and in requests per user). It
reports requests served, errors, p50/p95 latency and the server's RSS over
time, as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

QUESTIONS = [
    "我国中小微企业有多少户？",
    "个体工商户有多少户？",
    "祥符区引进项目的投资总额是多少？",
    "2023年居民存款新增多少？",
    "专利产业化样板企业培育库设定了多少个评价指标？",
    "开实体店为什么越来越难？",
    "2022年全国个体工商户有多少户？",
    "王斌建议中小企业从哪几方面发力？",
]
MAX_REQUESTS_PER_USER = 500


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_app(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port)}
    return subprocess.Popen([sys.executable, "app.py"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_ready(url: str, timeout: float = 300) -> None:
    from gradio_client import Client

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            Client(url, verbose=False).predict(QUESTIONS[0], api_name="/ask")
            return
        except Exception:  # not up yet
            time.sleep(1)
    raise SystemExit(f"app at {url} did not answer within {timeout:.0f} s")


def _user(url: str, deadline: float, tally: Tally, seed: int) -> None:
    from gradio_client import Client

    rng = random.Random(seed)
    client = Client(url, verbose=False)
    for _ in range(MAX_REQUESTS_PER_USER):
        if time.time() >= deadline:
            return
        started = time.perf_counter()
        try:
            record = client.predict(rng.choice(QUESTIONS), api_name="/ask")
            if isinstance(record, str):
                record = json.loads(record)
            assert "answer" in record and "refused" in record
            with tally.lock:
                tally.latencies.append((time.perf_counter() - started) * 1000)
        except Exception as exc:
            with tally.lock:
                tally.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def _sample_rss(pid: int | None, stop: threading.Event, samples: list[float]) -> None:
    if pid is None:
        return
    import psutil

    proc = psutil.Process(pid)
    while not stop.wait(5):
        try:
            samples.append(proc.memory_info().rss / 1e6)
        except psutil.Error:
            return


def run(url: str | None, users: int, seconds: float) -> dict[str, object]:
    server = None
    if url is None:
        port = _free_port()
        server = _start_app(port)
        url = f"http://127.0.0.1:{port}/"
    try:
        _wait_ready(url)
        tally, stop, rss = Tally(), threading.Event(), []
        sampler = threading.Thread(target=_sample_rss, args=(server.pid if server else None, stop, rss))
        sampler.start()
        deadline = time.time() + seconds
        threads = [threading.Thread(target=_user, args=(url, deadline, tally, i)) for i in range(users)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=seconds + 600)
        stop.set()
        sampler.join()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
    lat = sorted(tally.latencies)
    return {
        "users": users,
        "seconds": seconds,
        "requests_served": len(lat),
        "errors": len(tally.errors),
        "error_samples": tally.errors[:5],
        "latency_ms_p50": round(statistics.median(lat), 1) if lat else None,
        "latency_ms_p95": round(lat[int(0.95 * (len(lat) - 1))], 1) if lat else None,
        "throughput_rps": round(len(lat) / seconds, 2),
        "server_rss_mb_first": round(rss[0], 1) if rss else None,
        "server_rss_mb_last": round(rss[-1], 1) if rss else None,
        "server_rss_mb_max": round(max(rss), 1) if rss else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_test", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="an app that is already running (default: start one on 127.0.0.1)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--out", type=Path, default=Path("bench/results/load"))
    args = parser.parse_args(argv)
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("the load test only targets this machine (127.0.0.1 / localhost)")
    result = run(args.url, args.users, args.seconds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "load.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), "utf-8")
    rows = "\n".join(f"| {k} | {v} |" for k, v in result.items() if k != "error_samples")
    (args.out / "load.md").write_text(f"# Load test\n\n| metric | value |\n|---|---|\n{rows}\n", "utf-8")
    print(rows)
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
