"""The explorer page in a real headless Chromium: its numbers equal the library's.

Shared test vectors: tconv computes output sizes, error messages, the non-zeros of C / Cᵀ and
the numbers of every view (output, scatter partial sums, zero-inserted grid and its wasted
multiplications, matrix values, sub-pixel phases, checkerboard overlap and constant-input
responses) on seeded configurations; the page's functions (``TC``, ``EX``) compute the same in
Chromium (``page.evaluate``) and the two must agree. Then the page is used as a person would:
play, step, edit a cell (mouse and keyboard), hover across views, share the URL, switch the
language and the theme; screenshots of every view at 4x4 and 32x32 are saved.

Skips with a message when Playwright or a Chromium binary is missing (CI installs Debian's
``chromium``; set ``TCONV_CHROMIUM`` to use another binary). Screenshots go to the test's
``tmp_path`` and to ``out/explorer-screenshots/`` (git-ignored), or ``$TCONV_SCREENSHOT_DIR``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _browser import chromium_browser

import tconv
from tconv import checkerboard as cb
from tconv._algorithms.phase import phase_taps
from tconv.conv import transposed_params
from tconv.viz._geometry import _op_matrix, geometry, zero_insertion_view
from tconv.viz.explore import explorer_html, library_case

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def browser():
    yield from chromium_browser()


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("explorer") / "explorer.html"
    path.write_text(explorer_html(), encoding="utf-8")
    return path


@pytest.fixture
def open_page(browser, page_path):
    """``open_page(hash="", width=1366)``: a fresh tab on the page; no request may leave it."""
    pages, remote, errors = [], [], []

    def _open(hash: str = "", width: int = 1366):
        pg = browser.new_page(viewport={"width": width, "height": 900})
        pg.route("**/*", lambda route: (route.continue_()
                                        if route.request.url.startswith("file:")
                                        else (remote.append(route.request.url),
                                              route.abort())))
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.goto(page_path.as_uri() + (f"#{hash}" if hash else ""))
        pages.append(pg)
        return pg

    yield _open
    for pg in pages:
        pg.close()
    assert remote == [], f"the page tried to reach the network: {remote}"
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture
def page(open_page):
    return open_page()


# ---------------------------------------------------------------- shared test vectors


def _configs(n: int = 300, seed: int = 0) -> list[dict]:
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
    """Output sizes, error types and messages, every non-zero (row, column, tap) of C or Cᵀ
    and the output values: the page's JavaScript == tconv, on 300 seeded configurations and
    8 oversized ones (the size limit's message)."""
    huge = [dict(transposed=t, input_size=size, kernel_size=3, stride=s, padding=0, dilation=1,
                 output_padding=0)
            for t in (False, True) for size, s in (((100000, 100000), 1), (50000, 2),
                                                   ((3, 3), 10**9), ((70000, 40000), 1))]
    cases = [library_case(c, max_cells=400) for c in _configs() + huge]
    n_ok = sum(c["ok"] for c in cases)
    assert 90 < n_ok < len(cases) - 60             # both branches well covered
    got = page.evaluate("""(cases) => cases.map(c => {
        const r = TC.outputSize(c.params);
        if (r.ok && c.entries) {
            const g = TC.resolve(c.params);
            r.entries = TC.entries(g);
            const x = Array.from({length: TC.prod(g.inSize)}, (_, i) => i % 4 + 1);
            const w = Array.from({length: TC.prod(g.kernel)}, (_, i) => i % 3 + 1);
            r.y = EX.forward(g, x, w);
        }
        return r; })""", cases)
    for want, have in zip(cases, got):
        assert have["ok"] == want["ok"], (want, have)
        if want["ok"]:
            assert have["out"] == want["out"], want["params"]
            if "entries" in want:
                assert have["entries"] == want["entries"], want["params"]
                assert have["y"] == want["y"], want["params"]
        else:
            assert have["error"] == want["error"], want["params"]


def _view_configs(n: int = 120, seed: int = 1) -> list[dict[str, Any]]:
    """Valid 1-D and 2-D configurations of both ops: strides, padding ints / pairs / strings,
    dilation, output_padding; seeded integer inputs 1-4 and kernels -2..4."""
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    while len(out) < n:
        nd = 1 if rng.random() < 0.3 else 2

        def per(lo, hi, nd=nd):
            v = [int(a) for a in rng.integers(lo, hi + 1, size=nd)]
            return v[0] if nd == 1 or rng.random() < 0.5 else v

        transposed = bool(rng.random() < 0.7)
        size = [int(a) for a in rng.integers(1, 6, size=nd)]
        k, s, d = per(1, 4), per(1, 3), per(1, 2) if rng.random() < 0.3 else 1
        r = rng.random()
        if r < 0.55:
            padding: Any = per(0, 2)
        elif r < 0.75:
            padding = [[int(a) for a in rng.integers(0, 3, size=2)] for _ in range(nd)]
        else:
            padding = str(rng.choice(["same", "valid"] + (["same_lower"] if transposed else [])))
        params = dict(transposed=transposed, input_size=size, kernel_size=k, stride=s,
                      padding=padding, dilation=d,
                      output_padding=per(0, 2) if transposed and not isinstance(padding, str)
                      else 0)
        if not library_case(params, max_cells=0)["ok"]:
            continue
        kk = [k] * nd if isinstance(k, int) else k
        out.append(dict(params=params, x=rng.integers(1, 5, size).tolist(),
                        w=rng.integers(-2, 5, kk).tolist()))
    return out


def _py(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_py(a) for a in v)
    return v


def _kw(p: dict[str, Any]) -> dict[str, Any]:
    kw = dict(stride=_py(p["stride"]), padding=_py(p["padding"]), dilation=_py(p["dilation"]))
    if p["transposed"]:
        kw["output_padding"] = _py(p["output_padding"])
    return kw


def _lift(v: Any, fill: Any) -> Any:
    """A 1-D argument as the 2-D one of a (1, n) image."""
    if isinstance(v, str):
        return v
    if isinstance(v, list) and v and isinstance(v[0], list):
        return ((0, 0), tuple(v[0]))
    return (fill, v if isinstance(v, int) else v[0])


def test_views_equal_library(page):
    """Every view's numbers, computed in the page, equal tconv's on 120 seeded configurations
    (1-D and 2-D, conv and conv_transpose, strides, padding ints/pairs/strings, dilation,
    output_padding)."""
    cfgs = _view_configs()
    assert sum(len(c["params"]["input_size"]) == 1 for c in cfgs) > 20
    assert sum(isinstance(c["params"]["padding"], str) for c in cfgs) > 15
    assert sum(c["params"]["transposed"] and c["params"]["output_padding"] not in (0, [0, 0])
               for c in cfgs) > 10
    got = page.evaluate("""(cfgs) => cfgs.map(c => {
        const g = TC.resolve(c.params), x = c.x.flat(), w = c.w.flat();
        const ents = TC.entries(g), n = TC.prod(g.inSize), sl = EX.sliding(g, x, w);
        const ph = EX.phases(g, x, w), ck = EX.checker(g, w, ents);
        return {y: EX.forward(g, x, w, ents), half: EX.scatter(g, x, w, n >> 1, ents),
                matrix: EX.matrix(g, w, ents),
                sliding: {shape: sl.shape, kind: sl.kind, values: sl.values, kernel: sl.kernel,
                          step: sl.step, y: sl.y, wasted: sl.wasted.reduce((a, b) => a + b, 0)},
                phases: ph && ph.phases.map(p => ({r: p.r, taps: p.taps, values: p.values})),
                phase_y: ph && ph.y,
                checker: {overlap: ck.overlap, uneven: ck.uneven, count: ck.count,
                          constant: ck.constant, resize: ck.resize, icnr: ck.icnr}};
    })""", cfgs)
    for c, h in zip(cfgs, got):
        p, where = c["params"], c["params"]
        T, nd = p["transposed"], len(p["input_size"])
        x = np.array(c["x"], float)
        w = np.array(c["w"], float)
        op = tconv.conv_transpose if T else tconv.conv
        kw = _kw(p)
        y = op(x[None, None], w[None, None], **kw)[0, 0]
        np.testing.assert_allclose(h["y"], y.ravel(), err_msg=str(where))
        # scatter: the first half of the inputs added == the op on the masked input
        half = np.where(np.arange(x.size).reshape(x.shape) < x.size // 2, x, 0)
        np.testing.assert_allclose(h["half"], op(half[None, None], w[None, None], **kw).ravel(),
                                   err_msg=str(where))
        # matrix: the values of M (C or Cᵀ) from the library's op on one-hot inputs
        M = _op_matrix(op, w, tuple(x.shape), **kw)
        dense = np.zeros_like(M)
        for r, col, v in h["matrix"]:
            dense[r, col] = v
        np.testing.assert_allclose(dense, M, err_msg=str(where))
        nnz = len(h["matrix"])
        # sliding window / zero insertion: the grid and its direct convolution
        sl = h["sliding"]
        grid = np.array(sl["values"], float).reshape(sl["shape"])
        kernel = np.array(sl["kernel"], float).reshape(w.shape)
        y2 = tconv.conv(grid[None, None], kernel[None, None], stride=tuple(sl["step"]),
                        dilation=_py(p["dilation"]))[0, 0]
        np.testing.assert_allclose(y2, y, err_msg=str(where))
        np.testing.assert_allclose(sl["y"], y.ravel(), err_msg=str(where))
        assert sl["wasted"] == y.size * w.size - nnz, where
        if T:
            if nd == 1:
                g = geometry((1, x.size), (1, w.size), _lift(p["stride"], 1),
                             _lift(p["padding"], 0), _lift(p["dilation"], 1),
                             _lift(p["output_padding"], 0), transposed=True, x=x[None],
                             weight=w[None])
            else:
                g = geometry(tuple(x.shape), w.shape, **{a: _py(b) for a, b in kw.items()},
                             transposed=True, x=x, weight=w)
            v = zero_insertion_view(g)
            np.testing.assert_array_equal(grid.reshape(v.grid.shape), v.grid, err_msg=str(where))
            np.testing.assert_array_equal(np.array(sl["kind"]).reshape(v.kind.shape), v.kind)
        else:
            pr = tconv._checks.conv_params("conv", x_shape=(1, 1, *x.shape),
                                            weight_shape=(1, 1, *w.shape), bias_shape=None,
                                            stride=kw["stride"], padding=kw["padding"],
                                            dilation=kw["dilation"], groups=1, transposed=False)
            np.testing.assert_array_equal(grid, np.pad(x, pr.pad), err_msg=str(where))
        # sub-pixel phases: taps from the library's phase_taps, values == y[r::s]
        if T:
            pt, _ = transposed_params("t", (1, 1, *x.shape), (1, 1, *w.shape), None,
                                      kw["stride"], kw["padding"], kw["output_padding"], 1,
                                      kw["dilation"], None)
            assert len(h["phases"]) == int(np.prod(pt.stride))
            for ph in h["phases"]:
                per_dim = [phase_taps(r, k, s, d, lo) for r, k, s, d, (lo, _) in
                           zip(ph["r"], w.shape, pt.stride, pt.dilation, pt.pad)]
                taps = [t for t, _ in ph["taps"]]
                want = [int(np.ravel_multi_index(t, w.shape))
                        for t in np.array(np.meshgrid(*[d[0] for d in per_dim],
                                                      indexing="ij")).reshape(nd, -1).T]
                assert taps == want, where
                sub = y[tuple(slice(r, None, s) for r, s in zip(ph["r"], pt.stride))]
                np.testing.assert_allclose(ph["values"], sub.ravel(), err_msg=str(where))
            np.testing.assert_allclose(h["phase_y"], y.ravel(), err_msg=str(where))
        else:
            assert h["phases"] is None
        # checkerboard: overlap rule, counts, constant input, resize-conv, pixel shuffle + ICNR
        ck = h["checker"]
        pt_k, pt_s, pt_d = (tconv._checks.as_int_tuple("t", a, _py(p[a]), nd)
                            for a in ("kernel_size", "stride", "dilation"))
        assert ck["overlap"] == cb.overlap_map(pt_k, pt_s, pt_d, ndim=nd).ravel().tolist()
        assert ck["uneven"] == cb.is_uneven(pt_k, pt_s, pt_d), where
        big_axis = 1 if T else 0              # rows of M: outputs; columns: inputs
        np.testing.assert_array_equal(ck["count"], (M != 0).sum(axis=big_axis)
                                      if not (w == 0).any() else ck["count"])
        ones_small = np.ones(y.shape if not T else x.shape)
        const = (op(np.ones_like(x)[None, None], w[None, None], **kw)[0, 0] if T else
                 tconv.conv_transpose(np.ones_like(y)[None, None], w[None, None], **kw,
                                      output_padding=0,
                                      output_size=x.shape)[0, 0])
        np.testing.assert_allclose(ck["constant"], const.ravel(), err_msg=str(where))
        up = ones_small
        for a, s in enumerate(pt_s):
            up = np.repeat(up, s, axis=a)
        resize = tconv.conv(up[None, None], w[None, None], padding="same", dilation=pt_d)
        np.testing.assert_allclose(ck["resize"], resize.ravel(), err_msg=str(where))
        small = tconv.conv(ones_small[None, None], w[None, None], padding="same", dilation=pt_d)
        if nd == 2 and pt_s[0] == pt_s[1]:
            r = pt_s[0]
            icnr_w = np.repeat(w[None, None], r * r, axis=0)     # ICNR: one kernel, r*r copies
            icnr = cb.pixel_shuffle(tconv.conv(ones_small[None, None], icnr_w,
                                               padding="same", dilation=pt_d), r)
        else:
            icnr = small[0, 0]
            for a, s in enumerate(pt_s):
                icnr = np.repeat(icnr, s, axis=a)
        np.testing.assert_allclose(ck["icnr"], np.ravel(icnr), err_msg=str(where))


def test_self_check(page):
    text = page.text_content("#selfcheck")
    assert "agrees with tconv" in text and "FAILED" not in text


# ---------------------------------------------------------------- the page, used


def _set(page, **fields):
    for key, value in fields.items():
        page.fill(f"#f-{key}", value)


def _center(page, canvas: str, i: int, region: int = 0) -> tuple[float, float]:
    """Page coordinates of flat cell ``i`` of a canvas region (for mouse moves and clicks)."""
    return tuple(page.evaluate("""([id, i, k]) => {
        const cv = document.getElementById(id), R = cv._regions[k];
        const r = Math.floor(i / R.cols), c = i % R.cols;
        const cx = R.x + (c + 0.5) * R.cell, cy = R.y + (r + 0.5) * R.cell;
        const box = cv.parentElement;                // the panel that scrolls
        box.scrollTop = Math.max(0, cy - box.clientHeight / 2);
        box.scrollLeft = Math.max(0, cx - box.clientWidth / 2);
        let b = cv.getBoundingClientRect();
        if (b.top + cy < 0 || b.top + cy > innerHeight) {
            window.scrollBy(0, b.top + cy - innerHeight / 2); b = cv.getBoundingClientRect(); }
        return [b.left + cx, b.top + cy]; }""", [canvas, i, region]))


def _linked(page) -> dict[str, Any]:
    return page.evaluate("""() => { const L = linked();
        return {in: [...L.in].sort((a, b) => a - b), out: [...L.out].sort((a, b) => a - b),
                tap: [...L.tap].sort((a, b) => a - b), row: L.row, col: L.col}; }""")


def test_play_pause_and_speed(open_page):
    """Play runs the scatter animation to its end at the chosen speed, then stops."""
    pg = open_page("op=conv_transpose&input=2,2&kernel=3&view=scatter")
    pg.fill("#speed", "0.5")                     # one step per 2 s: still playing below
    pg.click("#btn-play")
    assert pg.evaluate("S.playing") and pg.text_content("#btn-play") == "⏸ pause"
    pg.fill("#speed", "20")                      # faster while playing
    pg.wait_for_function("S.steps.scatter === 4 && !S.playing", timeout=10000)
    assert pg.text_content("#btn-play") == "▶ play"
    assert pg.text_content("#step-label") == "step 4 of 4"
    # partial sums after all four inputs: the article's 4x4 output
    assert pg.evaluate("S.viewData.partial") == [2, 9, 6, 1, 6, 29, 30, 7, 10, 29, 33, 13,
                                                 12, 24, 16, 4]
    pg.click("#btn-reset")
    pg.fill("#speed", "0.5")
    pg.focus("#cv-view")                         # keyboard: Space plays and pauses
    pg.keyboard.press("Space")
    assert pg.evaluate("S.playing")
    pg.keyboard.press("Space")
    assert not pg.evaluate("S.playing") and pg.evaluate("S.steps.scatter") <= 1


def test_step_accumulates_partial_sums(open_page):
    """Step and back: the scatter view shows M[:, :k] @ x[:k] after k steps; the zero
    insertion view counts the wasted multiplications of the first k outputs."""
    pg = open_page("op=conv_transpose&input=3,3&kernel=3&stride=2&padding=1&x=random&w=random"
                   "&view=scatter")
    x = np.array(pg.evaluate("S.x"), float).reshape(3, 3)
    w = np.array(pg.evaluate("S.w"), float).reshape(3, 3)
    M = _op_matrix(tconv.conv_transpose, w, (3, 3), stride=2, padding=1)
    for k in range(1, 5):
        pg.click("#btn-step")
        np.testing.assert_allclose(pg.evaluate("S.viewData.partial"), M[:, :k] @ x.ravel()[:k])
    pg.click("#btn-back")
    assert pg.evaluate("S.steps.scatter") == 3
    pg.keyboard.press("2")                      # zero insertion view
    for _ in range(6):
        pg.keyboard.press(".")
    wasted = sum(9 - np.count_nonzero(M[o]) for o in range(6))
    assert pg.evaluate("S.viewData") == {"macs": 54, "wasted": wasted}
    assert f"wasted on zeros: {wasted}" in pg.text_content("#caption")


def test_edit_cell_by_mouse_and_keyboard(open_page):
    """Click an input cell and type; arrows + digit on the focused kernel; the output follows
    the library and the edited values travel in the URL."""
    pg = open_page("op=conv_transpose&input=2,2&kernel=3")
    pg.mouse.click(*_center(pg, "cv-in", 3))
    assert pg.is_visible("#editor")
    pg.fill("#editor", "7")
    pg.keyboard.press("Enter")
    x = np.array([[2, 1], [4, 7]], float)
    w = np.array([[1, 4, 1], [1, 4, 3], [3, 3, 1]], float)
    assert pg.evaluate("S.x") == x.ravel().tolist()
    pg.focus("#cv-k")
    pg.keyboard.press("ArrowRight")
    pg.keyboard.press("ArrowDown")               # tap (1, 1)
    pg.keyboard.press("5")
    pg.keyboard.press("Enter")
    w[1, 1] = 5
    assert pg.evaluate("S.w") == w.ravel().tolist()
    y = tconv.conv_transpose(x[None, None], w[None, None])[0, 0]
    assert pg.evaluate("S.y") == y.ravel().tolist()
    assert "x=2,1,4,7" in pg.evaluate("location.hash")
    assert "w=1,4,1,1,5,3,3,3,1" in pg.evaluate("location.hash")


def test_hover_links_every_view(open_page):
    """Hovering an output cell lights its inputs, kernel taps and matrix row; hovering a row
    of the matrix or an input cell of the scatter view links back the same way."""
    pg = open_page("op=conv_transpose&input=3,3&kernel=3&stride=2&padding=1&output_padding=1"
                   "&view=matrix")
    M = _op_matrix(tconv.conv_transpose, np.arange(1.0, 10).reshape(3, 3), (3, 3), stride=2,
                   padding=1, output_padding=1)
    pg.mouse.move(*_center(pg, "cv-out", 14))
    L = _linked(pg)
    assert L["row"] == 14 and L["out"] == [14]
    assert L["in"] == np.flatnonzero(M[14]).tolist()
    assert L["tap"] == sorted(int(M[14, i]) - 1 for i in np.flatnonzero(M[14]))
    # the matrix view's first region is M itself: its row 20 is output 20
    pg.mouse.move(*_center(pg, "cv-view", 20 * 9 + 4))
    L = _linked(pg)
    assert L["row"] == 20 and L["in"] == np.flatnonzero(M[20]).tolist()
    assert "reads" in pg.text_content("#info")
    pg.mouse.move(*_center(pg, "cv-k", 4))       # kernel tap (1, 1): its entries of M
    assert pg.evaluate("linked().pairs.size") == np.count_nonzero(M == 5)
    assert f"{np.count_nonzero(M == 5)} entries of M" in pg.text_content("#info")
    pg.keyboard.press("1")                       # scatter: hover input 4 -> its footprint
    pg.mouse.move(*_center(pg, "cv-view", 4))
    L = _linked(pg)
    assert L["col"] == 4 and L["out"] == np.flatnonzero(M[:, 4]).tolist()
    pg.mouse.move(0, 0)
    assert _linked(pg)["row"] == -1
    pg.mouse.click(*_center(pg, "cv-out", 3))    # a click pins the cell ...
    pg.mouse.move(0, 0)
    assert _linked(pg)["row"] == 3
    pg.keyboard.press("Escape")                  # ... until Escape
    assert _linked(pg)["row"] == -1


def test_url_round_trip(open_page):
    """The state (operation, fields, values, view, step, language, theme) is in the hash; a
    fresh tab opened on that URL shows the same configuration and numbers."""
    pg = open_page()
    pg.click("#mode-transpose")
    _set(pg, input_size="3, 2", kernel_size="3, 2", stride="2, 1", padding="(1, 0), (0, 1)",
         output_padding="1, 0")
    pg.select_option("#preset-x", "random")
    pg.click("#tab-matrix")
    pg.click("#btn-step")
    pg.click("#btn-step")
    pg.click("#lang-zh")
    pg.check("#theme")
    h = pg.evaluate("location.hash")
    assert h.startswith("#op=conv_transpose&input=3,2&kernel=3,2&stride=2,1&padding=(1,0),(0,1)")
    assert "view=matrix" in h and "step=2" in h and "lang=zh" in h and "theme=dark" in h
    state = "[S.x, S.w, S.y, S.view, S.steps.matrix, LANG, S.dark, $('f-padding').value]"
    before = pg.evaluate(state)
    other = open_page(h[1:])
    assert other.evaluate(state) == before
    x = np.array(before[0], float).reshape(3, 2)
    w = np.array(before[1], float).reshape(3, 2)
    y = tconv.conv_transpose(x[None, None], w[None, None], None, (2, 1), ((1, 0), (0, 1)),
                             (1, 0))
    assert before[2] == y.ravel().tolist()


def test_language_switch(page):
    page.click("#lang-zh")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.text_content("#tab-checker") == "5 棋盘效应"
    assert page.text_content("#tab-matrix") == "3 卷积矩阵"
    assert "自检" in page.text_content("#selfcheck")
    page.click("#mode-transpose")
    assert page.text_content("#tab-sliding") == "2 插零"
    page.click("#lang-en")
    assert page.text_content("#tab-checker") == "5 checkerboard"


def test_checkerboard_verdict(open_page):
    """k=3, s=2: uneven (taps per phase 2, 1); k=4, s=2: even; k=4, s=2, d=2: a hole."""
    pg = open_page("op=conv_transpose&input=4,4&kernel=3&stride=2&view=checker")
    assert "UNEVEN" in pg.text_content("#verdict")
    assert "taps per phase 2, 1" in pg.text_content("#rule")
    _set(pg, kernel_size="4")
    assert pg.text_content("#verdict").startswith("even")
    _set(pg, dilation="2")
    assert "UNEVEN" in pg.text_content("#verdict")
    assert "taps per phase 4, 0" in pg.text_content("#rule")


def test_errors_match_library(page):
    page.click("#mode-transpose")
    _set(page, input_size="2, 2", stride="2", output_padding="2")
    with pytest.raises(ValueError) as exc:
        tconv.conv_transpose_output_size((2, 2), 3, 2, 0, 2, 1)
    assert page.text_content("#error") == f"ValueError: {exc.value}"
    assert page.text_content("#out-size") == "error"
    assert page.is_hidden("#main")
    page.click("#mode-conv")
    _set(page, padding="same")
    with pytest.raises(ValueError) as exc:
        tconv.conv_output_size((2, 2), 3, 2, "same", 1)
    assert page.text_content("#error") == f"ValueError: {exc.value}"
    _set(page, stride="1")
    assert page.text_content("#out-size") == "(2, 2)" and page.is_hidden("#error")


def test_too_large_note_is_one_line(page):
    """Above the drawing limit a short note, on one line (not one word per line)."""
    _set(page, input_size="100, 100")
    assert page.is_visible("#too-big") and page.is_hidden("#main")
    box = page.eval_on_selector("#too-big", "e => [e.offsetWidth, e.offsetHeight]")
    assert box[0] > 280 and box[1] < 60


VIEWS = ("scatter", "sliding", "matrix", "phase", "checker")


@pytest.mark.parametrize("size", [4, 32])
def test_screenshots(open_page, tmp_path, size):
    """Each view at a 4x4 and a 32x32 input (k3, s2, p1, op1), light theme, saved as PNG;
    the canvases fit a laptop screen's width (the view scrolls inside its panel)."""
    Image = pytest.importorskip("PIL.Image")
    dest = [tmp_path, Path(os.environ.get("TCONV_SCREENSHOT_DIR",
                                          REPO / "out" / "explorer-screenshots"))]
    for d in dest:
        d.mkdir(parents=True, exist_ok=True)
    pg = open_page(f"op=conv_transpose&input={size},{size}&kernel=3&stride=2&padding=1"
                   "&output_padding=1&x=random&w=random", width=1366)
    for view in VIEWS:
        pg.keyboard.press(str(VIEWS.index(view) + 1))
        pg.click("#btn-step")
        pg.mouse.move(*_center(pg, "cv-out", size + 1))
        name = f"explorer-{view}-{size}x{size}.png"
        pg.screenshot(path=str(tmp_path / name), full_page=True)
        for d in dest[1:]:
            shutil.copy(tmp_path / name, d / name)
        im = np.asarray(Image.open(tmp_path / name).convert("L"))
        assert im.shape[1] <= 1366 and len(np.unique(im)) > 8, name
    assert pg.evaluate("document.body.scrollWidth") <= 1366


def test_every_view_draws_every_configuration(page):
    """Drawing never throws: 30 of the seeded configurations (1-D and 2-D, both ops, typed
    into the fields as a person would), every view at its middle step with an output cell
    hovered."""
    cfgs = [c["params"] for c in _view_configs()[::4]]
    errors = page.evaluate("""(cfgs) => {
        const text = v => Array.isArray(v) ? v.join(", ") : String(v);
        const field = v => Array.isArray(v) && v.length && Array.isArray(v[0])
            ? "(" + v.map(p => `(${p[0]}, ${p[1]})`).join(", ") + (v.length === 1 ? ",)" : ")")
            : text(v);
        const bad = [];
        for (const p of cfgs) {
            $("mode-transpose").checked = p.transposed; $("mode-conv").checked = !p.transposed;
            for (const k of FIELD_KEYS) $("f-" + k).value = field(p[k]);
            try {
                compute();
                if (!S.g) { bad.push(["not drawn", p, $("error").textContent]); continue; }
                for (const v of VIEWS) {
                    S.view = v;
                    const n = nSteps(v);
                    S.steps[v] = n >> 1; S.hover = {kind: "out", idx: TC.prod(S.g.outSize) - 1};
                    draw();
                }
                S.hover = null;
            } catch (e) { bad.push([String(e), p]); }
        }
        return bad; }""", cfgs)
    assert errors == []
