"""The depthwise algorithm (``tconv._algorithms.depthwise``): forward pass and both gradients
against PyTorch (float64) on a seeded population of depthwise layers -- 1-3-D, any kernel,
stride, dilation, padding (beyond the kernel's reach too) and output_padding -- with the
compiled kernels and on the NumPy path, and how ``auto`` and the gradients route to it."""

from __future__ import annotations

import dataclasses
import random
import sys
import warnings

import numpy as np
import pytest
from _cost_state import fresh_decisions, without_scatter
from _oracle import TOL, assert_close

import tconv
from tconv._algorithms import _cost, _native, depthwise
from tconv._algorithms._cost import params

torch = pytest.importorskip("torch")
needs_numba = pytest.mark.skipif(not _native._installed(), reason="numba not installed")

#: most numbers an output or input of one drawn layer may hold (keeps the file fast)
MAX_NUMBERS = 40_000


def _layers(count: int, seed: int) -> list[tuple]:
    """``count`` seeded valid depthwise layers: (N, C, S_in, K, stride, dilation, padding,
    output_padding, dtype)."""
    rnd = random.Random(seed)
    layers: list[tuple] = []
    while len(layers) < count:
        nd = rnd.choice((1, 1, 2, 2, 2, 3))
        kmax, smax = {1: (17, 9), 2: (17, 9), 3: (5, 4)}[nd]
        k = tuple(rnd.randint(1, kmax) for _ in range(nd))
        s = tuple(rnd.randint(1, smax) for _ in range(nd))
        d = tuple(rnd.choice((1, 1, 2, 3)) for _ in range(nd))
        size = tuple(rnd.randint(1, {1: 40, 2: 14, 3: 5}[nd]) for _ in range(nd))
        # padding up to past the kernel's reach (cropping whole phases), where valid
        pad = tuple(rnd.randint(0, dd * (kk - 1) + ss) for kk, ss, dd in zip(k, s, d))
        op = tuple(rnd.randint(0, max(ss, dd) - 1) for ss, dd in zip(s, d))
        n, c = rnd.randint(1, 4), rnd.choice((1, 2, 3, 5, 8, 17, 70))
        dtype = rnd.choice((np.float32, np.float64))
        out = [(i - 1) * ss - 2 * pp + dd * (kk - 1) + o + 1
               for i, ss, pp, dd, kk, o in zip(size, s, pad, d, k, op)]
        if min(out) < 1 or n * c * max(np.prod(out), np.prod(size)) > MAX_NUMBERS:
            continue
        layers.append((n, c, size, k, s, d, pad, op, dtype))
    return layers


LAYERS = _layers(160, seed=7)
_TORCH = {1: "conv_transpose1d", 2: "conv_transpose2d", 3: "conv_transpose3d"}


def _reference(layer: tuple, seed: int):
    """Seeded inputs (in the layer's dtype), and torch's float64 output and gradients."""
    n, c, size, k, s, d, pad, op, dtype = layer
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, *size)).astype(dtype)
    w = rng.standard_normal((c, 1, *k)).astype(dtype)
    fn = getattr(torch.nn.functional, _TORCH[len(size)])
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    yt = fn(xt, wt, None, s, pad, op, c, d)
    gy = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    yt.backward(torch.tensor(gy, dtype=torch.float64))
    p = params(x.shape, w.shape, s, pad, op, c, d)
    want = (yt.detach().numpy(), xt.grad.numpy(), wt.grad.numpy())
    return x, w, gy, p, want


def _check(layer: tuple, seed: int) -> None:
    x, w, gy, p, (y_ref, gx_ref, gw_ref) = _reference(layer, seed)
    out = p.transposed_size(x.shape[2:])
    y = depthwise.conv_transpose(x, w, p, out)
    gx, gw = depthwise.backward(gy, x, w, p)
    checks = [(y, y_ref), (gx, gx_ref), (gw, gw_ref)]
    if _native.available():
        # the compiled forward passes the rule did not pick: every kernel on every layer
        # (the row loops, the scatter and the channels-innermost pass)
        other = not depthwise.scatters(x.shape, p)
        checks.append((depthwise._compiled_forward(x, w, p, out, scatter=other), y_ref))
        checks.append((depthwise._compiled_forward(x, w, p, out, scatter=not other), y_ref))
        checks.append((depthwise._channels_last_forward(x, w, p, out), y_ref))
    for got, ref in checks:
        # float32 sums of up to thousands of terms: the tolerance scales with their count
        tol = TOL[x.dtype] * (1 if x.dtype == np.float64 else 10)
        assert_close(got, ref, dtype=x.dtype, tol=tol)


@pytest.fixture
def numpy_only(monkeypatch):
    """The NumPy path: the compiled kernels reported unavailable."""
    monkeypatch.setattr(_native, "available", lambda: False)
    _cost.clear_decisions()
    yield
    _cost.clear_decisions()


@needs_numba
@pytest.mark.parametrize("block", range(4))
def test_oracle_compiled(block):
    assert _native.available()
    for i, layer in enumerate(LAYERS[block::4]):
        _check(layer, seed=i)


@pytest.mark.parametrize("block", range(4))
def test_oracle_numpy(block, numpy_only):
    for i, layer in enumerate(LAYERS[block::4]):
        _check(layer, seed=i)


def test_population_covers_the_class():
    dims = {len(lay[2]) for lay in LAYERS}
    kernels = {k for lay in LAYERS for k in lay[3]}
    strides = {s for lay in LAYERS for s in lay[4]}
    beyond = [lay for lay in LAYERS
              if any(pp > dd * (kk - 1) for pp, dd, kk in zip(lay[6], lay[5], lay[3]))]
    assert dims == {1, 2, 3} and max(kernels) >= 15 and set(range(1, 10)) <= strides
    assert len(LAYERS) >= 150 and len(beyond) >= 5
    assert {lay[8] for lay in LAYERS} == {np.float32, np.float64}
    # at every last-dim stride the row passes interleave explicitly (2, 3, 4, 8) and some
    # others, rows of whole groups of phases and rows with a partial last group
    ends = {(lay[4][-1], ((lay[2][-1] - 1) * lay[4][-1] - 2 * lay[6][-1]
                          + lay[5][-1] * (lay[3][-1] - 1) + lay[7][-1] + 1) % lay[4][-1] == 0)
            for lay in LAYERS}
    assert {(s, whole) for s in range(2, 9) for whole in (True, False)} <= ends


@needs_numba
@pytest.mark.parametrize(("x_shape", "k", "stride", "inner"), [
    ((16, 32, 4, 4), 7, 3, True),         # 4x4 planes, 9 taps a phase
    ((4, 512, 8, 8), 4, 4, True),         # kernel = stride: one tap an output
    ((2, 64, 4, 4, 4), 3, 2, True),       # 3-D, 8 taps a phase
    ((16, 4, 4, 4), 7, 3, False),         # 4 channels: vectors too short
    ((2, 32, 8, 40), 3, 1, False),        # 42 outputs a phase: the row loops
    ((2, 32, 4, 4), 7, 1, False),         # 49 taps a phase
])
def test_channels_inner_rule(x_shape, k, stride, inner):
    # short phase runs, enough channels and few taps: the channels-innermost pass, which
    # auto reaches and explains; and it agrees with torch
    nd = len(x_shape) - 2
    c = x_shape[1]
    p = params(x_shape, (c, 1, *(k,) * nd), stride, 0, 0, c, 1)
    assert depthwise.channels_inner(x_shape, p) == inner
    dec = tconv.explain_algorithm(x_shape, (c, 1, *(k,) * nd), stride=stride, groups=c,
                                  dtype=np.float32)
    assert ("channels innermost" in str(dec)) == inner
    if inner:
        assert dec.algorithm == "direct"
    rng = np.random.default_rng(4)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal((c, 1, *(k,) * nd)).astype(np.float32)
    fn = getattr(torch.nn.functional, _TORCH[nd])
    ref = fn(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
             stride=stride, groups=c).numpy()
    assert_close(tconv.conv_transpose(x, w, stride=stride, groups=c), ref, np.float32,
                 TOL[np.dtype(np.float32)] * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_public_entry_points(dtype):
    # long rows: auto runs these kernels; the gradients are routed here too
    x = np.random.default_rng(0).standard_normal((2, 6, 9, 40)).astype(dtype)
    w = np.random.default_rng(1).standard_normal((6, 1, 5, 7)).astype(dtype)
    geo = (3, 2, 1, 6, 1)
    xt, wt = torch.tensor(x, dtype=torch.float64, requires_grad=True), \
        torch.tensor(w, dtype=torch.float64, requires_grad=True)
    yt = torch.nn.functional.conv_transpose2d(xt, wt, None, *geo)
    gy = np.ones(tuple(yt.shape), dtype=dtype)
    yt.sum().backward()
    tol = TOL[np.dtype(dtype)] * 10
    assert_close(tconv.conv_transpose(x, w, None, *geo), yt.detach().numpy(), dtype, tol)
    gx, gw, gb = tconv.conv_transpose_backward(gy, x, w, *geo)
    assert_close(gx, xt.grad.numpy(), dtype, tol)
    assert_close(gw, wt.grad.numpy(), dtype, tol)
    assert_close(gb, gy.sum(axis=(0, 2, 3)), dtype, tol)


@needs_numba
def test_routing():
    p = params((1, 8, 16, 64), (8, 1, 6, 6), 3, 1, 0, 8, 1)
    assert depthwise.preferred((1, 8, 16, 64), (8, 1, 6, 6), p)
    d = _cost.decide((1, 8, 16, 64), (8, 1, 6, 6), p, np.float32)
    assert d.algorithm == "direct" and any("outputs a phase" in r for r in d.reasons)
    assert not depthwise.scatters((1, 8, 16, 64), p)
    # short runs along the last dim, a shorter kernel and too few channels for the
    # channels-innermost pass: not these loops
    short = params((1, 4, 16, 4), (4, 1, 6, 2), 3, 1, 0, 4, 1)
    assert not depthwise.preferred((1, 4, 16, 4), (4, 1, 6, 2), short)
    # a kernel longer than the runs (large stride, small images): each input's kernel added
    stamp = params((4, 4, 4, 4), (4, 1, 16, 16), 8, 4, 1, 4, 1)
    assert depthwise.preferred((4, 4, 4, 4), (4, 1, 16, 16), stamp)
    assert depthwise.scatters((4, 4, 4, 4), stamp)
    text = str(_cost.decide((4, 4, 4, 4), (4, 1, 16, 16), stamp))
    assert "kernel of 16" in text and "not chosen" not in text
    # its backward: a small layer's gather (65,536 product numbers), else these loops
    assert "both gradients from one gather" in text
    no_gather = dataclasses.replace(_cost.constants(), gather_max=0)
    text = str(_cost.decide((4, 4, 4, 4), (4, 1, 16, 16), stamp, c=no_gather))
    assert "both gradients by the depthwise compiled loops" in text
    # direct's one-pass 2-D kernel keeps its layers (column stride 2, <= 2 x 2 taps)
    x2 = params((1, 8, 64, 64), (8, 1, 4, 4), 2, 1, 0, 8, 1)
    assert not depthwise.preferred((1, 8, 64, 64), (8, 1, 4, 4), x2)
    # not depthwise: never
    dense = params((1, 8, 16, 64), (8, 2, 6, 6), 3, 1, 0, 8, 1)
    assert not depthwise.preferred((1, 8, 16, 64), (8, 2, 6, 6), dense)
    assert not depthwise.backward_preferred((1, 8, 16, 64), (8, 2, 6, 6), dense)


@needs_numba
@pytest.mark.parametrize(("x_shape", "k", "padding", "dtype", "last"), [
    ((8, 256, 4, 4), 4, 0, np.float32, True),      # 5 outputs a phase along the last dim
    ((16, 64, 8, 8), 4, 1, np.float64, True),      # 8 outputs a phase: one vector
    ((4, 32, 5, 3), (2, 3), 0, np.float32, True),  # the fewest channels the rule takes
    ((8, 256, 8, 8), 4, 0, np.float32, False),     # 9 outputs a phase: the one-pass loop
    ((8, 16, 4, 4), 4, 0, np.float32, False),      # 16 channels: vectors too short
    ((1, 64, 4, 4), 4, 1, np.float32, False),      # 4,096 outputs: the copy's fixed cost
])
def test_short_rows_rule(monkeypatch, x_shape, k, padding, dtype, last):
    # layers of direct's one-pass 2-D kernel (column stride 2, <= 2 x 2 taps an output)
    # with short rows and enough channels and outputs take the channels-innermost pass
    # under auto, the others keep the one-pass kernel; both agree with torch
    from tconv._algorithms import direct

    c = x_shape[1]
    w_shape = (c, 1, *((k, k) if isinstance(k, int) else k))
    p = params(x_shape, w_shape, 2, padding, 0, c, 1)
    assert direct._depthwise_tables(x_shape[2:], p.transposed_size(x_shape[2:]), p)
    assert depthwise.short_rows(x_shape, p) == last
    assert depthwise.preferred(x_shape, w_shape, p) == last
    seen = []
    for mod, name in ((direct, "_depthwise2d"), (depthwise, "_channels_last_forward")):
        real = getattr(mod, name)
        monkeypatch.setattr(mod, name, lambda *a, _r=real, _n=name: seen.append(_n) or _r(*a))
    rng = np.random.default_rng(5)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    without_scatter(monkeypatch)
    y = tconv.conv_transpose(x, w, stride=2, padding=padding, groups=c)
    assert seen == ["_channels_last_forward" if last else "_depthwise2d"]
    ref = torch.nn.functional.conv_transpose2d(
        torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
        stride=2, padding=padding, groups=c).numpy()
    assert_close(y, ref, dtype, TOL[np.dtype(dtype)] * 10)


@needs_numba
@pytest.mark.parametrize(("x_shape", "k", "stride", "route"), [
    ((16, 96, 8, 8), 3, 8, "stamps"),        # kernel shorter than the stride: gaps
    ((2, 128, 14, 7), 4, 8, "stamps"),
    ((2, 32, 3, 4, 5), 2, 3, "stamps"),      # 3-D with gaps
    ((2, 64, 8, 8), 3, 3, "last"),           # kernel = stride: no gaps, short rows
    ((2, 64, 256), 3, 8, "rows"),            # 1-D with gaps: long rows of the row loops
    ((1, 16, 16, 64), 3, 4, "rows"),         # gaps, 64 outputs a phase: no zero fill
    ((16, 384, 4, 4, 4), 1, 1, "one-term"),  # one tap on short rows: a broadcast multiply
    ((1, 64, 24, 48), 1, 1, "rows"),         # one tap on rows of 48: the row loops
])
def test_forward_pass_rule(monkeypatch, x_shape, k, stride, route):
    # the pass auto runs a depthwise layer with: stamps where gaps lie between them
    # (2-D, 3-D) on short rows, the one-term path for one tap on short rows; each agrees
    # with torch
    nd = len(x_shape) - 2
    c = x_shape[1]
    w_shape = (c, 1, *(k,) * nd)
    p = params(x_shape, w_shape, stride, 0, 0, c, 1)
    conv_mod = sys.modules["tconv.conv"]
    seen = []
    spies = [(depthwise, "_channels_last_forward", "last"), (conv_mod, "_single_term",
                                                             "one-term")]
    for mod, name, label in spies:
        real = getattr(mod, name)
        monkeypatch.setattr(mod, name,
                            lambda *a, _r=real, _l=label: seen.append(_l) or _r(*a))
    real_forward = depthwise._compiled_forward

    def forward(x, w, p, out, scatter=None):
        if scatter is None and depthwise._forward_pass(x.shape, p) != "last":
            seen.append(depthwise._forward_pass(x.shape, p))
        return real_forward(x, w, p, out, scatter)

    monkeypatch.setattr(depthwise, "_compiled_forward", forward)
    without_scatter(monkeypatch)
    rng = np.random.default_rng(6)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    y = tconv.conv_transpose(x, w, stride=stride, groups=c)
    assert seen == [route]
    assert depthwise.gaps(p) == (nd > 1 and k < stride)
    fn = getattr(torch.nn.functional, _TORCH[nd])
    ref = fn(torch.tensor(x, dtype=torch.float64), torch.tensor(w, dtype=torch.float64),
             stride=stride, groups=c).numpy()
    assert_close(y, ref, np.float32, TOL[np.dtype(np.float32)] * 10)


def test_numpy_gradient_rule(numpy_only):
    # NumPy: a few calls a tap, so the layer must hold enough numbers per call
    big = params((1, 8, 64, 64), (8, 1, 4, 4), 2, 1, 0, 8, 1)
    assert depthwise.backward_preferred((1, 8, 64, 64), (8, 1, 4, 4), big)
    tiny = params((1, 21, 16, 16), (21, 1, 64, 64), 32, 16, 0, 21, 1)
    assert not depthwise.backward_preferred((1, 21, 16, 16), (21, 1, 64, 64), tiny)


def test_gradient_route_is_taken(monkeypatch):
    without_scatter(monkeypatch)            # (a small layer: the gather path's otherwise)
    calls = []
    real = depthwise.backward

    def spy(*args):
        calls.append(args[1].shape)
        return real(*args)

    monkeypatch.setattr(depthwise, "backward", spy)
    x, w = np.ones((2, 3, 5, 6)), np.ones((3, 1, 4, 4))
    tconv.conv_transpose_backward(np.ones((2, 3, 12, 14)), x, w, 2, 0, 0, 3)
    assert calls == [(2, 3, 5, 6)]


def test_empty_batch():
    x, w = np.zeros((0, 4, 5, 30)), np.ones((4, 1, 3, 3))
    p = params(x.shape, w.shape, 2, 0, 0, 4, 1)
    y = depthwise.conv_transpose(x, w, p, p.transposed_size(x.shape[2:]))
    gx, gw = depthwise.backward(np.zeros((0, 4, 11, 61)), x, w, p)
    assert y.shape == (0, 4, 11, 61) and gx.shape == x.shape and not gw.any()


@pytest.fixture
def fresh_native(monkeypatch):
    yield from fresh_decisions(monkeypatch, "TCONV_NUMBA")


def _broken(*args, **kwargs):
    from numba.core.errors import TypingError

    raise TypingError("forced compile failure")


@needs_numba
def test_compile_failure_falls_back(fresh_native, monkeypatch):
    layer = (2, 5, (7, 30), (5, 4), (3, 2), (1, 2), (1, 2), (0, 1), np.float64)
    x, w, gy, p, (y_ref, gx_ref, gw_ref) = _reference(layer, seed=3)
    _native.kernels()
    for name in ("dw_forward", "dw_backward"):
        monkeypatch.setitem(_native._KERNELS, name, _broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = depthwise.conv_transpose(x, w, p, p.transposed_size(x.shape[2:]))
        gx, gw = depthwise.backward(gy, x, w, p)
    assert not _native.available()
    assert len([c for c in caught if issubclass(c.category, RuntimeWarning)]) == 1
    for got, ref in ((y, y_ref), (gx, gx_ref), (gw, gw_ref)):
        assert_close(got, ref, np.float64)


def test_nan_stays_where_torch_puts_it():
    # an inf input reaches only the outputs its taps write; a NaN weight only its taps
    x = np.zeros((1, 2, 6, 8))
    x[0, 0, 2, 3] = np.inf
    w = np.ones((2, 1, 3, 5))
    p = params(x.shape, w.shape, 2, 1, 0, 2, 1)
    y = depthwise.conv_transpose(x, w, p, p.transposed_size(x.shape[2:]))
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, 2, 1,
                                               0, 2).numpy()
    np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
    assert not np.isnan(y).any() and not np.isnan(ref).any()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
