"""``python app.py``: the web app on http://127.0.0.1:7860.

Settings come from ``YIJU_*`` environment variables (see ``core.settings``);
host and port from Gradio's own ``GRADIO_SERVER_NAME`` / ``GRADIO_SERVER_PORT``.
On first start the seed documents (``YIJU_SEED_DIR``, default ``seeds/``)
are ingested. Optional login: ``YIJU_AUTH_USER`` and ``YIJU_AUTH_PASSWORD``.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

from core.errors import YijuError
from core.settings import Settings

CONCURRENCY = 2  # answers run on the CPU; more parallel work would only slow each one down
QUEUE_SIZE = 64  # beyond this, new requests are told the queue is full instead of waiting forever


def _auth(settings: Settings) -> tuple[str, str] | None:
    password = settings.auth_password.get_secret_value() if settings.auth_password else ""
    if bool(settings.auth_user) != bool(password):
        raise YijuError("YIJU_AUTH_USER 与 YIJU_AUTH_PASSWORD 需要同时设置（或都不设置）。")
    return (settings.auth_user, password) if settings.auth_user else None


def _address() -> tuple[str, int]:
    host = os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = os.environ.get("GRADIO_SERVER_PORT") or "7860"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise YijuError(f"GRADIO_SERVER_PORT 必须是 1–65535 之间的端口号（现在是 {port!r}）。")
    return host, int(port)


def _warm_up() -> None:
    """Read the tables questions need (IDF, then the English-Chinese dictionary) before the first question."""
    from qa import terms, translate

    terms.preload()
    translate.preload()


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
        auth = _auth(settings)
        host, port = _address()
        from ui.serve import StartingPage
        from ui.services import build_services

        # Until the model and the first index are ready, the address shows what is being prepared.
        with StartingPage(host, port) as starting:

            def echo(line: str) -> None:
                print(line, flush=True)
                starting.say(line.strip())

            services = build_services(settings, echo=echo)
    except YijuError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    threading.Thread(target=_warm_up, name="warm-up", daemon=True).start()
    _serve(services, settings, auth, host, port)
    return 0


def _serve(services: Any, settings: Settings, auth: tuple[str, str] | None, host: str, port: int) -> None:
    import gradio as gr
    import uvicorn
    from fastapi import FastAPI

    from ui.assets import CSS, HEAD, theme
    from ui.blocks import build_demo
    from ui.serve import ChinesePage

    demo = build_demo(services)
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    hard_limit_mb = int(max(settings.max_upload_mb * 4, settings.max_upload_mb + 10))
    app = gr.mount_gradio_app(
        FastAPI(openapi_url=None, docs_url=None, redoc_url=None),
        demo,
        path="/",
        server_name=host,
        server_port=port,
        auth=auth,
        auth_message="请登录后使用依据文档问答。" if auth else None,
        theme=theme(),
        css=CSS,
        head=HEAD,
        # Gradio's own guard against huge uploads; the exact limit is checked later with a Chinese message.
        max_file_size=f"{hard_limit_mb}mb",
        footer_links=["api"],
        show_error=False,
    )
    app.add_middleware(ChinesePage)
    print(f"依据已启动：http://{host}:{port}/", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")


if __name__ == "__main__":
    sys.exit(main())
