"""The documentation site builds (strict: a warning or a failing tutorial cell fails it) and
works offline.

The build runs once per session into a temporary folder. Then, without a browser: every
internal link and image of every page resolves (anchors included), and no page, script or
stylesheet refers to another host. In headless Chromium (skipped when Playwright or a
Chromium binary is missing; CI installs Debian's ``chromium``): every page loads from
``file://`` with no request outside it and no script error, and the embedded explorer runs
its self-check.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from _browser import chromium_browser

ROOT = Path(__file__).resolve().parents[1]
#: tutorials whose code runs at build time, and the text their output must show
EXECUTED = {
    "tutorials/walkthrough.html": ["[[122. 148.]", "equals conv_transpose: True"],
    "tutorials/walkthrough.zh.html": ["转置卷积", "卷积矩阵", "棋盘效应",
                                      "与 conv_transpose 相同: True"],
    "tutorials/decoder.html": ["taps per phase [4, 2, 2, 1]", "uneven: True"],
    "tutorials/shapes.html": ["refused:", "(16,)"],
    "tutorials/upscaling.html": ["(128, 128, 3) uint8 -&gt; (256, 256, 3) uint8"],
    "install.html": ['pip install "tconv[torch]"'],
}


@pytest.fixture(scope="session")
def site(tmp_path_factory, request) -> Path:
    """The site, built once per test run (pytest-xdist workers share it under a lock)."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("material", reason="the docs extra is not installed")
    shared = tmp_path_factory.getbasetemp()
    if hasattr(request.config, "workerinput"):        # a pytest-xdist worker
        shared = shared.parent
    out = shared / "docs-site"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        failed = shared / "docs-site.failed"
        if failed.exists():
            pytest.fail(failed.read_text())
        if not (out / "index.html").exists():
            env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict",
                                   "--site-dir", str(out), "--config-file",
                                   str(ROOT / "mkdocs.yml")],
                                  cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=600)
            if done.returncode != 0:
                failed.write_text(done.stdout[-4000:] + done.stderr[-6000:])
                pytest.fail(failed.read_text())
            print(f"docs built in {time.perf_counter() - t0:.1f} s")
    return out


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html")
                  if p.name != "404.html" and "explorer" not in p.parent.name)


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and not (tag == "a" and key == "src"):
                self.refs.append((tag, a[key]))


def _parse(path: Path) -> _Refs:
    p = _Refs()
    p.feed(path.read_text(encoding="utf-8"))
    return p


def test_pages_built(site):
    pages = {p.relative_to(site).as_posix() for p in _pages(site)}
    for name in ("index.html", "install.html", "gallery.html", "explorer.html",
                 "tutorials/walkthrough.html", "tutorials/walkthrough.zh.html",
                 "tutorials/decoder.html", "tutorials/shapes.html", "tutorials/upscaling.html",
                 "performance.html", "api/tconv.html", "api/nn.html", "api/conventions.html"):
        assert name in pages, name
    assert (site / "explorer" / "tconv-explorer.html").is_file()


@pytest.mark.parametrize("page,shown", sorted(EXECUTED.items()))
def test_tutorial_code_ran(site, page, shown):
    text = (site / page).read_text(encoding="utf-8")
    for s in shown:
        assert s in text, (page, s)
    assert "Traceback" not in text


def test_api_reference_from_docstrings(site):
    text = (site / "api" / "tconv.html").read_text(encoding="utf-8")
    for name in ("conv_transpose", "conv_matrix", "interpolate", "output_padding_for"):
        assert re.search(rf'id="tconv\.(?:\w+\.)?{name}"', text), name
    assert "Shape" in text


def test_gallery_has_captioned_figures(site):
    text = (site / "gallery.html").read_text(encoding="utf-8")
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", text, flags=re.S)
    assert len(captions) >= 20
    assert not any(re.fullmatch(r"[\w./-]+\.(png|gif)", c.strip()) for c in captions)
    assert text.count(".gif") >= 3


def test_internal_links_and_no_other_host(site):
    ids = {p: _parse(p).ids for p in site.rglob("*.html")}
    broken, remote = [], []
    for page in _pages(site):
        for tag, ref in _parse(page).refs:
            parts = urlsplit(ref)
            if parts.scheme in ("http", "https") or ref.startswith("//"):
                if tag != "a":                 # a link the reader may follow is fine
                    remote.append((page.name, ref))
                continue
            if parts.scheme in ("data", "mailto", "javascript", "blob"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append((page.relative_to(site).as_posix(), ref))
            elif parts.fragment and target.suffix == ".html" and target in ids \
                    and parts.fragment not in ids[target]:
                broken.append((page.relative_to(site).as_posix(), ref))
    assert not broken, broken[:20]
    assert not remote, remote[:20]
    for asset in list(site.rglob("*.css")) + list(site.rglob("*.js")):
        text = asset.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"""(?:@import|url\()\s*['"]?https?://""", text), asset


# ------------------------------------------------------------------ in a browser


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


def _open(browser, url: str):
    page = browser.new_page()
    outside, errors = [], []

    def route(r):
        scheme = urlsplit(r.request.url).scheme
        if scheme in ("file", "data", "blob", "about"):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url, wait_until="load")
    return page, outside, errors


def test_every_page_loads_offline(site, browser):
    for path in _pages(site):
        page, outside, errors = _open(browser, path.as_uri())
        try:
            assert page.title(), path
            assert page.locator("article").count() == 1, path
            page.wait_for_timeout(50)
            assert not outside, (path.name, outside)
            assert not errors, (path.name, errors)
        finally:
            page.close()


def test_search_works_offline(site, browser):
    page, outside, errors = _open(browser, (site / "index.html").as_uri())
    try:
        page.fill("input[data-md-component='search-query']", "checkerboard")
        page.wait_for_selector(".md-search-result__item", timeout=15000)
        assert not outside and not errors, (outside, errors)
    finally:
        page.close()


def test_embedded_explorer_runs(site, browser):
    page, outside, errors = _open(browser, (site / "explorer.html").as_uri())
    try:
        iframe = page.locator("iframe[src$='tconv-explorer.html']")
        assert iframe.count() == 1
        iframe.scroll_into_view_if_needed()
        frame = page.frame_locator("iframe[src$='tconv-explorer.html']")
        check = frame.locator("#selfcheck")
        check.wait_for(timeout=20000)
        deadline = time.monotonic() + 20
        while "agrees with tconv" not in (check.text_content() or "") \
                and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        text = check.text_content() or ""
        assert "agrees with tconv" in text and "FAILED" not in text, text
        assert not outside, outside
        assert not errors, errors
    finally:
        page.close()
