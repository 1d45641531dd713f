"""The explorer page in a real headless Chromium: its JavaScript equals the library.

Shared test vectors: tconv computes output sizes, error messages and the non-zeros of C / Cᵀ
for a few hundred configurations (valid and invalid); the page's functions compute the same
in Chromium (``page.evaluate``) and the two must be identical. Then the page is used as a
person would: change parameters, click a cell, read the highlighted cells and the output
size, take a screenshot.

Skips with a message when Playwright or a Chromium binary is missing (CI installs Debian's
``chromium``; set ``TCONV_CHROMIUM`` to use another binary).
"""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

import tconv
from tconv.viz.explore import explorer_html, library_case

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str | None:
    for cand in (os.environ.get("TCONV_CHROMIUM"), "/usr/bin/chromium",
                 "/usr/bin/chromium-browser", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).exists():
            return cand
    return None


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright (python package) is not installed")
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (looked at $TCONV_CHROMIUM, /usr/bin/chromium, PATH); "
                    "install Debian's chromium: apt-get install chromium")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, tmp_path):
    path = tmp_path / "explorer.html"
    path.write_text(explorer_html(), encoding="utf-8")
    pg = browser.new_page(viewport={"width": 1300, "height": 900})
    remote, errors = [], []
    pg.route("**/*", lambda route: (route.continue_() if route.request.url.startswith("file:")
                                    else (remote.append(route.request.url), route.abort())))
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.goto(path.as_uri())
    yield pg
    assert remote == [], f"the page tried to reach the network: {remote}"
    assert errors == [], f"JavaScript errors: {errors}"
    pg.close()


# ---------------------------------------------------------------- shared test vectors


def _configs(n: int = 400, seed: int = 0) -> list[dict]:
    """Valid and invalid page configurations, drawn from a fixed seed."""
    rng = np.random.default_rng(seed)

    def small(lo: int, hi: int):
        r = rng.random()
        if r < 0.6:
            return int(rng.integers(lo, hi + 1))
        if r < 0.93:
            return tuple(int(v) for v in rng.integers(lo, hi + 1, size=2))
        return tuple(int(v) for v in rng.integers(lo, hi + 1, size=int(rng.choice([1, 3]))))

    out = []
    for _ in range(n):
        r = rng.random()
        if r < 0.75:
            size = tuple(int(v) for v in rng.integers(1, 7, size=2))
        elif r < 0.85:
            size = int(rng.integers(-1, 9))
        elif r < 0.93:
            size = tuple(int(v) for v in rng.integers(0, 5, size=int(rng.choice([1, 3, 4]))))
        else:
            size = str(rng.choice(["4x4", "", "four"]))
        r = rng.random()
        if r < 0.7:
            padding = small(0, 3) if rng.random() < 0.9 else small(-1, 2)
        elif r < 0.85:
            padding = str(rng.choice(["same", "valid", "same_lower", "SAME", "full"]))
        else:
            padding = tuple(tuple(int(v) for v in rng.integers(0, 3, size=2))
                            for _ in range(int(rng.choice([1, 2, 2, 2]))))
        out.append(dict(transposed=bool(rng.random() < 0.6), input_size=size,
                        kernel_size=small(0, 4) if rng.random() < 0.1 else small(1, 4),
                        stride=small(1, 3) if rng.random() < 0.95 else small(0, 2),
                        padding=padding,
                        dilation=small(1, 3) if rng.random() < 0.95 else 0,
                        output_padding=small(0, 2)))
    return out


def test_oracle_shared_vectors(page):
    """Output sizes, error types and messages, and every non-zero (row, column, tap) of
    C or Cᵀ: the page's JavaScript == tconv, on 400 seeded configurations."""
    cases = [library_case(c, max_cells=400) for c in _configs()]
    n_ok = sum(c["ok"] for c in cases)
    assert 120 < n_ok < len(cases) - 80            # both branches well covered
    got = page.evaluate("""(cases) => cases.map(c => {
        const r = TC.outputSize(c.params);
        if (r.ok && c.entries) r.entries = TC.entries(TC.resolve(c.params));
        return r; })""", cases)
    for want, have in zip(cases, got):
        assert have["ok"] == want["ok"], (want, have)
        if want["ok"]:
            assert have["out"] == want["out"], want["params"]
            if "entries" in want:
                assert have["entries"] == want["entries"], want["params"]
        else:
            assert have["error"] == want["error"], want["params"]


def test_self_check(page):
    text = page.text_content("#selfcheck")
    assert "agrees with tconv" in text and "FAILED" not in text


# ---------------------------------------------------------------- the page, used


def _classes(page, grid: str, cls: str) -> list[int]:
    return page.eval_on_selector_all(f"#{grid} .cell.{cls}",
                                     "els => els.map(e => +e.dataset.idx)")


def _set(page, **fields):
    for key, value in fields.items():
        page.fill(f"#f-{key}", value)


def test_conv_receptive_field(page):
    """Default conv 4x4 * 3x3: clicking output cell 3 shades row 3 of conv_matrix."""
    assert page.text_content("#out-size") == "(2, 2)"
    page.click('#grid-out .cell[data-idx="3"]')
    C = tconv.conv_matrix(np.ones((1, 1, 3, 3)), (4, 4), sparse=False)
    assert _classes(page, "grid-in", "hit") == np.flatnonzero(C[3]).tolist()
    assert _classes(page, "grid-out", "src") == [3]
    assert page.eval_on_selector_all("#matrix .m.sel-row", "e => e.length") == 16
    assert page.eval_on_selector_all("#matrix .m.nz.sel-row", "e => e.length") == 9
    assert "row 3 of C: reads 9 input cells (many-to-one)" in page.text_content("#info")
    # tap names written in the shaded cells: w00 ... w22 in order
    names = page.eval_on_selector_all("#grid-in .cell.hit", "els => els.map(e => e.textContent)")
    assert names == [f"w{r}{c}" for r in range(3) for c in range(3)]


@pytest.mark.parametrize("cfg", [
    dict(input_size="2, 2", kernel_size="3", stride="1", padding="0", output_padding="0"),
    dict(input_size="3, 3", kernel_size="3", stride="2", padding="1", output_padding="1"),
    dict(input_size="2, 3", kernel_size="3, 2", stride="2, 3", padding="1, 0",
         output_padding="1, 0", dilation="1, 2"),
])
def test_transposed_footprint(page, cfg, tmp_path):
    """conv_transpose: clicking an input cell shades exactly what conv_transpose writes."""
    page.click("#mode-transpose")
    _set(page, **cfg)
    parse = lambda t: tuple(int(v) for v in t.split(","))  # noqa: E731
    size = parse(cfg["input_size"])
    k = parse(cfg["kernel_size"]) * (2 // len(parse(cfg["kernel_size"])))
    kw = dict(stride=parse(cfg["stride"]), padding=parse(cfg["padding"]),
              output_padding=parse(cfg["output_padding"]),
              dilation=parse(cfg.get("dilation", "1")))
    out = tconv.conv_transpose_output_size(size, k, **kw)
    assert page.text_content("#out-size") == str(tuple(out))
    for i, idx in enumerate(itertools.product(*map(range, size))):
        e = np.zeros(size)
        e[idx] = 1
        y = tconv.conv_transpose(e[None, None], np.ones((1, 1, *k)), **kw)[0, 0]
        page.click(f'#grid-in .cell[data-idx="{i}"]')
        assert _classes(page, "grid-out", "hit") == np.flatnonzero(y).tolist()
        assert f"column {i} of Cᵀ" in page.text_content("#info")
        n_col = page.eval_on_selector_all("#matrix .m.nz.sel-col", "e => e.length")
        assert n_col == np.count_nonzero(y)


def test_padding_ring_and_hover(page):
    """conv with padding: the window of output (0, 0) covers 4 input and 5 padding cells;
    hovering previews another cell, leaving restores the clicked one."""
    _set(page, padding="1", stride="2")
    assert page.text_content("#out-size") == str(tconv.conv_output_size((4, 4), 3, 2, 1))
    assert page.eval_on_selector_all("#grid-in .cell.pad", "e => e.length") == 6 * 6 - 16
    page.click('#grid-out .cell[data-idx="0"]')
    C = tconv.conv_matrix(np.ones((1, 1, 3, 3)), (4, 4), 2, 1, sparse=False)
    assert _classes(page, "grid-in", "hit") == np.flatnonzero(C[0]).tolist()
    assert page.eval_on_selector_all("#grid-in .cell.padhit", "e => e.length") == 9 - 4
    page.hover('#grid-out .cell[data-idx="3"]')
    assert _classes(page, "grid-out", "src") == [3]
    assert _classes(page, "grid-in", "hit") == np.flatnonzero(C[3]).tolist()
    page.hover("h1")
    assert _classes(page, "grid-out", "src") == [0]


def test_transposed_crop_ring(page):
    """conv_transpose 3x3 -> 6x6 (k3, s2, p1, op1): the dashed ring is the crop; a corner
    input's footprint is 4 kept cells + 5 cropped ones."""
    page.click("#mode-transpose")
    _set(page, input_size="3, 3", stride="2", padding="1", output_padding="1")
    # cropped: 1 row/column low, 1 - output_padding = 0 high
    assert page.eval_on_selector_all("#grid-out .cell.pad", "e => e.length") == 7 * 7 - 36
    page.click('#grid-in .cell[data-idx="0"]')
    e = np.zeros((3, 3))
    e[0, 0] = 1
    y = tconv.conv_transpose(e[None, None], np.ones((1, 1, 3, 3)), None, 2, 1, 1)[0, 0]
    assert _classes(page, "grid-out", "hit") == np.flatnonzero(y).tolist()
    assert page.eval_on_selector_all("#grid-out .cell.padhit", "e => e.length") == 9 - 4
    assert "cropped away" in page.text_content("#info")


def test_errors_match_library(page):
    page.click("#mode-transpose")
    _set(page, input_size="2, 2", stride="2", output_padding="2")
    with pytest.raises(ValueError) as exc:
        tconv.conv_transpose_output_size((2, 2), 3, 2, 0, 2, 1)
    assert page.text_content("#error") == f"ValueError: {exc.value}"
    assert page.text_content("#out-size") == "error"
    assert page.eval_on_selector_all("#grid-out .cell", "e => e.length") == 0
    _set(page, output_padding="1", padding="full")
    with pytest.raises(ValueError) as exc:
        tconv.conv_transpose_output_size((2, 2), 3, 2, "full", 1, 1)
    assert page.text_content("#error") == f"ValueError: {exc.value}"
    page.click("#mode-conv")
    _set(page, padding="same")
    with pytest.raises(ValueError) as exc:
        tconv.conv_output_size((2, 2), 3, 2, "same", 1)
    assert page.text_content("#error") == f"ValueError: {exc.value}"
    _set(page, stride="1")
    assert page.text_content("#out-size") == "(2, 2)" and page.is_hidden("#error")


def test_screenshot(page, tmp_path):
    """A screenshot of the strided transposed case with a cell clicked; saved as PNG."""
    Image = pytest.importorskip("PIL.Image")
    page.click("#mode-transpose")
    _set(page, input_size="3, 3", stride="2", padding="1", output_padding="1")
    page.click('#grid-in .cell[data-idx="4"]')
    shot = Path(os.environ.get("TCONV_SCREENSHOT_DIR", tmp_path)) / "explorer.png"
    page.screenshot(path=str(shot), full_page=True)
    im = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert im.shape[0] > 400 and im.shape[1] > 800
    from tconv.viz._style import COLORS
    dark = np.array([int(COLORS["output_active"][i:i + 2], 16) for i in (1, 3, 5)])
    # 9 reached output cells of 34x34 px, dark cyan
    assert (np.abs(im - dark).sum(axis=-1) < 10).sum() > 9 * 25 * 25
