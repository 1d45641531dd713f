"""``phase`` with its phases folded into one product's columns (``_algorithms.folded``):
the algorithm contract with folding forced on every layer it applies to, PyTorch on a seeded
population at any block size and thread count, the output's ``(q, r)`` runs, the overhead
formula, and the cost model's rule."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from _cost_state import avx512_decisions
from algorithms._cases import AlgorithmContract

import tconv
from tconv._algorithms import _cost, folded
from tconv._algorithms._cost import params

#: constants that fold every layer ``folded.applies`` to
FOLD_ALL = {"fold_min_phases": 1, "fold_max_overhead": 1e9}


@pytest.fixture
def fold_everything(default_cost_constants, monkeypatch, tmp_path_factory):
    # after the package's autouse defaults (tests/algorithms/conftest.py)
    path = tmp_path_factory.getbasetemp() / "fold_everything.json"
    path.write_text(json.dumps({"constants": FOLD_ALL}))
    monkeypatch.setenv("TCONV_COST_FILE", str(path))


@pytest.mark.usefixtures("fold_everything")
class TestConvTransposeFolded(AlgorithmContract):
    """The whole contract of ``algorithm="phase"`` with every non-depthwise layer of
    dilation 1 folded."""

    ALGO = "phase"

    def test_the_fold_runs(self):
        p = params((2, 3, 4, 4), (3, 2, 4, 4), 2, 1)
        assert _cost.decide((2, 3, 4, 4), (3, 2, 4, 4), p, np.float64).folded


def _random_layer(rng: np.random.Generator) -> dict:
    nd = int(rng.integers(1, 4))
    k = tuple(int(v) for v in rng.integers(1, 8, nd))
    s = tuple(int(v) for v in rng.integers(1, 6, nd))
    pad = tuple(int(rng.integers(-1, kk)) for kk in k)           # negative: zeros added
    op = tuple(int(rng.integers(0, ss)) for ss in s)
    g = int(rng.choice([1, 1, 2, 3]))
    cig, cog = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    size = tuple(int(v) for v in rng.integers(1, {1: 24, 2: 9, 3: 5}[nd], nd))
    return dict(x=(int(rng.integers(1, 4)), g * cig, *size), w=(g * cig, cog, *k), stride=s,
                padding=tuple((pp, pp) for pp in pad), output_padding=op, groups=g)


def _reference(x: np.ndarray, w: np.ndarray, lay: dict) -> np.ndarray | None:
    """PyTorch's full (uncropped) conv_transpose cut to ``[low, low + out)``, zeros outside;
    ``None`` when the output would be empty."""
    torch = pytest.importorskip("torch")
    nd = x.ndim - 2
    fn = getattr(torch.nn.functional, f"conv_transpose{nd}d")
    full = fn(torch.from_numpy(x), torch.from_numpy(w), None, lay["stride"], 0, 0,
              lay["groups"]).numpy()
    out = [(i - 1) * s - lo - hi + k + o for i, s, (lo, hi), k, o in zip(
        x.shape[2:], lay["stride"], lay["padding"], w.shape[2:], lay["output_padding"])]
    if min(out) < 1:
        return None
    ref = np.zeros((*full.shape[:2], *out))
    src, dst = [], []
    for (lo, _), o, f in zip(lay["padding"], out, full.shape[2:]):
        a, b = max(lo, 0), min(lo + o, f)
        src.append(slice(a, b))
        dst.append(slice(a - lo, b - lo))
    ref[(slice(None), slice(None), *dst)] = full[(slice(None), slice(None), *src)]
    return ref


@pytest.mark.parametrize("threads,budget", [(1, 1 << 20), (2, 1 << 20), (3, 64), (2, 16)])
def test_matches_torch_on_random_layers(threads, budget, monkeypatch):
    """60 seeded layers (1-3-D, groups, (low, high) padding pairs incl. negative ones,
    output_padding) against PyTorch in float64; small budgets cut one image into row
    blocks, each writing its own output rows."""
    monkeypatch.setattr(folded, "BLOCK_ELEMENTS", budget)
    rng = np.random.default_rng(41)
    tconv.set_num_threads(threads)
    checked = 0
    try:
        while checked < 60:
            lay = _random_layer(rng)
            x, w = rng.standard_normal(lay["x"]), rng.standard_normal(lay["w"])
            ref = _reference(x, w, lay)
            if ref is None:
                continue
            p = params(x.shape, w.shape, lay["stride"], lay["padding"],
                       lay["output_padding"], lay["groups"])
            got = folded.conv_transpose(x, w, p, ref.shape[2:])
            np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-11)
            checked += 1
    finally:
        tconv.set_num_threads(None)


def test_float32_empty_batch_and_zero_channels():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 16, 16)).astype(np.float32)
    p = params(x.shape, w.shape, 8, 4)
    out = p.transposed_size((5, 6))
    got = folded.conv_transpose(x, w, p, out)
    want = folded.conv_transpose(x.astype(np.float64), w.astype(np.float64), p, out)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert folded.conv_transpose(x[:0], w, p, out).shape == (0, 3, *out)


@pytest.mark.parametrize("lo,length,s,q", [(0, 17, 4, 5), (3, 10, 4, 5), (-2, 12, 3, 4),
                                           (5, 1, 8, 2), (0, 30, 4, 5), (7, 9, 1, 20)])
def test_pieces_cover_each_reachable_output_once(lo, length, s, q):
    hits = np.zeros(length, int)
    for q0, nq, r0, nr, o0 in folded._pieces(lo, length, s, q):
        assert nq == 1 or (r0, nr) == (0, s)
        for i in range(nq):
            for j in range(nr):
                o = o0 + i * nr + j
                assert o == (q0 + i) * s + r0 + j - lo
                hits[o] += 1
    reach = [0 <= o + lo < q * s for o in range(length)]
    np.testing.assert_array_equal(hits, np.array(reach, int))


def test_overhead_and_macs():
    p = params((2, 8, 16, 16), (8, 4, 64, 64), 32, 16)
    # K = 2s: no zero taps; one border position a dim
    assert folded.overhead((16, 16), p) == pytest.approx((17 / 16) ** 2)
    assert folded.macs((2, 8, 16, 16), (8, 4, 64, 64), p) == 2 * 17 * 17 * 4 * 8 * 4 * 1024
    p3 = params((1, 2, 10), (2, 2, 3), 2)                         # J = 2, taps 3 of 4
    assert folded.overhead((10,), p3) == pytest.approx(4 / 3 * 11 / 10)


def test_cost_model_folds_many_phases_only(cost_file):
    cost_file(fold_min_phases=32, fold_max_overhead=2.0)
    many = params((1, 80, 63), (80, 80, 1024), 256)
    d = _cost.decide((1, 80, 63), (80, 80, 1024), many, np.float64)
    assert d.folded and d.algorithm == "phase" and "folded" in str(d)
    few = params((4, 64, 16, 16), (64, 32, 4, 4), 2, 1)           # 4 phases
    assert not _cost.decide((4, 64, 16, 16), (64, 32, 4, 4), few, np.float64).folded
    dil = params((1, 8, 9), (8, 8, 64), 32, 0, 0, 1, 2)           # dilation 2
    assert not _cost.decide((1, 8, 9), (8, 8, 64), dil, np.float64).folded
    dw = params((1, 4, 9, 9), (4, 1, 16, 16), 8, 4, 0, 4)         # depthwise
    assert not _cost.decide((1, 4, 9, 9), (4, 1, 16, 16), dw, np.float64).folded
    costly = params((1, 8, 3, 3), (8, 8, 9, 9), 8)                # J = 2: 16/9 x 4/3 a dim
    assert folded.overhead((3, 3), costly) > 2.0
    assert not _cost.decide((1, 8, 3, 3), (8, 8, 9, 9), costly, np.float64).folded
    cost_file(fold_min_phases=1 << 30)
    assert not _cost.decide((1, 80, 63), (80, 80, 1024), many, np.float64).folded


@pytest.fixture
def as_avx512(monkeypatch):
    """Decisions as an AVX-512 host makes them, on any host with numba."""
    from tconv._algorithms import _native

    if not _native.available():
        pytest.skip("numba missing")
    yield from avx512_decisions(monkeypatch)


def test_segments_keep_auto_but_phase_still_folds(cost_file, as_avx512):
    """Where the AVX-512 register-block segments apply and the phases are fewer than
    ``fold_over_loops_phases``, ``auto`` runs them; an explicit ``phase`` folds all the
    same, and its multiply-add count says so."""
    from tconv._algorithms import phase

    cost_file(fold_min_phases=32, fold_max_overhead=2.0, fold_over_loops_phases=256)
    x_shape, w_shape = (1, 21, 64, 64), (21, 21, 16, 16)              # 64 phases
    p = params(x_shape, w_shape, 8, 4)
    d = _cost.decide(x_shape, w_shape, p, np.float32)
    assert d.folded and d.segments
    assert d.algorithm == "direct" and "folded" not in str(d)
    assert phase.macs(x_shape, w_shape, p, p.transposed_size((64, 64))) \
        == folded.macs(x_shape, w_shape, p)


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "padding", "compiled"), [
    ((1, 21, 16, 16), (21, 21, 64, 64), 32, 16, "segments"),   # 1024 phases, 21 channels
    ((4, 16, 32, 32), (16, 21, 12, 12), 8, 2, "loops"),         # 64 phases, 16 channels
    ((1, 8, 256), (8, 16, 128), 64, 32, "loops"),               # 1-D, 64 phases
])
def test_fold_over_the_compiled_kernels(cost_file, as_avx512, x_shape, w_shape, stride,
                                        padding, compiled):
    """``fold_over_loops_phases``: where the compiled loops or the segments apply, the fold
    wins only from that many phases; below, the compiled kernels run; the bound moved
    across the layer's phases moves the decision."""
    p = params(x_shape, w_shape, stride, padding)
    phases = int(np.prod(p.stride))
    c = dataclasses.replace(_cost.Constants(), fold_min_phases=32, fold_max_overhead=2.0,
                            scatter_max=0)
    loops = _cost.compiled_loops(x_shape, w_shape, p, c)
    segs = _cost.segments(x_shape, w_shape, p, np.float32, c)
    assert (segs if compiled == "segments" else loops or segs)
    assert _cost.folded(x_shape, w_shape, p, c)
    c = dataclasses.replace(c, fold_loops_min_positions=0)
    above = dataclasses.replace(c, fold_over_loops_phases=phases)
    d = _cost.decide(x_shape, w_shape, p, np.float32, above)
    assert d.algorithm == "phase" and "too many for the compiled loops" in str(d)
    below = dataclasses.replace(c, fold_over_loops_phases=phases + 1)
    d = _cost.decide(x_shape, w_shape, p, np.float32, below)
    assert d.algorithm == "direct" and "folded" not in str(d)
    # where neither compiled kernel applies, fold_min_phases alone decides
    deep = (x_shape[0], 512, *x_shape[2:]), (512, *w_shape[1:])
    pd = params(*deep, stride, padding)
    if not (_cost.compiled_loops(*deep, pd, below)
            or _cost.segments(*deep, pd, np.float64, below)):
        assert _cost.decide(*deep, pd, np.float64, below).algorithm == "phase"


def test_auto_runs_the_fold_and_agrees(cost_file):
    rng = np.random.default_rng(5)
    x, w = rng.standard_normal((2, 6, 7)), rng.standard_normal((6, 5, 64))
    cost_file(fold_min_phases=32, fold_max_overhead=2.0)
    assert tconv.explain_algorithm(x.shape, w.shape, 32, 16, dtype=np.float64).folded
    got = tconv.conv_transpose(x, w, None, 32, 16)
    cost_file(fold_min_phases=1 << 30)
    np.testing.assert_allclose(got, tconv.conv_transpose(x, w, None, 32, 16), rtol=1e-12,
                               atol=1e-12)


def test_fold_over_the_loops_on_few_positions():
    """``fold_loops_min_positions``: small images (16 positions each, one or eight of them)
    with a large stride fold even where the compiled loops apply (rows too short for their
    vector tiles); the same layer on larger images keeps the loops."""
    from tconv._algorithms import _native

    if not _native.available():
        pytest.skip("numba missing")
    c = dataclasses.replace(_cost.Constants(), fold_min_phases=32, fold_max_overhead=2.0,
                            fold_over_loops_phases=1 << 30, fold_loops_min_positions=64,
                            scatter_max=0)
    w = (8, 32, 16, 16)
    for x, fold in (((1, 8, 4, 4), True), ((8, 8, 4, 4), True), ((2, 8, 8, 8), False),
                    ((1, 8, 32, 32), False)):
        p = params(x, w, 8)
        assert _cost.compiled_loops(x, w, p, c)
        d = _cost.decide(x, w, p, np.float32, c)
        assert (d.algorithm == "phase") == fold, str(d)
        if fold:
            assert "too short" in str(d)
            off = dataclasses.replace(c, fold_loops_min_positions=16)
            assert _cost.decide(x, w, p, np.float32, off).algorithm == "direct"
