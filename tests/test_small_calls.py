"""Small calls: tiny and small layers and resizes, where per-call planning, caches and the
one-product path (1x1 kernels, 1x1 inputs, kernels within the stride) do the work.

Seeded populations against torch (float64 oracle, and float32 against torch's float32
where tconv follows ATen's float32 arithmetic), repeated calls with the same and with
different parameters (cache keys), and the read-only rule for cached arrays.
"""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest

import tconv
from tconv._algorithms import _cost, _native, depthwise

from ._oracle import assert_close

torch = pytest.importorskip("torch")
F = torch.nn.functional
# the modules (``tconv.conv`` and ``tconv.interpolate`` are the functions)
conv_module = importlib.import_module("tconv.conv")
interp_module = importlib.import_module("tconv.interpolate")
CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _layers(count: int, seed: int) -> list[dict]:
    """Valid small transposed-conv layers, PyTorch-expressible (symmetric padding):
    every dim is a 1x1 kernel, a one-position input, a kernel within the stride, or a
    general small kernel."""
    rng = np.random.default_rng(seed)
    layers: list[dict] = []
    while len(layers) < count:
        nd = int(rng.integers(1, 4))
        g = int(rng.choice([1, 1, 1, 2, 3]))
        cig, cog = int(rng.integers(1, 7)), int(rng.integers(1, 7))
        if cig == cog == 1:
            cig = 2                                 # depthwise layers have their own tests
        size, kernel, stride, dil = [], [], [], []
        for _ in range(nd):
            kind = rng.choice(["k1", "s1", "within", "general"])
            s = int(rng.integers(1, 5))
            d = int(rng.integers(1, 3))
            if kind == "k1":
                k, i = 1, int(rng.integers(1, 6))
            elif kind == "s1":
                k, i = int(rng.integers(1, 5)), 1
            elif kind == "within":
                d = 1
                k, i = int(rng.integers(1, s + 1)), int(rng.integers(1, 6))
            else:
                k, i = int(rng.integers(1, 5)), int(rng.integers(1, 6))
            size.append(i)
            kernel.append(k)
            stride.append(s)
            dil.append(d)
        pad = tuple(int(rng.integers(0, 2)) for _ in range(nd))
        op = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dil))
        n = int(rng.choice([1, 1, 2, 3]))
        out = [(i - 1) * s - 2 * p + d * (k - 1) + o + 1
               for i, s, p, d, k, o in zip(size, stride, pad, dil, kernel, op)]
        if min(out) < 1:
            continue
        layers.append(dict(x=(n, cig * g, *size), w=(cig * g, cog, *kernel),
                           stride=tuple(stride), padding=pad, output_padding=op, groups=g,
                           dilation=tuple(dil)))
    return layers


def _geometry(layer: dict) -> tuple:
    return (layer["stride"], layer["padding"], layer["output_padding"], layer["groups"],
            layer["dilation"])


def _torch_conv_t(x: np.ndarray, w: np.ndarray, layer: dict) -> np.ndarray:
    s, pad, op, g, d = _geometry(layer)
    return CONV_T[x.ndim - 2](torch.from_numpy(x), torch.from_numpy(w), None, s, pad, op, g,
                              d).numpy()


LAYERS = _layers(80, seed=7)


class TestConvTransposeSmall:
    def test_oracle(self, dtype):
        rng = np.random.default_rng(0)
        single = 0
        for layer in LAYERS:
            x = rng.standard_normal(layer["x"])
            w = rng.standard_normal(layer["w"])
            ref = _torch_conv_t(x, w, layer)
            y = tconv.conv_transpose(x.astype(dtype), w.astype(dtype), None, *_geometry(layer))
            assert_close(y, ref, dtype)
            p = _cost.params(layer["x"], layer["w"], *_geometry(layer))
            single += _cost.single_product(layer["x"], layer["w"], p)
        assert single >= 30                          # the population reaches the path

    def test_tap_copies_shared(self, dtype, monkeypatch):
        # every one-product call's tap copies split into channel ranges on the pool (as
        # large outputs run): the same numbers as torch, channels neither lost nor doubled
        import sys

        monkeypatch.setattr(sys.modules["tconv.conv"], "SINGLE_TERM_PARALLEL", 0)
        rng = np.random.default_rng(2)
        hits = 0
        for layer in LAYERS:
            p = _cost.params(layer["x"], layer["w"], *_geometry(layer))
            if not _cost.single_product(layer["x"], layer["w"], p):
                continue
            hits += 1
            x, w = rng.standard_normal(layer["x"]), rng.standard_normal(layer["w"])
            y = sys.modules["tconv.conv"]._single_product(
                x.astype(dtype), w.astype(dtype), p, p.transposed_size(layer["x"][2:]))
            assert_close(y, _torch_conv_t(x, w, layer), dtype)
        assert hits >= 30

    def test_identity(self, cost_file):
        # the one-product path is what the cost model says auto runs (gemm, and why), and
        # it agrees with every explicit algorithm, negative (low, high) crops included
        # (the small-layer bincount path, which would pre-empt it here, off)
        cost_file(scatter_max=0, numpy_scatter_max=0)
        rng = np.random.default_rng(1)
        for layer in LAYERS[:40]:
            x, w = rng.standard_normal(layer["x"]), rng.standard_normal(layer["w"])
            geo = _geometry(layer)
            d = tconv.explain_algorithm(layer["x"], layer["w"], *geo, dtype=np.float64)
            p = _cost.params(layer["x"], layer["w"], *geo)
            if _cost.single_product(layer["x"], layer["w"], p):
                assert d.algorithm == "gemm"
                assert any("within the stride" in r for r in d.reasons), str(d)
            auto = tconv.conv_transpose(x, w, None, *geo)
            for algo in ("scatter", "gemm", "phase"):
                np.testing.assert_allclose(auto, tconv.conv_transpose(x, w, None, *geo,
                                                                      algorithm=algo),
                                           atol=1e-12)
        for pairs in (((-2, 1), (0, -1)), ((1, -1), (-1, 2)), ((0, 0), (2, 0))):
            x, w = rng.standard_normal((2, 4, 3, 1)), rng.standard_normal((4, 3, 2, 3))
            got = tconv.conv_transpose(x, w, None, (2, 1), pairs)
            np.testing.assert_allclose(
                got, tconv.conv_transpose(x, w, None, (2, 1), pairs, algorithm="scatter"),
                atol=1e-12)

    def test_against_scatter(self):
        # a wider population for the one-product path (float64 against the one-to-many
        # reference): dims of every kind mixed, (low, high) crops with negative entries,
        # output_padding, groups; each output in place, cropped, or zero-extended
        rng = np.random.default_rng(12)
        checked = 0
        while checked < 150:
            nd = int(rng.integers(1, 4))
            g = int(rng.choice([1, 1, 2, 3]))
            cig, cog = int(rng.integers(1, 5)), int(rng.integers(2, 5))
            size, kernel = [], []
            stride = [int(v) for v in rng.integers(1, 5, nd)]
            dil = [int(v) for v in rng.integers(1, 3, nd)]
            for d in range(nd):
                kind = rng.integers(0, 3)
                if kind == 0:
                    kernel.append(1)
                    size.append(int(rng.integers(1, 6)))
                elif kind == 1:
                    kernel.append(int(rng.integers(1, 5)))
                    size.append(1)
                else:
                    kernel.append(int(rng.integers(1, (stride[d] - 1) // dil[d] + 2)))
                    size.append(int(rng.integers(1, 6)))
            op = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dil))
            pad: object = tuple(int(rng.integers(0, 3)) for _ in range(nd))
            if rng.random() < 0.4:
                pad = tuple((int(rng.integers(-2, 3)), int(rng.integers(-2, 3)))
                            for _ in range(nd))
            x = rng.standard_normal((int(rng.integers(1, 3)), cig * g, *size))
            w = rng.standard_normal((cig * g, cog, *kernel))
            geo = (tuple(stride), pad, op, g, tuple(dil))
            try:
                ref = tconv.conv_transpose(x, w, None, *geo, algorithm="scatter")
            except ValueError:
                continue                            # an empty output
            p = _cost.params(x.shape, w.shape, *geo)
            assert _cost.single_product(x.shape, w.shape, p)
            np.testing.assert_allclose(tconv.conv_transpose(x, w, None, *geo), ref,
                                       atol=1e-12)
            checked += 1

    @pytest.mark.parametrize("shape,wshape,kw", [
        ((2, 128, 4, 4, 4), (128, 64, 1, 1, 1), {}),                    # 1x1x1 kernel
        ((2, 512, 4, 4), (512, 32, 2, 2), {"stride": 2}),               # kernel == stride
        ((1, 100, 1, 1), (100, 512, 4, 4), {}),                         # 1x1 input
        ((1, 512, 1, 1), (512, 64, 4, 4), {"stride": 2, "padding": 1}),
        ((2, 32, 16, 16), (32, 96, 1, 1), {}),
        ((3, 6, 1, 5), (6, 8, 4, 1), {"stride": (2, 3), "dilation": (2, 1)}),  # mixed dims
    ])
    def test_zoo_shapes(self, shape, wshape, kw, cost_file):
        # the layers the one-product path was made for, float32 against torch float64
        cost_file()
        rng = np.random.default_rng(2)
        x, w = rng.standard_normal(shape), rng.standard_normal(wshape)
        layer = dict(stride=kw.get("stride", 1), padding=kw.get("padding", 0),
                     output_padding=0, groups=1, dilation=kw.get("dilation", 1))
        ref = _torch_conv_t(x, w, layer)
        y = tconv.conv_transpose(x.astype(np.float32), w.astype(np.float32), None,
                                 *_geometry(layer))
        assert_close(y, ref, np.float32)
        assert tconv.explain_algorithm(shape, wshape, **kw).algorithm == "gemm"

    def test_phase_for_one_product_layers(self, cost_file):
        # single_phase_overhead: one-product layers whose phase grid costs at most that
        # many times the useful products run phase's blocks, the others gemm's one product;
        # either way the numbers of the one-to-many reference
        rng = np.random.default_rng(4)
        cost_file(single_phase_overhead=1.01, scatter_max=0, numpy_scatter_max=0)
        picked = set()
        for layer in LAYERS[:60]:
            geo = _geometry(layer)
            p = _cost.params(layer["x"], layer["w"], *geo)
            if not _cost.single_product(layer["x"], layer["w"], p):
                continue
            d = tconv.explain_algorithm(layer["x"], layer["w"], *geo, dtype=np.float64)
            want = "phase" if d.features.grid_overhead <= 1.01 else "gemm"
            assert d.algorithm == want, str(d)
            picked.add(want)
            x, w = rng.standard_normal(layer["x"]), rng.standard_normal(layer["w"])
            np.testing.assert_allclose(
                tconv.conv_transpose(x, w, None, *geo),
                tconv.conv_transpose(x, w, None, *geo, algorithm="scatter"), atol=1e-12)
        assert picked == {"phase", "gemm"}              # the population reaches both

    def test_repeated_calls(self):
        # the same shapes with different parameters, interleaved and repeated: every call
        # is planned for its own arguments (cache keys hold everything that matters)
        rng = np.random.default_rng(3)
        x, w = rng.standard_normal((2, 6, 3, 3)), rng.standard_normal((6, 4, 2, 2))
        b = rng.standard_normal(4)
        geos = [(1, 0, 0, 1, 1), (2, 0, 0, 1, 1), (2, 0, 1, 1, 1), (2, 1, 1, 1, 1),
                (1, 0, 0, 2, 1), (3, 0, 2, 1, 1), (1, 0, 1, 1, 2), (2, 0, 0, 1, 2)]
        refs = [_torch_conv_t(x, w, dict(zip(("stride", "padding", "output_padding",
                                              "groups", "dilation"), geo))) for geo in geos]
        for _ in range(3):
            for geo, ref in zip(geos, refs):
                y = tconv.conv_transpose(x, w, None, *geo)
                assert_close(y, ref)
                yb = tconv.conv_transpose(x, w, b if geo[3] == 1 else None, *geo)
                assert_close(yb, ref + (b[None, :, None, None] if geo[3] == 1 else 0))
        # float32 and float64 of one layer, one after the other
        for dt in (np.float32, np.float64, np.float32):
            y = tconv.conv_transpose(x.astype(dt), w.astype(dt), None, 2)
            assert y.dtype == dt
            assert_close(y, refs[1], dt)

    def test_outputs_are_the_callers(self):
        # results are fresh, writable arrays: writing into one changes no later call
        rng = np.random.default_rng(4)
        for xs, ws, s in (((1, 8, 1, 1), (8, 5, 3, 3), 1), ((2, 8, 3, 3), (8, 5, 1, 1), 1),
                          ((2, 8, 3, 3), (8, 5, 2, 2), 2)):
            x, w = rng.standard_normal(xs), rng.standard_normal(ws)
            y1 = tconv.conv_transpose(x, w, None, s)
            keep = y1.copy()
            assert y1.flags.writeable and y1.flags.c_contiguous
            assert not np.shares_memory(y1, x) and not np.shares_memory(y1, w)
            y1[...] = 7.0
            np.testing.assert_array_equal(tconv.conv_transpose(x, w, None, s), keep)

    def test_results_do_not_share_the_product_buffer(self):
        # where the taps do not land in place (a crop, a gap) the product goes to a kept
        # buffer: each result is its own array, unchanged by the next call
        rng = np.random.default_rng(6)
        C = importlib.import_module("tconv.conv")
        for xs, ws, s, pad in (((2, 8, 3, 3), (8, 5, 2, 2), 2, 1),
                               ((2, 8, 4, 4), (8, 3, 1, 1), 2, 0),
                               ((1, 16, 5, 5, 5), (16, 4, 2, 2, 2), 3, 0)):
            p = _cost.params(xs, ws, s, pad)
            out = p.transposed_size(xs[2:])
            ys, keeps = [], []
            for _ in range(3):
                x, w = rng.standard_normal(xs), rng.standard_normal(ws)
                ys.append(C._single_product(x, w, p, out))
                keeps.append(ys[-1].copy())
                assert_close(ys[-1], _torch_conv_t(x, w, {"stride": s, "padding": pad,
                                                          "output_padding": 0, "groups": 1,
                                                          "dilation": 1}))
            for y, keep in zip(ys, keeps):
                np.testing.assert_array_equal(y, keep)
            assert not np.shares_memory(ys[0], ys[1]) and not np.shares_memory(ys[1], ys[2])

    def test_inputs_untouched(self):
        rng = np.random.default_rng(5)
        x, w = rng.standard_normal((2, 8, 1, 1)), rng.standard_normal((8, 5, 3, 3))
        x0, w0 = x.copy(), w.copy()
        tconv.conv_transpose(x, w, None, 2, 1)
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(w, w0)

    def test_batch_zero(self):
        # torch accepts an empty batch and returns an empty batch of the output shape;
        # so does tconv, on every path
        for xs, ws, kw in (((0, 8, 1, 1), (8, 5, 3, 3), {}), ((0, 8, 4, 4), (8, 5, 1, 1), {}),
                           ((0, 8, 4, 4), (8, 5, 2, 2), {"stride": 2}),
                           ((0, 4, 5), (4, 2, 3), {"stride": 2, "padding": 1})):
            ref = CONV_T[len(xs) - 2](torch.zeros(xs, dtype=torch.float64),
                                      torch.zeros(ws, dtype=torch.float64), **kw)
            y = tconv.conv_transpose(np.zeros(xs), np.zeros(ws), **kw)
            assert y.shape == tuple(ref.shape) and y.dtype == np.float64

    def test_threads_agree(self):
        # one thread and two give the same numbers; the second layer is large enough for
        # its pieces to be shared among the threads
        rng = np.random.default_rng(6)
        layers = [((2, 128, 4, 4, 4), (128, 64, 1, 1, 1), 1),
                  ((16, 64, 16, 16), (64, 64, 1, 1), 1), ((2, 64, 8, 8), (64, 32, 2, 2), 2)]
        before = tconv.get_num_threads()
        try:
            for xs, ws, s in layers:
                x = rng.standard_normal(xs).astype(np.float32)
                w = rng.standard_normal(ws).astype(np.float32)
                got = []
                for n in (1, 2):
                    tconv.set_num_threads(n)
                    got.append(tconv.conv_transpose(x, w, None, s))
                np.testing.assert_allclose(got[0], got[1], rtol=1e-6, atol=1e-5)
                ref = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), None, s)
                assert_close(got[1], ref, np.float32)
        finally:
            tconv.set_num_threads(before)



def _depthwise_single_term(count: int, seed: int) -> list[dict]:
    """Depthwise layers whose outputs are each at most one term: along every dim a kernel
    within the stride (dilated), a 1x1 kernel, or a one-position input; padding that crops,
    output_padding that no tap reaches; 1-3 spatial dims, batch 1-3, 1-40 channels."""
    rng = np.random.default_rng(seed)
    layers: list[dict] = []
    while len(layers) < count:
        nd = int(rng.integers(1, 4))
        size, kernel, stride, dil = [], [], [], []
        for _ in range(nd):
            s, d = int(rng.integers(1, 6)), int(rng.integers(1, 3))
            if rng.random() < 0.2:
                k, i = int(rng.integers(1, 5)), 1                      # one-position input
            else:
                k, i = int(rng.integers(1, (s - 1) // d + 2)), int(rng.integers(1, 9))
            size.append(i)
            kernel.append(k)
            stride.append(s)
            dil.append(d)
        pad = tuple(int(rng.integers(0, d * (k - 1) + 1)) for k, d in zip(kernel, dil))
        op = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dil))
        c = int(rng.integers(1, 41))
        out = [(i - 1) * s - 2 * p + d * (k - 1) + o + 1
               for i, s, p, d, k, o in zip(size, stride, pad, dil, kernel, op)]
        if min(out) < 1:
            continue
        layers.append(dict(x=(int(rng.integers(1, 4)), c, *size), w=(c, 1, *kernel),
                           stride=tuple(stride), padding=pad, output_padding=op, groups=c,
                           dilation=tuple(dil)))
    return layers


class TestDepthwiseSingleTerm:
    """Depthwise layers with one term an output: one broadcast multiply a tap into ``y``."""

    LAYERS = _depthwise_single_term(60, seed=21)

    @pytest.mark.parametrize("numba", ["1", "0"])
    def test_oracle(self, dtype, numba, monkeypatch):
        monkeypatch.setenv("TCONV_NUMBA", numba)
        rng = np.random.default_rng(0)
        hits = inner = 0
        for layer in self.LAYERS:
            x = rng.standard_normal(layer["x"])
            w = rng.standard_normal(layer["w"])
            geo = _geometry(layer)
            p = _cost.params(layer["x"], layer["w"], *geo)
            assert _cost.single_term(layer["x"], layer["w"], p)
            algo = tconv.explain_algorithm(layer["x"], layer["w"], *geo,
                                           dtype=dtype).algorithm
            hits += algo == "gemm"
            inner += algo == "direct" and depthwise.channels_inner(layer["x"], p)
            y = tconv.conv_transpose(x.astype(dtype), w.astype(dtype), None, *geo)
            assert_close(y, _torch_conv_t(x, w, layer), dtype)
        # the population reaches the path; with numba, short rows of many channels take the
        # depthwise channels-innermost loops instead
        assert hits >= (40 if numba == "0" else 8) and hits + inner >= 50

    def test_rule(self):
        # only depthwise layers, and only where no output sums two taps
        p = _cost.params((1, 4, 5, 5), (4, 1, 2, 2), 2, 0, 0, 4)
        assert _cost.single_term((1, 4, 5, 5), (4, 1, 2, 2), p)
        p = _cost.params((1, 4, 5, 5), (4, 1, 3, 3), 2, 0, 0, 4)
        assert not _cost.single_term((1, 4, 5, 5), (4, 1, 3, 3), p)        # overlapping
        p = _cost.params((1, 4, 5, 5), (4, 1, 2, 2), 2, 0, 0, 4, 2)
        assert not _cost.single_term((1, 4, 5, 5), (4, 1, 2, 2), p)        # dilated past s
        p = _cost.params((1, 4, 5, 5), (4, 2, 2, 2), 2, 0, 0, 4)
        assert not _cost.single_term((1, 4, 5, 5), (4, 2, 2, 2), p)        # two outputs/group
        p = _cost.params((1, 4, 1, 1), (4, 1, 3, 3), 1, 0, 0, 4)
        assert _cost.single_term((1, 4, 1, 1), (4, 1, 3, 3), p)            # 1x1 input
        # (a layer above the small-layer bincount's bound: that path takes smaller ones)
        d = tconv.explain_algorithm((8, 64, 16, 16), (64, 1, 2, 2), 2, groups=64)
        assert any("one term" in r for r in d.reasons), str(d)

    @pytest.mark.parametrize(("channels", "algo"), [(4, "gemm"), (64, "direct")])
    def test_threads_and_nonfinite(self, channels, algo):
        # large enough for channel ranges (or row ranges) on the pool: 1 and 2 threads
        # agree with torch; inf and nan reach exactly the outputs of their taps, as in
        # torch. 4 channels: the broadcast multiplies; 64: with numba, the depthwise
        # channels-innermost loops (short rows of many channels)
        if algo == "direct" and not _native.available():
            algo = "gemm"
        rng = np.random.default_rng(3)
        side = 640 // channels
        x = rng.standard_normal((2, channels, side, 20, 10)).astype(np.float32)
        x[0, 3, 5, 6, 7], x[1, channels - 1, 0, 0, 0] = np.inf, np.nan
        w = rng.standard_normal((channels, 1, 2, 2, 2)).astype(np.float32)
        layer = dict(stride=2, padding=0, output_padding=1, groups=channels, dilation=1)
        assert tconv.explain_algorithm(x.shape, w.shape, *_geometry(layer)).algorithm == algo
        ref = _torch_conv_t(x.astype(np.float64), w.astype(np.float64), layer)
        before = tconv.get_num_threads()
        try:
            for n in (1, 2):
                tconv.set_num_threads(n)
                y = tconv.conv_transpose(x, w, None, *_geometry(layer))
                np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
                np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
                ok = np.isfinite(ref)
                assert_close(y[ok], ref[ok], np.float32)
        finally:
            tconv.set_num_threads(before)

@pytest.mark.parametrize("depthwise_layers", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
def test_tap_writes_in_cache_chunks(depthwise_layers, threads, monkeypatch):
    """The tap copies of ``_single_product`` and the multiplies of ``_single_term`` run in
    chunks of images and channels on large outputs (``CHUNK_BYTES`` of output at most, a
    plane at least):
    with chunks of one plane, of a few and of everything, the same bits, and torch's
    values, over seeded layers of both kinds (crops, output_padding no tap reaches,
    dilation, 1-3-D)."""
    population = (_depthwise_single_term(30, seed=5) if depthwise_layers
                  else [lay for lay in _layers(120, seed=5)
                        if _cost.single_product(lay["x"], lay["w"], _cost.params(
                            lay["x"], lay["w"], *_geometry(lay)))][:30])
    assert len(population) >= 20
    rng = np.random.default_rng(threads)
    before = tconv.get_num_threads()
    tconv.set_num_threads(threads)
    try:
        for layer in population:
            # batch and channels large enough for several chunks
            xs = (layer["x"][0] + 2, *layer["x"][1:])
            x = rng.standard_normal(xs).astype(np.float32)
            w = rng.standard_normal(layer["w"]).astype(np.float32)
            geo = _geometry(layer)
            p = _cost.params(x.shape, w.shape, *geo)
            out = p.transposed_size(x.shape[2:])
            fn = conv_module._single_term if depthwise_layers else conv_module._single_product
            plane = int(np.prod(out)) * 4
            got = []
            monkeypatch.setattr(conv_module, "CHUNK_FROM_BYTES", 0)
            for chunk in (1, 3 * plane, 1 << 40):
                monkeypatch.setattr(conv_module, "CHUNK_BYTES", chunk)
                got.append(fn(x, w, p, out))
            np.testing.assert_array_equal(got[0], got[2])
            np.testing.assert_array_equal(got[1], got[2])
            ref = _torch_conv_t(x.astype(np.float64), w.astype(np.float64), layer)
            assert_close(got[0], ref, np.float32)
    finally:
        tconv.set_num_threads(before)


def _resizes(count: int, seed: int) -> list[dict]:
    """Small resizes, every mode, sizes and scale factors, 1-3 spatial dims."""
    rng = np.random.default_rng(seed)
    modes = {1: ["nearest", "nearest-exact", "linear", "area"],
             2: ["nearest", "nearest-exact", "bilinear", "bicubic", "area"],
             3: ["nearest", "nearest-exact", "trilinear", "area"]}
    cases = []
    for _ in range(count):
        nd = int(rng.integers(1, 4))
        mode = str(rng.choice(modes[nd]))
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 4)),
                 *(int(v) for v in rng.integers(1, 9 if nd < 3 else 5, nd)))
        kw: dict = {"mode": mode}
        if rng.random() < 0.5:
            kw["size"] = tuple(int(v) for v in rng.integers(1, 17 if nd < 3 else 7, nd))
        else:
            kw["scale_factor"] = float(rng.choice([0.5, 1.0, 1.5, 2.0, 3.0, 4.0]))
        if mode in ("linear", "bilinear", "bicubic", "trilinear") and rng.random() < 0.4:
            kw["align_corners"] = True
        cases.append({"shape": shape, "kw": kw})
    return cases


RESIZES = _resizes(90, seed=11)


class TestInterpolateSmall:
    def test_oracle(self, dtype):
        rng = np.random.default_rng(0)
        for case in RESIZES:
            x = rng.standard_normal(case["shape"]).astype(dtype)
            try:
                ref = F.interpolate(torch.from_numpy(x), **case["kw"]).numpy()
            except (RuntimeError, ValueError):
                with pytest.raises(ValueError, match="interpolate"):
                    tconv.interpolate(x, **case["kw"])
                continue
            if 0 in ref.shape:
                # torch returns an empty array for a scale factor that rounds a size to 0;
                # tconv refuses it, naming the argument
                with pytest.raises(ValueError, match="scale_factor"):
                    tconv.interpolate(x, **case["kw"])
                continue
            assert_close(tconv.interpolate(x, **case["kw"]), ref, dtype)

    def test_repeated_calls(self):
        # one input resized to many sizes and modes, over and over: no table of one call
        # is used by another
        rng = np.random.default_rng(1)
        x = rng.standard_normal((2, 3, 6, 5))
        calls = [dict(size=(12, 10), mode="bilinear"), dict(size=(12, 10), mode="bicubic"),
                 dict(size=(12, 11), mode="bilinear"), dict(scale_factor=2, mode="bilinear"),
                 dict(scale_factor=2, mode="bilinear", align_corners=True),
                 dict(size=(3, 5), mode="area"), dict(size=(3, 4), mode="area"),
                 dict(size=(12, 10), mode="nearest"), dict(size=(12, 10), mode="nearest-exact"),
                 dict(scale_factor=3, mode="bicubic")]
        refs = [F.interpolate(torch.from_numpy(x), **kw).numpy() for kw in calls]
        for _ in range(3):
            for kw, ref in zip(calls, refs):
                assert_close(tconv.interpolate(x, **kw), ref)
        x1 = rng.standard_normal((4, 1, 300))
        for size in (700, 600, 700, 150):
            for dt in (np.float32, np.float64):
                ref = F.interpolate(torch.from_numpy(x1.astype(dt)), size=size,
                                    mode="linear").numpy()
                assert_close(tconv.interpolate(x1.astype(dt), size=size, mode="linear"), ref,
                             dt)

    def test_outputs_are_the_callers(self):
        rng = np.random.default_rng(2)
        x = rng.standard_normal((1, 2, 4, 4))
        for kw in (dict(scale_factor=2, mode="bilinear"), dict(size=(2, 2), mode="area"),
                   dict(size=(4, 4), mode="nearest"), dict(size=(7, 9), mode="bicubic")):
            y = tconv.interpolate(x, **kw)
            keep = y.copy()
            assert y.flags.writeable and not np.shares_memory(y, x)
            y[...] = 3.0
            np.testing.assert_array_equal(tconv.interpolate(x, **kw), keep)


class TestCachedArraysReadOnly:
    def test_interpolate_tables(self):
        f32 = np.dtype(np.float32)
        band = interp_module._band(2, False, 4, f32)
        idx = np.array([[0, 1], [1, 2]], dtype=np.int64)
        w = np.array([[0.5, 0.5], [0.25, 0.75]], dtype=np.float64)
        dense = interp_module._dense_matrix(3, idx.shape, idx.dtype.str, idx.tobytes(),
                                            w.dtype.str, w.tobytes(), np.dtype(np.float64))
        np.testing.assert_array_equal(dense, [[0.5, 0.5, 0], [0, 0.25, 0.75]])
        for arr in (band, dense):
            assert not arr.flags.writeable
            with pytest.raises(ValueError):
                arr.flat[0] = 1.0
        # the same arguments give the same (remembered) array, others another one
        assert interp_module._band(2, False, 4, f32) is band
        assert interp_module._band(2, True, 4, f32) is not band

    def test_tap_slices(self):
        # every tap's slices against a brute-force placement
        for t, s, d, lo, size, out in itertools.product(range(3), (1, 2, 3), (1, 2),
                                                        (-2, 0, 1, 3), (1, 3), (1, 4, 7)):
            got = conv_module._tap_slices(t, s, d, lo, size, out)
            want = [(i, i * s + t * d - lo) for i in range(size)
                    if 0 <= i * s + t * d - lo < out]
            if not want:
                assert got is None
            else:
                assert got is not None
                assert list(range(size)[got[0]]) == [i for i, _ in want]
                assert list(range(out)[got[1]]) == [o for _, o in want]

