"""Headless Chromium for the page tests (the built docs, the explorer), through Playwright.

A test module asks for it with::

    @pytest.fixture(scope="module")
    def browser():
        yield from chromium_browser()

Skips with a message when Playwright or a Chromium binary is missing (CI installs Debian's
``chromium``; set ``TCONV_CHROMIUM`` to use another binary).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: offline, sandbox-free headless flags: nothing may reach the network behind the test's back
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str | None:
    """The Chromium binary: ``$TCONV_CHROMIUM``, Debian's paths, or ``PATH``; ``None`` if none."""
    for cand in (os.environ.get("TCONV_CHROMIUM"), "/usr/bin/chromium",
                 "/usr/bin/chromium-browser", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


def chromium_browser() -> Iterator[Any]:
    """Launch headless Chromium, yield the Playwright browser, close it afterwards (a fixture's
    body); skip when Playwright or Chromium is missing."""
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (python package) is not installed")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium found (looked at $TCONV_CHROMIUM, /usr/bin/chromium, PATH); "
                    "install Debian's chromium: apt-get install chromium")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()
