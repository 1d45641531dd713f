"""The weight gradient's blocks: per-thread partial sums (the first product of a group writes
a partial, later ones add) give the same gradient at any thread count, block size and group
count -- against an einsum over the explicit windows (float64)."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv import grad
from tconv._algorithms import _im2col, _matmul


def _reference(gy, x, kernel, stride, pad, dilation, groups):
    n, c_out, *out = gy.shape
    cig = x.shape[1] // groups
    win = _im2col.windows(_im2col.group_view(_im2col.pad_crop(x, pad), groups), kernel,
                          stride, dilation, out)                   # (N, g, Cig, *out, *K)
    gyg = gy.reshape(n, groups, c_out // groups, -1)
    winf = win.reshape(n, groups, cig, gyg.shape[-1], -1)
    return np.einsum("ngop,ngcpk->gock", gyg, winf).reshape(c_out, cig, *kernel)


CASES = [
    # (gy shape, x shape, kernel, stride, pad, dilation, groups)
    ((7, 6, 5, 5), (7, 4, 11, 11), (3, 3), (2, 2), ((1, 1), (1, 1)), (1, 1), 2),
    ((5, 3, 40), (5, 6, 83), (5,), (2,), ((1, 2),), (1,), 3),
    ((9, 4, 3, 3, 3), (9, 2, 6, 6, 6), (2, 2, 2), (2, 2, 2), ((0, 0),) * 3, (1, 1, 1), 1),
    ((1, 8, 30, 30), (1, 8, 32, 32), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 4),
    ((3, 2, 1, 1), (3, 5, 4, 4), (4, 4), (2, 2), ((1, 1), (1, 1)), (1, 1), 1),   # one position
    ((2, 512, 1, 1), (2, 64, 4, 4), (4, 4), (1, 1), ((0, 0), (0, 0)), (1, 1), 1),  # K == 1 rows
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("budget", [1 << 20, 64])
@pytest.mark.parametrize("tall_products", [True, False])
def test_blocks(case, threads, budget, tall_products, monkeypatch):
    gy_shape, x_shape, kernel, stride, pad, dilation, groups = case
    rng = np.random.default_rng(sum(gy_shape) + threads)
    gy, x = rng.standard_normal(gy_shape), rng.standard_normal(x_shape)
    monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", budget)      # many blocks, row ranges
    monkeypatch.setattr(_matmul, "TALL_PRODUCTS", tall_products)
    tconv.set_num_threads(threads)
    try:
        got = grad._conv_weight_grad(gy, x, kernel, stride, pad, dilation, groups)
    finally:
        tconv.set_num_threads(None)
    np.testing.assert_allclose(got, _reference(gy, x, kernel, stride, pad, dilation, groups),
                               rtol=1e-11, atol=1e-11)


def test_empty_batch_gives_zero_gradient():
    gy, x = np.zeros((0, 4, 3, 3)), np.zeros((0, 2, 5, 5))
    got = grad._conv_weight_grad(gy, x, (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1), 2)
    np.testing.assert_array_equal(got, np.zeros((4, 1, 3, 3)))


# -- both gradients of conv_transpose from one shared im2col of grad_out ----------------------

def _random_layer(rng: np.random.Generator) -> dict:
    """A random valid transposed-conv layer (1-3-D, every geometry knob, groups)."""
    nd = int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 5, nd))
    s = tuple(int(v) for v in rng.integers(1, 4, nd))
    d = tuple(int(v) for v in rng.integers(1, 3, nd))
    pad = tuple(int(rng.integers(0, dd * (kk - 1) // 2 + 1)) for kk, dd in zip(k, d))
    op = tuple(int(rng.integers(0, max(ss, dd))) for ss, dd in zip(s, d))
    g = int(rng.choice([1, 1, 2, 3]))
    cig, cog = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    size = tuple(int(v) for v in rng.integers(1, {1: 20, 2: 9, 3: 5}[nd], nd))
    return dict(x=(int(rng.integers(1, 5)), g * cig, *size), w=(g * cig, cog, *k), stride=s,
                padding=pad, output_padding=op, groups=g, dilation=d)


def _layers(count: int, seed: int) -> list[dict]:
    rng, layers = np.random.default_rng(seed), []
    while len(layers) < count:
        lay = _random_layer(rng)
        out = [(i - 1) * s - 2 * p + d * (k - 1) + o + 1 for i, s, p, d, k, o in zip(
            lay["x"][2:], lay["stride"], lay["padding"], lay["dilation"], lay["w"][2:],
            lay["output_padding"])]
        if min(out) >= 1 and not (lay["x"][1] == lay["groups"] and lay["w"][1] == 1):
            layers.append(lay)
    return layers


@pytest.mark.parametrize("lay", _layers(40, 11), ids=lambda lay: f"x{lay['x']}w{lay['w']}")
@pytest.mark.parametrize("threads,budget,per_image", [
    (1, 1 << 20, 1 << 30), (2, 1 << 20, 1), (3, 64, 1 << 30), (2, 16, 1), (1, 4096, 1)])
def test_shared_im2col_gradients_match_torch(lay, threads, budget, per_image, monkeypatch):
    """Both gradients from one im2col a block equal PyTorch's (float64) at any thread count
    and block size (small budgets: many blocks a thread, row ranges of one image), with the
    weight gradient of a many-image block by one product per image or on a copy of x."""
    torch = pytest.importorskip("torch")
    from tconv._algorithms._cost import params

    rng = np.random.default_rng(sum(lay["x"]) + threads)
    x, w = rng.standard_normal(lay["x"]), rng.standard_normal(lay["w"])
    geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
           lay["dilation"])
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    fn = getattr(torch.nn.functional, f"conv_transpose{x.ndim - 2}d")
    y = fn(xt, wt, None, *geo)
    gy = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(gy))
    monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", budget)
    monkeypatch.setattr(grad, "PER_IMAGE_POSITIONS", per_image)
    tconv.set_num_threads(threads)
    try:
        gx, gw = grad._transpose_gradients_gemm(gy, x, w, params(x.shape, w.shape, *geo))
    finally:
        tconv.set_num_threads(None)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_tall_flips_only_taller_outputs_of_several_terms(monkeypatch):
    assert _matmul.tall(64, 1024, 4096) and _matmul.tall(3, 4, 2)
    assert not _matmul.tall(1024, 64, 4096)      # already the taller output
    assert not _matmul.tall(64, 64, 4096)        # square: nothing to gain
    assert not _matmul.tall(64, 1024, 1)         # one term: a broadcast multiply
    monkeypatch.setattr(_matmul, "TALL_PRODUCTS", False)
    assert not _matmul.tall(64, 1024, 4096)


@pytest.mark.parametrize("tall_products", [True, False])
@pytest.mark.parametrize("threads,budget", [(1, 1 << 20), (2, 64)])
def test_weight_gradient_either_way_round_matches_torch(tall_products, threads, budget,
                                                        monkeypatch):
    """The weight-gradient products as written (``x @ cols.T``) or flipped (``cols @ x.T``,
    the partial sums kept transposed) give PyTorch's gradients (float64) on 40 seeded layers,
    both on the shared im2col and on the conv weight gradient; the flip runs on some."""
    torch = pytest.importorskip("torch")
    from tconv._algorithms._cost import params

    seen = []
    real_tall = grad.tall
    monkeypatch.setattr(grad, "tall", lambda m, n, k: seen.append(real_tall(m, n, k))
                        or seen[-1])
    monkeypatch.setattr(_matmul, "TALL_PRODUCTS", tall_products)
    monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", budget)
    tconv.set_num_threads(threads)
    try:
        for lay in _layers(40, 23):
            rng = np.random.default_rng(sum(lay["x"]))
            x, w = rng.standard_normal(lay["x"]), rng.standard_normal(lay["w"])
            geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
                   lay["dilation"])
            xt = torch.from_numpy(x).requires_grad_()
            wt = torch.from_numpy(w).requires_grad_()
            y = getattr(torch.nn.functional, f"conv_transpose{x.ndim - 2}d")(xt, wt, None,
                                                                              *geo)
            gy = rng.standard_normal(tuple(y.shape))
            y.backward(torch.from_numpy(gy))
            p = params(x.shape, w.shape, *geo)
            _, gw = grad._transpose_gradients_gemm(gy, x, w, p)
            np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10, atol=1e-10)
            gw2 = grad._conv_weight_grad(x, gy, p.kernel, p.stride, p.crop, p.dilation,
                                         p.groups)
            np.testing.assert_allclose(gw2, wt.grad.numpy(), rtol=1e-10, atol=1e-10)
    finally:
        tconv.set_num_threads(None)
    assert any(seen) == tall_products and not all(seen)


def test_shared_im2col_float32_and_empty_batch():
    from tconv._algorithms._cost import params

    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 6, 7)).astype(np.float32)
    w = rng.standard_normal((4, 5, 3, 3)).astype(np.float32)
    p = params(x.shape, w.shape, 2, 1)
    gy = rng.standard_normal((3, 5, 11, 13)).astype(np.float32)
    gx, gw = grad._transpose_gradients_gemm(gy, x, w, p)
    assert gx.dtype == gw.dtype == np.float32
    rx, rw = grad._transpose_gradients_gemm(gy.astype(np.float64), x.astype(np.float64),
                                            w.astype(np.float64), p)
    np.testing.assert_allclose(gx, rx, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(gw, rw, rtol=1e-4, atol=1e-4)
    gx0, gw0 = grad._transpose_gradients_gemm(gy[:0], x[:0], w, p)
    assert gx0.shape == (0, 4, 6, 7)
    np.testing.assert_array_equal(gw0, np.zeros(w.shape, np.float32))


@pytest.mark.parametrize("shared", [0, 1])
def test_backward_takes_the_shared_path_by_the_cost_model(shared, monkeypatch, cost_file):
    """``conv_transpose_backward`` runs the shared im2col exactly where the cost model says
    (the constant ``shared_im2col``; never beside the compiled correlation sums)."""
    from tconv._algorithms import _cost, _native

    # (the small-layer gather path, which would take this small layer, off)
    cost_file(shared_im2col=shared, weight_sums_depth=0, scatter_max=0, numpy_scatter_max=0,
              gather_max=0, numpy_gather_max=0)
    calls = []
    real = grad._transpose_gradients_gemm
    monkeypatch.setattr(grad, "_transpose_gradients_gemm",
                        lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 8, 5, 5)), rng.standard_normal((8, 6, 4, 4))
    gy = rng.standard_normal((2, 6, 10, 10))
    gx, gw, _ = tconv.conv_transpose_backward(gy, x, w, 2, 1)
    p = _cost.params(x.shape, w.shape, 2, 1)
    want = shared == 1 or not _native.available()          # NumPy-only: always shared
    assert _cost.shared_im2col(x.shape, w.shape, p, dtype=x.dtype) == want
    assert bool(calls) == want
    assert _cost.decide(x.shape, w.shape, p, x.dtype).shared_im2col == want
    rx = grad.transpose_input_grad(gy, x, w, p)
    rw = grad.transpose_weight_grad(gy, x, w, p)
    np.testing.assert_allclose(gx, rx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, rw, rtol=1e-10, atol=1e-10)
