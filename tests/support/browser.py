"""Launch the system Chromium (Debian package) through Playwright for Python.

Playwright's own browser download (``playwright install``) is not available here,
so tests drive ``/usr/bin/chromium`` from the Debian ``chromium`` package instead.
Install it (plus CJK fonts, so Chinese text renders in screenshots) with::

    apt-get install -y chromium chromium-driver fonts-noto-cjk

Usage::

    from playwright.sync_api import sync_playwright
    from tests.support.browser import launch_chromium

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        ...
        browser.close()
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM_PATH = "/usr/bin/chromium"

CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def launch_chromium(playwright: Playwright) -> Browser:
    """Return a headless system-Chromium browser launched by ``playwright``.

    Raises ``RuntimeError`` (never skips) when ``/usr/bin/chromium`` is missing.
    """
    if not (os.path.isfile(CHROMIUM_PATH) and os.access(CHROMIUM_PATH, os.X_OK)):
        raise RuntimeError("Chromium not found at /usr/bin/chromium: run `apt-get install -y chromium`")
    return playwright.chromium.launch(
        executable_path=CHROMIUM_PATH,
        headless=True,
        args=list(CHROMIUM_ARGS),
    )
