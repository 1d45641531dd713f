"""Small resizes: the remembered plan of a call (``interpolate._plan``) and the direct loop
(``resample_direct``) that computes a small call's outputs from their taps in one compiled
call.

A seeded population of small calls over every mode, rank, ``align_corners``,
``antialias``, dtype, size or scale factor, with inf, nan and -0.0 in the input, against
torch (float64, and float32 where tconv follows ATen's float32 arithmetic) and against the
per-tap gathers; every call must take the direct loop, so the tests cannot pass without
it. Then the plans: reused for the same call, never for a call that differs in a way that
changes the result or the error (``True`` for ``1``, a list, a numpy scalar), invalid calls
not remembered, and the fallbacks (numba off, a kernel that fails to compile).
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import warnings

import numpy as np
import pytest

import tconv

from ._oracle import assert_close

interp = importlib.import_module("tconv.interpolate")
torch = pytest.importorskip("torch")
F = torch.nn.functional
needs_numba = pytest.mark.skipif(importlib.util.find_spec("numba") is None,
                                 reason="numba is not installed")

MODES = {1: ("nearest", "nearest-exact", "linear", "area"),
         2: ("nearest", "nearest-exact", "bilinear", "bicubic", "area"),
         3: ("nearest", "nearest-exact", "trilinear", "area")}


@pytest.fixture
def native(monkeypatch):
    """Kernels not given up, numba on, no plan left from another test (all restored)."""
    from tconv._algorithms import _native

    monkeypatch.setattr(_native, "_DISABLED", [])
    monkeypatch.delenv("TCONV_NUMBA", raising=False)
    interp._plan.cache_clear()
    yield _native
    interp._plan.cache_clear()


def _calls(seed: int, count: int) -> list[tuple[tuple[int, ...], dict]]:
    """``count`` seeded small valid calls: (input shape, keyword arguments)."""
    rng = np.random.default_rng(seed)
    calls = []
    while len(calls) < count:
        nd = int(rng.integers(1, 4))
        mode = str(rng.choice(MODES[nd]))
        spatial = tuple(int(rng.integers(1, 13 if nd == 3 else 40)) for _ in range(nd))
        shape = (int(rng.integers(0, 3)) if rng.random() < 0.1 else int(rng.integers(1, 4)),
                 int(rng.integers(1, 5)), *spatial)
        kw: dict = {"mode": mode}
        if rng.random() < 0.5:
            f = float(rng.choice([0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 4.0]))
            if any(int(n * f) < 1 for n in spatial):
                continue
            kw["scale_factor"] = f if rng.random() < 0.5 else tuple([f] * nd)
        else:
            out = tuple(int(rng.integers(1, 3 * n + 3)) for n in spatial)
            kw["size"] = out if nd > 1 or rng.random() < 0.5 else out[0]
        if mode in ("linear", "bilinear", "bicubic", "trilinear"):
            kw["align_corners"] = bool(rng.integers(2))
        if mode in ("bilinear", "bicubic") and rng.random() < 0.4:
            kw["antialias"] = True
        calls.append((shape, kw))
    return calls


def _input(shape, dtype, rng, special: bool) -> np.ndarray:
    x = rng.standard_normal(shape).astype(dtype)
    if special and x.size:
        flat = x.reshape(-1)
        for v in (np.inf, -np.inf, np.nan, -0.0):
            flat[rng.integers(flat.size)] = v
    return x


def _key(x, kw):
    return interp._plan_key(x, kw.get("size"), kw.get("scale_factor"), kw["mode"],
                            kw.get("align_corners"), kw.get("recompute_scale_factor"),
                            kw.get("antialias", False), -0.75)


def _spy_direct(monkeypatch, counts):
    real = interp._direct

    def wrapped(*args):
        counts["direct"] = counts.get("direct", 0) + 1
        return real(*args)

    monkeypatch.setattr(interp, "_direct", wrapped)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_population_against_torch_and_gathers(native, monkeypatch, dtype):
    """Every small call takes the direct loop and matches torch: close values, the same
    non-finite outputs, and nearest modes bit for bit (-0.0 included)."""
    counts: dict = {}
    _spy_direct(monkeypatch, counts)
    rng = np.random.default_rng(7)
    calls = _calls(11, 160)
    small = 0
    for i, (shape, kw) in enumerate(calls):
        special = i % 3 == 0
        x = _input(shape, dtype, rng, special)
        before = counts.get("direct", 0)
        y = tconv.interpolate(x, **kw)
        plan = interp._plan(*_key(x, kw))
        small += plan.direct is not None
        assert counts.get("direct", 0) == before + (plan.direct is not None), (shape, kw)
        ref = F.interpolate(torch.from_numpy(x), **kw).numpy()
        assert y.dtype == x.dtype and y.shape == ref.shape
        if kw["mode"] in ("nearest", "nearest-exact"):
            np.testing.assert_array_equal(y, ref)
            np.testing.assert_array_equal(np.signbit(y), np.signbit(ref))
            continue
        if special and not (kw.get("antialias") and shape[-1] * shape[-2] > 0):
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref), err_msg=str((shape, kw)))
            np.testing.assert_array_equal(np.isinf(y), np.isinf(ref), err_msg=str((shape, kw)))
        if kw.get("antialias") and any(
                o == 1 for o in np.atleast_1d(kw.get("size", 2))) and not special:
            continue                                # torch 2.13: repeated first row (doc)
        if not special:
            assert_close(y, ref, dtype)
        out = y.shape[2:]
        factors = kw.get("scale_factor")
        sf = ((None,) * len(out) if factors is None or kw["mode"] == "area" else
              tuple(float(f) for f in np.broadcast_to(factors, len(out))))
        gathered = interp._resample(x, out, sf, kw["mode"], kw.get("align_corners", False),
                                    fast=False, antialias=kw.get("antialias", False))
        np.testing.assert_array_equal(np.isnan(y), np.isnan(gathered))
        assert_close(np.nan_to_num(y, posinf=0, neginf=0),
                     np.nan_to_num(gathered, posinf=0, neginf=0), dtype)
    assert counts["direct"] == small >= 0.85 * len(calls)


@needs_numba
def test_direct_is_the_passes_in_the_same_order(native, monkeypatch):
    """On 2-D linear and cubic calls the direct loop gives the compiled 2-D loop's numbers
    (its order: columns, then rows) bit for bit."""
    monkeypatch.setattr(interp, "_COMPILED_MIN", 0)     # the passes: the compiled loop
    rng = np.random.default_rng(3)
    compared = 0
    for shape, kw in _calls(5, 600):
        if kw["mode"] not in ("bilinear", "bicubic") or kw.get("antialias") or shape[0] == 0:
            continue
        x = rng.standard_normal(shape).astype(np.float32)
        if interp._plan(*_key(x, kw)).direct is None:
            continue
        y = tconv.interpolate(x, **kw)
        f = kw.get("scale_factor")
        sf = (None,) * 2 if f is None else tuple(float(v) for v in np.broadcast_to(f, 2))
        z = interp._resample(x, y.shape[2:], sf, kw["mode"], kw.get("align_corners", False))
        np.testing.assert_array_equal(y, z, err_msg=str((shape, kw)))
        compared += 1
    assert compared >= 20


@needs_numba
def test_the_bound(native, monkeypatch):
    """Calls whose outputs times taps exceed ``_DIRECT_MAX`` take the passes."""
    counts: dict = {}
    _spy_direct(monkeypatch, counts)
    monkeypatch.setattr(interp, "_DIRECT_MAX", 4 * 8 * 8 * 4)    # bilinear x2 of 4 planes
    x = np.random.default_rng(0).standard_normal((2, 2, 4, 4))
    tconv.interpolate(x, scale_factor=2, mode="bilinear")
    assert counts.get("direct") == 1
    interp._plan.cache_clear()
    y = tconv.interpolate(np.concatenate([x, x[:1]]), scale_factor=2, mode="bilinear")
    assert counts.get("direct") == 1                # one plane more: the passes
    assert_close(y, F.interpolate(torch.from_numpy(np.concatenate([x, x[:1]])),
                                  scale_factor=2, mode="bilinear").numpy())


@needs_numba
def test_one_axis_area_at_any_size(native, monkeypatch):
    """1-D area calls take the direct loop however large (their one pass), on the pool
    by ranges of planes when large; 1-D linear calls above the bound do not."""
    counts: dict = {}
    _spy_direct(monkeypatch, counts)
    monkeypatch.setattr(interp, "_DIRECT_MAX", 64)
    rng = np.random.default_rng(9)
    for split in (1 << 40, 0):
        monkeypatch.setattr(interp, "_DIRECT_SPLIT", split)
        interp._plan.cache_clear()
        for shape, out in [((3, 5, 2001), 777), ((1, 2, 300), 1000), ((2, 1, 97), 1)]:
            x = rng.standard_normal(shape).astype(np.float32)
            x[0, 0, 5] = np.nan
            y = tconv.interpolate(x, size=out, mode="area")
            ref = F.interpolate(torch.from_numpy(x), size=out, mode="area").numpy()
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            assert_close(np.nan_to_num(y), np.nan_to_num(ref), np.float32)
    assert counts.get("direct") == 6
    tconv.interpolate(x, size=300, mode="linear")
    assert counts.get("direct") == 6


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_volume_area_at_any_size(native, monkeypatch, dtype):
    """3-D area calls that shrink every axis take the direct loop however large (seeded
    sizes, windows of every width, non-finite inputs, on the pool or not) and match
    torch; one growing axis, or 2-D area, above the bound: the passes."""
    counts: dict = {}
    _spy_direct(monkeypatch, counts)
    monkeypatch.setattr(interp, "_DIRECT_MAX", 64)
    rng = np.random.default_rng(19)
    calls = 0
    for split in (1 << 40, 0):
        monkeypatch.setattr(interp, "_DIRECT_SPLIT", split)
        interp._plan.cache_clear()
        for _ in range(8):
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5)),
                     *(int(v) for v in rng.integers(2, 30, 3)))
            out = tuple(int(rng.integers(1, n + 1)) for n in shape[2:])
            x = _input(shape, dtype, rng, special=rng.random() < 0.5)
            before = counts.get("direct", 0)
            y = tconv.interpolate(x, size=out, mode="area")
            calls += 1
            assert counts.get("direct", 0) == before + 1, (shape, out)
            ref = F.interpolate(torch.from_numpy(x), size=out, mode="area").numpy()
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
            assert_close(np.nan_to_num(y, posinf=0, neginf=0),
                         np.nan_to_num(ref, posinf=0, neginf=0), dtype)
    before = counts.get("direct", 0)
    tconv.interpolate(rng.standard_normal((2, 3, 40, 50)), size=(13, 7), mode="area")
    y = tconv.interpolate(x, size=(*out[:2], shape[-1] + 2), mode="area")
    assert counts.get("direct", 0) == before and calls == 16
    ref = F.interpolate(torch.from_numpy(x), size=(*out[:2], shape[-1] + 2),
                        mode="area").numpy()
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))


@needs_numba
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_gathered_nearest_at_any_size(native, monkeypatch, mode):
    """Nearest tables the passes would gather on some axis take the direct loop above the
    bound, at any row length (bit for bit torch's, split over rows or planes on the pool
    or not); tables that are strided slices or whole-factor repeats on every axis take
    it on few planes and outputs (``_GATHER_PLANES``, ``_GATHER_OUTPUTS``), else the
    passes; along 1-D data only repeats of ``_DIRECT_ROW`` or more take the passes."""
    counts: dict = {}
    _spy_direct(monkeypatch, counts)
    monkeypatch.setattr(interp, "_DIRECT_MAX", 64)
    monkeypatch.setattr(interp, "_GATHER_PLANES", 4)
    monkeypatch.setattr(interp, "_GATHER_OUTPUTS", 20000)
    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    real = interp._parallel.for_each

    def pooled(*args, **kwargs):
        counts["pool"] = counts.get("pool", 0) + 1
        return real(*args, **kwargs)

    monkeypatch.setattr(interp._parallel, "for_each", pooled)
    rng = np.random.default_rng(12)
    cases = [((2, 3, 37, 41), (70, 90), True), ((1, 2, 5, 9, 11), (7, 12, 100), True),
             ((3, 5, 2001), (777,), True), ((1, 2, 300), (1000,), True),
             ((1, 5, 30, 40), (60, 80), False), ((1, 6, 30, 40), (15, 20), False),
             ((1, 5, 30, 40), (30, 120), False), ((1, 5, 5, 9, 11), (10, 18, 22), False),
             ((1, 2, 30, 40), (60, 80), True), ((2, 2, 30, 40), (15, 20), True),
             ((1, 1, 5, 9, 11), (10, 18, 22), True), ((1, 2, 100, 120), (200, 240), False),
             ((1, 2, 30, 40), (70, 50), True), ((1, 2, 30, 40), (45, 80), True),
             ((2, 3, 8, 9, 10), (21, 3, 57), True), ((1, 2, 5, 9, 11), (10, 18, 15), True),
             ((2, 2, 100), (400,), True),
             ((2, 2, 300), (150,), True), ((2, 2, 100), (6400,), False)]
    for split in (1 << 40, 0):
        monkeypatch.setattr(interp, "_DIRECT_SPLIT", split)
        interp._plan.cache_clear()
        for shape, out, direct in cases:
            x = rng.standard_normal(shape).astype(np.float32)
            x.reshape(-1)[::7] = -0.0
            before = counts.get("direct", 0)
            y = tconv.interpolate(x, size=out, mode=mode)
            assert counts.get("direct", 0) == before + direct, (shape, out)
            ref = F.interpolate(torch.from_numpy(x), size=out, mode=mode).numpy()
            np.testing.assert_array_equal(y, ref)
            np.testing.assert_array_equal(np.signbit(y), np.signbit(ref))
        assert (counts.get("pool", 0) > 0) == (split == 0)


def test_plans_are_reused_and_read_only(native):
    x = np.random.default_rng(1).standard_normal((1, 3, 9, 7)).astype(np.float32)
    hits = interp._plan.hits
    a = tconv.interpolate(x, size=(5, 11), mode="bicubic")
    b = tconv.interpolate(x + 1, size=(5, 11), mode="bicubic")
    assert interp._plan.hits == hits + 1
    plan = interp._plan(*_key(x, dict(size=(5, 11), mode="bicubic")))
    assert plan.direct is not None and all(not t.flags.writeable for t in plan.direct)
    # the cubic weights of each output sum to 1: adding 1 to the input adds 1
    assert_close(b - a, np.ones_like(a), np.float32, tol=1e-4)
    assert a.flags.writeable and b.flags.writeable


@pytest.mark.parametrize("other", [
    dict(scale_factor=True), dict(scale_factor=np.float64(2.0)), dict(scale_factor=[2, 2]),
    dict(size=(np.int64(4), 4)), dict(size=[4, 4]), dict(size=(4.0, 4)),
    dict(scale_factor=2, align_corners=1), dict(scale_factor=2, antialias=1),
    dict(scale_factor=2, recompute_scale_factor=1)])
def test_unplain_arguments_are_checked_every_time(native, other):
    """An argument that is not a plain int, float, bool or tuple of them never reuses a
    plan: with plans made for the plain arguments it equals, the call raises or returns
    exactly what it does with no plan made (and agrees with torch where both accept)."""
    x = np.random.default_rng(2).standard_normal((1, 2, 2, 2))
    kw = dict(mode="bilinear", **other)
    assert _key(x, kw) is None

    def outcome():
        try:
            return tconv.interpolate(x, **kw)
        except (TypeError, ValueError) as exc:
            return type(exc), str(exc)

    interp._plan.cache_clear()
    first = outcome()
    for plain in (dict(scale_factor=1), dict(scale_factor=2), dict(size=(4, 4)),
                  dict(scale_factor=2, align_corners=True)):
        tconv.interpolate(x, mode="bilinear", **plain)     # plans that other must not hit
    again = outcome()
    if isinstance(first, tuple):
        assert again == first
        return
    np.testing.assert_array_equal(again, first)
    try:
        ref = F.interpolate(torch.from_numpy(x), **kw).numpy()
    except Exception:                                        # noqa: BLE001 - torch refuses
        return
    assert_close(again, ref)


def test_invalid_calls_are_not_remembered(native):
    x = np.zeros((1, 1, 4, 4))
    entries = len(interp._plan.entries)
    for kw in (dict(size=(0, 4), mode="bilinear"), dict(scale_factor=2, mode="linear"),
               dict(size=4, scale_factor=2, mode="nearest"),
               dict(scale_factor=2, mode="nearest", align_corners=True),
               dict(scale_factor=2, mode="area", antialias=True)):
        for _ in range(2):
            with pytest.raises(ValueError):
                tconv.interpolate(x, **kw)
    assert len(interp._plan.entries) == entries


def test_other_inputs_take_the_checked_path(native):
    """float16, integers, lists and arrays of another type are converted and planned per
    call; the values agree with the float32/64 calls."""
    x = np.arange(2 * 3 * 5, dtype=np.float64).reshape(1, 2, 3, 5)
    ref = tconv.interpolate(x, scale_factor=2, mode="bilinear")
    ints = tconv.interpolate(x.astype(np.int64), scale_factor=2, mode="bilinear")
    np.testing.assert_array_equal(ints, ref)
    lists = tconv.interpolate(x.tolist(), scale_factor=2, mode="bilinear")
    np.testing.assert_array_equal(lists, ref)
    half = tconv.interpolate(x.astype(np.float16), scale_factor=2, mode="bilinear")
    assert half.dtype == np.float16
    assert_close(half.astype(np.float64), ref, tol=1e-2)


@needs_numba
def test_numba_off_and_compile_failure(native, monkeypatch):
    """TCONV_NUMBA=0 and a direct loop that fails to compile both give the passes' values
    (the latter with one warning); a plan made with numba on still works with it off."""
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 5))
    kw = dict(size=(9, 4), mode="bicubic", align_corners=True)
    on = tconv.interpolate(x, **kw)
    monkeypatch.setenv("TCONV_NUMBA", "0")
    off = tconv.interpolate(x, **kw)                # the same plan, now the passes
    assert_close(off, on)
    monkeypatch.delenv("TCONV_NUMBA")

    def broken(*args):
        from numba.core.errors import TypingError

        raise TypingError("forced compile failure")

    monkeypatch.setitem(native.kernels(), "resample_direct", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = tconv.interpolate(x, **kw)
    assert any("forced compile failure" in str(c.message) for c in caught)
    assert not native.available()
    assert_close(y, on)


@needs_numba
def test_empty_batch_and_one_value(native):
    for shape, kw in [((0, 2, 3, 3), dict(size=(5, 2), mode="bilinear")),
                      ((1, 1, 1), dict(size=7, mode="linear")),
                      ((1, 1, 1, 1, 1), dict(size=(2, 1, 3), mode="area"))]:
        x = np.full(shape, -0.0)
        y = tconv.interpolate(x, **kw)
        ref = F.interpolate(torch.from_numpy(x), **kw).numpy()
        np.testing.assert_array_equal(y, ref)
        assert y.shape == ref.shape and math.prod(y.shape) == ref.size


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_kernel_equals_the_index_gather(native, dtype):
    """``resample_gather`` (every table one tap of weight 1) writes exactly
    ``x[p][td, th, tw]`` over any range of rows and planes -- repeated depth and row
    indices copied from the row before, planes not a multiple of four, -0.0, inf and
    nan -- and leaves the other rows untouched; nearest calls reach it."""
    kernel = native.kernels()["resample_gather"]
    rng = np.random.default_rng(41)
    copies = 0
    for _ in range(60):
        P = int(rng.integers(1, 11))
        size = [int(rng.integers(1, 9)) for _ in range(3)]
        out = [int(rng.integers(1, 13)) for _ in range(3)]
        # sorted indices with repeats (up-sampling) or any order (a general gather)
        tables = []
        for n, m in zip(size, out):
            idx = rng.integers(0, n, m)
            tables.append((np.sort(idx) if rng.random() < 0.7 else idx).astype(np.intp)
                          .reshape(m, 1))
        x = _input((P, *size), dtype, rng, special=True)
        y = np.full((P, *out), 7.0, dtype)
        b0 = int(rng.integers(0, out[1]))
        b1 = int(rng.integers(b0 + 1, out[1] + 1))
        p0 = int(rng.integers(0, P))
        p1 = int(rng.integers(p0 + 1, P + 1))
        kernel(x, *tables, y, b0, b1, p0, p1)
        td, th, tw = (t[:, 0] for t in tables)
        want = x[:, td][:, :, th][:, :, :, tw]
        got = y[p0:p1, :, b0:b1]
        np.testing.assert_array_equal(got, want[p0:p1, :, b0:b1])
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want[p0:p1, :, b0:b1]))
        rest = np.ones(y.shape, bool)
        rest[p0:p1, :, b0:b1] = False
        assert (y[rest] == 7).all()
        copies += bool((np.diff(td) == 0).any() or (np.diff(th[b0:b1]) == 0).any())
    assert copies >= 20


@needs_numba
def test_nearest_direct_calls_take_the_gather(native, monkeypatch):
    """Nearest calls of the direct loop run ``resample_gather``; a table of two taps or of
    weights other than 1 runs ``resample_direct``; each gives torch's result."""
    calls: list[str] = []
    kernels = native.kernels()
    for name in ("resample_gather", "resample_direct"):
        real = kernels[name]
        monkeypatch.setitem(native._KERNELS, name,
                            lambda *a, _n=name, _r=real: calls.append(_n) or _r(*a))
    x = np.random.default_rng(3).standard_normal((2, 3, 9, 11)).astype(np.float32)
    for mode, want in (("nearest", "resample_gather"), ("nearest-exact", "resample_gather"),
                       ("bilinear", "resample_direct"), ("area", "resample_direct")):
        calls.clear()
        y = tconv.interpolate(x, size=(7, 5), mode=mode)
        assert set(calls) == {want}, mode
        ref = F.interpolate(torch.from_numpy(x), size=(7, 5), mode=mode).numpy()
        assert_close(y, ref, np.float32)


@needs_numba
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_four_planes_equal_one_plane_at_a_time(native, dtype):
    """``resample_direct`` over a range of planes (four at a time, then one by one) gives
    bit for bit what it gives one plane a call, over seeded 2-D and 3-D tables of every
    interpolating mode (inf and nan included)."""
    kernel = native.kernels()["resample_direct"]
    rng = np.random.default_rng(43)
    checked = 0
    for shape, kw in _calls(44, 400):
        if "nearest" in kw["mode"] or len(shape) < 4 or shape[0] * shape[1] < 4:
            continue
        x = _input(shape, dtype, rng, special=rng.random() < 0.3)
        key = _key(x, kw)
        tables = interp._plan(*key).direct if key is not None else None
        if tables is None or len(tables) != 6:
            continue
        out_size = interp._plan(*key).out_size
        lead = (1,) * (5 - x.ndim)
        P = shape[0] * shape[1]
        src = np.ascontiguousarray(x).reshape(P, *lead, *x.shape[2:])
        together = np.empty((P, *lead, *out_size), dtype)
        apart = np.empty_like(together)
        rows = together.shape[2]
        kernel(src, *tables, together, 0, rows, 0, P)
        for p in range(P):
            kernel(src, *tables, apart, 0, rows, p, p + 1)
        np.testing.assert_array_equal(together, apart)
        checked += 1
    assert checked >= 25
