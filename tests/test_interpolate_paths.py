"""Each per-axis pass of ``tconv.interpolate`` forced on a seeded population and compared with
torch (float64 and float32) and with the per-tap gathers (``fast=False``).

The passes (``interpolate._axis_pass``): nearest tables as strided slices or broadcast
copies, area over whole windows as strided adds, short axes as one dense product, block
GEMMs and gathers. Every test counts the calls of the pass it is about, so it cannot pass
without exercising it.
"""

from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import pytest

from ._oracle import assert_close

interp = importlib.import_module("tconv.interpolate")
torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(autouse=True)
def _passes(monkeypatch):
    """The passes, not the direct loop (tested in test_interpolate_direct.py): no call
    takes it, and no plan made before is reused."""
    monkeypatch.setattr(interp, "_direct_tables", lambda *args: None)
    interp._plan.cache_clear()
    yield
    interp._plan.cache_clear()


def _spy(monkeypatch, name, counts, hit=lambda r: True):
    """Count the calls of ``interp.<name>`` whose result satisfies ``hit``."""
    real = getattr(interp, name)

    def wrapped(*args, **kwargs):
        out = real(*args, **kwargs)
        if hit(out):
            counts[name] = counts.get(name, 0) + 1
        return out

    monkeypatch.setattr(interp, name, wrapped)


def _torch(x, **kw):
    return F.interpolate(torch.from_numpy(x), **kw).numpy()


def _population(seed, n, modes, sizes):
    """``n`` seeded (mode, shape, out) triples: 1-3 spatial dims as the mode allows."""
    rng = np.random.default_rng(seed)
    dims = {"linear": (1,), "bilinear": (2,), "bicubic": (2,), "trilinear": (3,)}
    out = []
    for _ in range(n):
        mode = modes[rng.integers(len(modes))]
        nd = int(rng.choice(dims.get(mode, (1, 2, 3))))
        spatial = tuple(int(rng.integers(1, 24 if nd == 3 else 70)) for _ in range(nd))
        o = tuple(sizes(rng, s) for s in spatial)
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)), *spatial)
        out.append((mode, shape, o))
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nearest_views(monkeypatch, dtype):
    """Strided slices (a + s*i) and broadcast copies (i // s) are exact and fresh arrays."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_nearest_view", counts, lambda r: r is not None)

    def size(rng, s):                       # whole factors up and down, and others
        return int(rng.choice([s, 2 * s, 3 * s, max(1, s // 2), max(1, s // 3),
                               int(rng.integers(1, 3 * s + 1))]))

    rng = np.random.default_rng(5)
    for mode, shape, out in _population(0, 60, ("nearest", "nearest-exact"), size):
        x = rng.standard_normal(shape).astype(dtype)
        x.flat[rng.integers(x.size)] = np.nan
        for kw in (dict(size=out), dict(scale_factor=tuple(o / s for o, s in
                                                           zip(out, shape[2:])))):
            y = interp.interpolate(x, mode=mode, **kw)
            np.testing.assert_array_equal(y, _torch(x, mode=mode, **kw))
            assert y.flags.c_contiguous and not np.shares_memory(y, x)
    assert counts["_nearest_view"] > 50


def test_nearest_view_kinds():
    """Both kinds occur: a slice (down-sampling) and a broadcast (up-sampling)."""
    x = np.arange(24.0).reshape(2, 12)
    down = interp._nearest_view(x, 1, np.arange(1, 12, 3))
    assert down is not None and np.shares_memory(down, x)
    np.testing.assert_array_equal(down, x[:, 1::3])
    up = interp._nearest_view(x, 1, np.arange(36) // 3)
    np.testing.assert_array_equal(up, np.repeat(x, 3, axis=1))
    assert interp._nearest_view(x, 1, np.array([0, 0, 1, 3])) is None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_area_windows(monkeypatch, dtype):
    """Area by whole factors (1-3-D, non-finite values included) == torch."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_area_windows", counts)
    rng = np.random.default_rng(6)
    for _ in range(40):
        nd = int(rng.integers(1, 4))
        ks = [int(rng.integers(1, 7)) for _ in range(nd)]
        out = [int(rng.integers(1, 6 if nd == 3 else 12)) for _ in range(nd)]
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)),
                 *(k * o for k, o in zip(ks, out)))
        x = rng.standard_normal(shape).astype(dtype)
        if rng.random() < 0.3:
            x.flat[rng.integers(x.size)] = rng.choice([np.inf, -np.inf, np.nan])
        y = interp.interpolate(x, size=tuple(out), mode="area")
        ref = _torch(x, size=tuple(out), mode="area")
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
        assert_close(np.nan_to_num(y), np.nan_to_num(ref), dtype)
    assert counts["_area_windows"] > 40


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_axis(monkeypatch, dtype):
    """Short axes as one dense product, every interpolating mode and area, align_corners
    both ways, non-integer factors == torch and == the gathers."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_dense_axis", counts)
    monkeypatch.setenv("TCONV_NUMBA", "0")          # 2-D modes would take the compiled loop

    def size(rng, s):
        return int(rng.integers(1, 2 * s + 3))

    rng = np.random.default_rng(7)
    modes = ("linear", "bilinear", "bicubic", "trilinear", "area")
    for mode, shape, out in _population(1, 50, modes, size):
        x = rng.standard_normal(shape).astype(dtype)
        acs = (None,) if mode == "area" else (False, True)
        for ac in acs:
            kw = dict(size=out, mode=mode, align_corners=ac)
            y = interp.interpolate(x, **kw)
            assert_close(y, _torch(x, **kw), dtype)
            gathered = interp._resample(x, out, (None,) * len(out), mode, bool(ac),
                                        fast=False)
            assert_close(y, gathered, dtype)
    assert counts["_dense_axis"] > 30


def test_dense_axis_threaded(monkeypatch):
    """Many rows: the dense pass in chunks on the thread pool (>= 1M outputs), both the
    last axis and a leading one."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_dense_axis", counts)
    monkeypatch.setenv("TCONV_NUMBA", "0")
    x = np.random.default_rng(8).standard_normal((4, 256, 60, 60)).astype(np.float32)
    for kw in (dict(size=(6, 6), mode="area"), dict(size=(37, 50), mode="bilinear",
                                                    align_corners=True)):
        y = interp.interpolate(x, **kw)
        assert_close(y, _torch(x, **kw), np.float32)
    assert counts["_dense_axis"] >= 3


@pytest.mark.parametrize("mode, shape, out", [
    ("linear", (1, 2, 20), (13,)), ("linear", (1, 2, 20), (31,)),
    ("area", (2, 3, 50, 60), (7, 9)), ("bilinear", (1, 2, 300, 400), (90, 100)),
    ("bicubic", (1, 2, 300, 400), (290, 111))])
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_products_nonfinite_step_aside(monkeypatch, mode, shape, out, value):
    """inf / nan take the gathers (0 * inf in a product would spread nan): checked before a
    growing pass, after a shrinking one (then redone), silently, with torch's values."""
    import warnings

    counts: dict[str, int] = {}
    _spy(monkeypatch, "_generic_axis", counts)
    monkeypatch.setenv("TCONV_NUMBA", "0")
    x = np.random.default_rng(9).standard_normal(shape)
    x[0, 0, 4] = value
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = interp.interpolate(x, size=out, mode=mode)
    ref = _torch(x, size=out, mode=mode)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
    assert_close(np.nan_to_num(y, posinf=0, neginf=0), np.nan_to_num(ref, posinf=0, neginf=0))
    assert counts["_generic_axis"] >= 1


def test_tables_cached_read_only():
    """The per-axis tables are cached and read-only; repeated calls agree."""
    idx, w = interp._axis_table(10, 7, "linear", False, None, np.float64)
    assert not idx.flags.writeable and not w.flags.writeable
    assert interp._axis_table(10, 7, "linear", False, None, np.float64)[0] is idx
    x = np.random.default_rng(10).standard_normal((2, 3, 10))
    np.testing.assert_array_equal(interp.interpolate(x, size=7, mode="linear"),
                                  interp.interpolate(x, size=7, mode="linear"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_banded_blocks(monkeypatch, dtype):
    """Block GEMMs (blocks of 8 outputs down-sampling or along leading axes, 32 up-sampling
    the last axis), shrinking leading axes first: anti-aliased, area and cubic tables at
    random factors == torch and == the gathers."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_banded_axis", counts)
    monkeypatch.setenv("TCONV_NUMBA", "0")
    rng = np.random.default_rng(11)
    for i in range(12):
        mode = ("bilinear", "bicubic", "area")[i % 3]
        aa = mode != "area" and bool(rng.integers(2))
        spatial = (int(rng.integers(120, 260)), int(rng.integers(120, 260)))
        out = tuple(int(s * rng.uniform(0.15, 1.6)) + 1 for s in spatial)
        shape = (1, int(rng.integers(2, 4)), *spatial)
        x = rng.standard_normal(shape).astype(dtype)
        kw = dict(size=out, mode=mode, antialias=aa)
        y = interp.interpolate(x, **kw)
        assert_close(y, _torch(x, **kw), dtype)
        gathered = interp._resample(x, out, (None, None), mode, False, fast=False,
                                    antialias=aa)
        assert_close(y, gathered, dtype)
    assert counts["_banded_axis"] >= 12


def test_pass_order():
    """Shrinking axes before growing ones; among shrinking, leading axes before the last."""
    order = sorted(range(3), key=lambda d: interp._pass_order((10, 10, 10), (5, 20, 4), d))
    assert order == [0, 2, 1]
    order = sorted(range(2), key=lambda d: interp._pass_order((10, 10), (30, 20), d))
    assert order == [1, 0]


needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba is not installed")


@pytest.fixture
def fresh_native(monkeypatch):
    """Kernels not given up, numba on (both restored after)."""
    from tconv._algorithms import _native

    monkeypatch.setattr(_native, "_DISABLED", [])
    monkeypatch.delenv("TCONV_NUMBA", raising=False)
    return _native


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_last(monkeypatch, fresh_native, dtype):
    """Linear tables along the last axis (1-D and 3-D, align_corners both ways, random
    sizes) compiled == the gathers (bit for bit in 1-D) == torch; inf and nan reach
    torch's outputs."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_compiled_last", counts)
    rng = np.random.default_rng(12)
    for i in range(16):
        last = int(rng.integers(2000, 9000) if i % 2 else rng.integers(300, 900))
        if i % 2:
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 9)), last)
        else:
            shape = (1, 2, int(rng.integers(4, 30)), int(rng.integers(4, 30)), last)
        out = tuple(int(s * rng.uniform(0.4, 2.6)) + 1 for s in shape[2:])
        mode = "linear" if len(shape) == 3 else "trilinear"
        x = rng.standard_normal(shape).astype(dtype)
        if i % 4 == 1:
            x.flat[rng.integers(x.size, size=3)] = [np.inf, -np.inf, np.nan]
        for ac in (False, True):
            kw = dict(size=out, mode=mode, align_corners=ac)
            y = interp.interpolate(x, **kw)
            ref = _torch(x, **kw)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            assert_close(np.nan_to_num(y), np.nan_to_num(ref), dtype)
            gathered = interp._resample(x, out, (None,) * len(out), mode, ac, fast=False)
            if mode == "linear":                        # one pass: the same sums in order
                np.testing.assert_array_equal(y, gathered)
            else:                                       # other axes: products, not gathers
                assert_close(np.nan_to_num(y), np.nan_to_num(gathered), dtype)
    assert counts["_compiled_last"] >= 24


@needs_numba
def test_compiled_small_planes(monkeypatch, fresh_native):
    """Whole factors on planes below the fused size take the compiled 2-D loop == torch."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_compiled_2d", counts)
    rng = np.random.default_rng(13)
    for mode, dtype in [("bilinear", np.float64), ("bilinear", np.float32),
                        ("bicubic", np.float32), ("bicubic", np.float64)]:
        x = rng.standard_normal((2, 8, 40, 36)).astype(dtype)
        for s in (2, 3, 4):
            kw = dict(scale_factor=s, mode=mode)
            assert_close(interp.interpolate(x, **kw), _torch(x, **kw), dtype)
    assert counts["_compiled_2d"] == 12


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_skips_unread_rows(monkeypatch, fresh_native, dtype):
    """Down-sampling the rows more than the table's taps reach (a frame to a thumbnail
    without antialias): the compiled 2-D loop resamples only the rows some output reads
    (its row table holds exactly the rows of the axis table), == torch, at seeded factors
    beyond the taps up to 12, both align_corners, odd sizes and a few planes (and every
    row read at factors within the taps); inf and nan reach torch's outputs."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_compiled_2d", counts)
    rng = np.random.default_rng(15)
    for i in range(12):
        h, w = int(rng.integers(150, 700)), int(rng.integers(100, 600))
        mode = ("bilinear", "bicubic")[i % 2]
        taps = 2 if mode == "bilinear" else 4
        # rows shrinking more than the taps reach skip rows; less, every row is read
        gaps = i % 3 != 2
        oh = int(h / (rng.uniform(taps + 0.5, 12.0) if gaps else rng.uniform(1.0, taps - 0.5)))
        ow = max(1, int(w * rng.uniform(0.1, 1.5)))
        x = rng.standard_normal((1, int(rng.integers(1, 4)), h, w)).astype(dtype)
        if i % 4 == 3:
            x.flat[rng.integers(x.size, size=3)] = [np.inf, -np.inf, np.nan]
        kind = "linear" if mode == "bilinear" else "bicubic"
        for ac in (False, True):
            kw = dict(size=(oh, ow), mode=mode, align_corners=ac)
            y = interp.interpolate(x, **kw)
            rows, at, _, _, _ = interp._read_rows(h, oh, kind, ac, None, x.dtype.type,
                                                  x.dtype)
            ih, _ = interp._axis_table(h, oh, kind, ac, None, x.dtype.type, nearest_2d=True)
            want_rows = sorted(set(ih.ravel().tolist()))
            assert rows.tolist() == want_rows and (len(want_rows) < h) == gaps
            np.testing.assert_array_equal(rows[at], ih)      # each tap reads its own row
            ref = _torch(x, **kw)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            assert_close(np.nan_to_num(y), np.nan_to_num(ref), dtype)
    assert counts["_compiled_2d"] == 24


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_taps2(monkeypatch, fresh_native, dtype):
    """2-D linear resizes whose input rows few output rows share (row reuse below
    ``_TAPS2_MAX_REUSE``) run ``resample2d_taps2``, the others the banded loop; on a seeded
    population (shrinking and growing each axis, one plane to many, both align_corners,
    scale factors or sizes, inf and nan) the direct loop's outputs are the banded loop's
    bit for bit, and torch's."""
    calls = {"taps2": 0, "banded": 0}
    kernels = fresh_native.kernels()
    for key, name in (("taps2", "resample2d_taps2"), ("banded", "resample2d_planes")):
        def counted(*args, _real=kernels[name], _key=key):
            calls[_key] += 1
            return _real(*args)
        monkeypatch.setitem(kernels, name, counted)
    rng = np.random.default_rng(29)
    chose = {True: 0, False: 0}
    switch = interp._TAPS2_MAX_REUSE
    for i in range(24):
        h, w = (int(v) for v in rng.integers(20, 400, size=2))
        oh, ow = (max(1, int(v * rng.uniform(0.1, 2.5))) for v in (h, w))
        planes = int(rng.choice([1, 2, 5, 40]))
        x = rng.standard_normal((1, planes, h, w)).astype(dtype)
        if i % 3 == 2:
            x.flat[rng.integers(x.size, size=3)] = [np.inf, -np.inf, np.nan]
        ac = bool(i % 2)
        kw = (dict(size=(oh, ow)) if i % 4 < 2 else
              dict(scale_factor=(oh / h, ow / w), recompute_scale_factor=False))
        if x.size < interp._COMPILED_MIN:
            continue
        out, factors = interp._output_size("t", (h, w), kw.get("size"), kw.get("scale_factor"),
                                           kw.get("recompute_scale_factor"))
        reuse = interp._read_rows(h, out[0], "linear", ac, factors[0], x.dtype.type,
                                  x.dtype)[4]
        direct = reuse < switch
        before = dict(calls)
        y = interp.interpolate(x, mode="bilinear", align_corners=ac, **kw)
        assert calls["taps2"] > before["taps2"] if direct else calls["taps2"] == before["taps2"]
        assert calls["banded"] == before["banded"] if direct else calls["banded"] > before["banded"]
        chose[direct] += 1
        monkeypatch.setattr(interp, "_TAPS2_MAX_REUSE", 0.0 if direct else np.inf)
        other = interp.interpolate(x, mode="bilinear", align_corners=ac, **kw)
        monkeypatch.setattr(interp, "_TAPS2_MAX_REUSE", switch)
        np.testing.assert_array_equal(y, other)
        ref = _torch(x, mode="bilinear", align_corners=ac, **kw)
        np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
        assert_close(np.nan_to_num(y), np.nan_to_num(ref), dtype)
    assert chose[True] >= 5 and chose[False] >= 5


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_area_and_antialias(monkeypatch, fresh_native, dtype):
    """Area (whole windows or not) and anti-aliased bilinear / bicubic on planes of at
    least ``_WINDOWS_COMPILED_MIN`` values take the compiled 2-D loop (windows padded with
    weight-0 taps) == torch == the gathers, at seeded sizes down and up, align_corners both
    ways; inf and nan (which a padding tap would turn into nan) step aside to the gathers
    and reach exactly torch's outputs, with no warning (also where the products run on the
    pool). Smaller planes (a 7x7 map's global average) keep the dense products and strided
    adds."""
    import warnings

    counts: dict[str, int] = {}
    _spy(monkeypatch, "_compiled_2d", counts)
    rng = np.random.default_rng(18)
    least = interp._WINDOWS_COMPILED_MIN
    compiled = 0
    for i in range(24):
        mode = ("area", "bilinear", "bicubic")[i % 3]
        if i % 6 < 3:
            spatial = (int(rng.integers(40, 400)), int(rng.integers(40, 400)))
        else:                                   # small planes, about the bound
            spatial = (int(rng.integers(5, 60)), int(rng.integers(5, 60)))
        if i % 4 == 2 and mode == "area":       # whole windows
            out = tuple(max(1, s // int(rng.integers(1, 9))) for s in spatial)
            spatial = tuple(o * (s // o) for o, s in zip(out, spatial))
        else:
            out = tuple(max(1, int(s * rng.uniform(0.08, 1.8))) for s in spatial)
        x = rng.standard_normal((int(rng.integers(1, 3)), int(rng.integers(1, 40)),
                                 *spatial)).astype(dtype)
        if i % 4 == 1:
            x.flat[rng.integers(x.size, size=3)] = [np.inf, -np.inf, np.nan]
        for ac in ((None,) if mode == "area" else (False, True)):
            kw = dict(size=out, mode=mode, align_corners=ac, antialias=mode != "area")
            before = counts.get("_compiled_2d", 0)
            with warnings.catch_warnings():     # inf and nan: silently, as torch
                warnings.simplefilter("error")
                y = interp.interpolate(x, **kw)
            ran = counts.get("_compiled_2d", 0) > before
            assert ran == (spatial[0] * spatial[1] >= least and x.size >= interp._COMPILED_MIN)
            compiled += ran
            ref = _torch(x, **kw)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
            assert_close(np.nan_to_num(y, posinf=0, neginf=0),
                         np.nan_to_num(ref, posinf=0, neginf=0), dtype)
            gathered = interp._resample(x, out, (None, None), mode, bool(ac), fast=False,
                                        antialias=mode != "area")
            assert_close(np.nan_to_num(y, posinf=0, neginf=0),
                         np.nan_to_num(gathered, posinf=0, neginf=0), dtype)
    assert compiled >= 16
    # a global average (7x7 -> 1x1) and 14x14 -> 7x7: the strided adds, not the loop
    counts.clear()
    _spy(monkeypatch, "_area_windows", counts)
    for plane, out in (((7, 7), (1, 1)), ((14, 14), (7, 7))):
        x = rng.standard_normal((4, 512, *plane)).astype(dtype)
        assert_close(interp.interpolate(x, size=out, mode="area"),
                     _torch(x, size=out, mode="area"), dtype)
    assert counts.get("_compiled_2d", 0) == 0 and counts["_area_windows"] >= 2


def test_padded_table():
    """Padding taps of area and anti-aliased tables read their output's first input with
    weight exactly 0; the other taps are the axis table's."""
    for kind, n_in, n_out in (("area", 1000, 379), ("linear-aa", 1080, 256),
                              ("bicubic-aa", 97, 40), ("linear", 50, 70)):
        idx, w = interp._axis_table(n_in, n_out, kind, False, None, np.float64)
        pi, pw = interp._padded_table(n_in, n_out, kind, False, None, np.float64,
                                      np.dtype(np.float32))
        pad = idx < 0
        assert pi.dtype == np.intp and pw.dtype == np.float32
        assert (pi >= 0).all() and (pi < n_in).all()
        np.testing.assert_array_equal(pi[pad], np.broadcast_to(idx[:, :1], idx.shape)[pad])
        assert (pw[pad] == 0).all() and (pad.any() == (kind != "linear"))
        np.testing.assert_array_equal(pi[~pad], idx[~pad])
        np.testing.assert_array_equal(pw[~pad], w[~pad].astype(np.float32))


def test_compiled_tables_in_range():
    """Every table the compiled loops read holds column indices ``0 <= i < n_in`` (the
    loops read them unsigned, unchecked): linear and cubic tables as ``_compiled_last``
    takes them, padded tables of every kind, over seeded sizes, scales and
    ``align_corners``."""
    rng = np.random.default_rng(2719)
    kinds = ("linear", "bicubic", "area", "linear-aa", "bicubic-aa")
    for _ in range(300):
        kind = kinds[int(rng.integers(len(kinds)))]
        n_in = int(rng.integers(1, 400))
        n_out = max(1, int(n_in * rng.uniform(0.05, 6.0)))
        ac = kind in ("linear", "bicubic") and bool(rng.integers(2))
        scale = None if rng.integers(2) else float(n_out / n_in * rng.uniform(0.9, 1.1))
        for dtype in (np.float32, np.float64):
            tables = [interp._padded_table(n_in, n_out, kind, ac, scale, dtype,
                                           np.dtype(dtype))[0]]
            if kind in ("linear", "bicubic"):
                tables.append(interp._axis_table(n_in, n_out, kind, ac, scale, dtype)[0])
            for idx in tables:
                assert idx.shape[0] == n_out, (kind, n_in, n_out, ac, scale)
                assert (idx >= 0).all() and (idx < n_in).all(), (kind, n_in, n_out, ac, scale)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_1d_whole_factors(monkeypatch, fresh_native, dtype):
    """1-D linear at whole factors up to ``_COMPILED_MAX_FACTOR`` runs the compiled loop,
    larger ones the fixed-phase products where those are exact; all == torch, by size
    and by scale_factor."""
    counts: dict[str, int] = {}
    _spy(monkeypatch, "_compiled_last", counts)
    rng = np.random.default_rng(16)
    limit = interp._COMPILED_MAX_FACTOR
    for s in range(2, 2 * limit + 1):
        n = int(rng.integers(300, 3000))
        x = rng.standard_normal((int(rng.integers(1, 5)), int(rng.integers(8, 40)), n))
        x = x.astype(dtype)
        before = counts.get("_compiled_last", 0)
        for kw in (dict(size=s * n), dict(scale_factor=s)):
            kw["mode"] = "linear"
            assert_close(interp.interpolate(x, **kw), _torch(x, **kw), dtype)
        # (float32 positions are exact at power-of-two factors only: the others are tables)
        fixed = s > limit and (dtype == np.float64 or s & (s - 1) == 0)
        assert counts.get("_compiled_last", 0) - before == (0 if fixed else 2)


def _broken(*args, **kwargs):
    from numba.core.errors import TypingError

    raise TypingError("forced compile failure")


@needs_numba
@pytest.mark.parametrize("shape, kw", [((2, 3, 5000), dict(size=3100, mode="linear")),
                                       ((1, 2, 130, 110), dict(scale_factor=1.7,
                                                             mode="bicubic"))])
def test_compile_failure_falls_back(monkeypatch, fresh_native, shape, kw):
    """A kernel that fails to compile gives way to the NumPy passes with one warning."""
    import warnings

    x = np.random.default_rng(14).standard_normal(shape)
    for name in ("resample1d", "resample2d_planes", "resample2d_taps2", "resample_direct"):
        monkeypatch.setitem(fresh_native.kernels(), name, _broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = interp.interpolate(x, **kw)
        again = interp.interpolate(x, **kw)
    runtime = [c for c in caught if issubclass(c.category, RuntimeWarning)]
    assert len(runtime) == 1 and "forced compile failure" in str(runtime[0].message)
    assert not fresh_native.available()
    assert_close(y, _torch(x, **kw))
    np.testing.assert_array_equal(y, again)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
@pytest.mark.parametrize("shape, kw, view", [
    ((1, 3, 700, 902), dict(size=(350, 451), mode="nearest"),
     lambda x: x[:, :, ::2, ::2]),
    ((2, 5, 64, 2000), dict(scale_factor=(1, 0.25), mode="nearest"),
     lambda x: x[..., ::4]),
    ((1, 1, 40, 300, 400), dict(scale_factor=0.5, mode="nearest"),
     lambda x: x[:, :, ::2, ::2, ::2]),
])
def test_strided_results_copied_on_the_pool(monkeypatch, threads, shape, kw, view):
    """A whole-factor nearest down-sampling is a strided view of the input, copied into a
    fresh C-contiguous array in ranges on the pool: exactly the view's values, at any
    thread count, sharing no memory with the input."""
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    x = np.random.default_rng(17).standard_normal(shape).astype(np.float32)
    y = interp.interpolate(x, **kw)
    np.testing.assert_array_equal(y, view(x))
    assert y.flags.c_contiguous and not np.shares_memory(y, x)
    np.testing.assert_array_equal(y, _torch(x, **kw))


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact", "area", "bilinear", "bicubic"])
@pytest.mark.parametrize("plane", [(9, 13), (64, 64), (400, 400)])
@pytest.mark.parametrize("factor", [0.3, 0.5, 2, 3])
def test_empty_batch(mode, plane, factor):
    """An empty batch (every pass's plane layout, small and large planes, whole and other
    factors) gives an empty result of torch's shape and the input's dtype."""
    for dtype in (np.float32, np.float64):
        x = np.zeros((0, 3, *plane), dtype)
        kw = dict(scale_factor=factor, mode=mode)
        y = interp.interpolate(x, **kw)
        assert y.shape == _torch(x, **kw).shape and y.dtype == dtype
    for shape, size in (((0, 2, 5000), 3100), ((0, 2, 6, 7, 8), (12, 14, 16))):
        y = interp.interpolate(np.zeros(shape, np.float32), size=size,
                               mode="linear" if len(shape) == 3 else "trilinear")
        assert y.shape == (*shape[:2], *np.atleast_1d(size))
