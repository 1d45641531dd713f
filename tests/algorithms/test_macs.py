"""The noise-free performance guard: multiply-adds are counted, not timed.

Each algorithm module's ``macs(x_shape, w_shape, params, out)`` states the multiply-adds its
code performs. Here (1) the count is checked against the matrix products the code really
issues (``np.matmul`` is wrapped and its ``m*n*k`` summed), and
(2) the counts are held to the useful count ``N * C_in * C_out/g`` x (input, tap) pairs
inside the output: exact for gemm (which also computes the cropped taps), scatter and
matrix, within the zero-gap overhead for phase, ``~prod(stride)`` times it for zero
insertion -- which ``auto`` never picks.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from algorithms._cases import EDGE_CASES, case_ids, make_case

from tconv._algorithms import _matmul, direct, gemm, macs, phase, useful_macs, zero_insertion
from tconv.conv import ALGORITHMS, choose_algorithm, transposed_params

# the benchmark suite's shapes (benchmarks/bench_conv_transpose.py): x, w, s, p, op, groups
SUITE = {
    "a1": ((64, 512, 4, 4), (512, 256, 4, 4), 2, 1, 0, 1),
    "a3": ((64, 128, 16, 16), (128, 64, 4, 4), 2, 1, 0, 1),
    "a4": ((64, 64, 32, 32), (64, 3, 4, 4), 2, 1, 0, 1),
    "b1": ((1, 56, 256, 256), (56, 1, 9, 9), 3, 4, 2, 1),
    "b2": ((1, 56, 256, 256), (56, 1, 9, 9), 2, 4, 1, 1),
    "c1": ((1, 21, 16, 16), (21, 1, 64, 64), 32, 16, 0, 21),
    "c2": ((1, 21, 64, 64), (21, 1, 4, 4), 2, 1, 0, 21),
    "d": ((8, 256, 32, 32), (256, 128, 2, 2), 2, 0, 0, 1),
    "e1": ((16, 64, 4096), (64, 64, 4), 2, 1, 0, 1),
    "e2": ((2, 32, 16, 16, 16), (32, 16, 4, 4, 4), 2, 1, 0, 1),
}


def _geometry(x_shape, w_shape, kw):
    return transposed_params("t", x_shape, w_shape, None, kw["stride"], kw["padding"],
                             kw["output_padding"], kw["groups"], kw["dilation"], None)


class _Counter:
    """Sums ``m*n*k`` of every matrix product issued while installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.total = 0
        real_matmul = np.matmul

        def matmul(a, b, *args, **kwargs):
            a, b = np.asarray(a), np.asarray(b)
            batch = int(np.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2])))
            self.total += batch * a.shape[-2] * a.shape[-1] * b.shape[-1]
            return real_matmul(a, b, *args, **kwargs)

        def outer(a, b, out):
            self.total += int(np.prod(np.broadcast_shapes(a.shape, b.shape)))
            return real_outer(a, b, out)

        real_outer = _matmul._outer
        monkeypatch.setattr(np, "matmul", matmul)     # gemm, phase and _im2col call np.matmul
        monkeypatch.setattr(_matmul, "_outer", outer)  # ... and outer products (K == 1)


class TestMacs:
    @pytest.mark.parametrize("algo", ["gemm", "phase", "zero_insertion"])
    @pytest.mark.parametrize("case", EDGE_CASES, ids=case_ids())
    def test_count_matches_code(self, case, algo, monkeypatch):
        x, w, kw = make_case(case)
        if x.shape[0] == 0:
            return
        p, out = _geometry(x.shape, w.shape, kw)
        cig, cog = x.shape[1] // p.groups, w.shape[1]
        if algo == "phase" and cig == cog == 1:
            pytest.skip("depthwise phase multiplies by broadcasting, not a matrix product")
        counter = _Counter(monkeypatch)
        impl = {"gemm": gemm, "phase": phase, "zero_insertion": zero_insertion}[algo]
        impl.conv_transpose(x, w, p, out)
        assert counter.total == macs(algo, x.shape, w.shape, p, out)

    @pytest.mark.parametrize("case", EDGE_CASES, ids=case_ids())
    def test_exact_algorithms_do_useful_work(self, case):
        x, w, kw = make_case(case)
        p, out = _geometry(x.shape, w.shape, kw)
        useful = useful_macs(x.shape, w.shape, p, out)
        full = int(np.prod(x.shape)) * int(np.prod(w.shape[1:]))   # no tap cropped
        assert macs("scatter", x.shape, w.shape, p, out) == useful
        assert macs("matrix", x.shape, w.shape, p, out) == useful
        assert macs("gemm", x.shape, w.shape, p, out) == full >= useful
        assert macs("phase", x.shape, w.shape, p, out) >= useful
        # direct: each phase's own taps over the zero-gapped grid, never below useful
        assert macs("direct", x.shape, w.shape, p, out) >= useful

    @pytest.mark.parametrize("name", list(SUITE))
    def test_suite_shapes(self, name):
        xs, ws, s, pd, op, g = SUITE[name]
        nd = len(xs) - 2
        p, out = transposed_params("t", xs, ws, None, s, pd, op, g, 1, None)
        useful = useful_macs(xs, ws, p, out)
        full = int(np.prod(xs)) * int(np.prod(ws[1:]))
        assert useful <= full and macs("gemm", xs, ws, p, out) == full
        # phase: the zero gap between rows (and each block's halo) costs at most 30 % here,
        # except for tiny images: a1 (4x4 inputs, 64 %) and e2 (16^3: 35 %)
        limit = {"a1": 1.7, "e2": 1.4}.get(name, 1.3)
        assert useful <= macs("phase", xs, ws, p, out) <= limit * full
        assert useful <= macs("direct", xs, ws, p, out) <= limit * full
        # zero insertion multiplies the inserted zeros: ~stride**ndim times the useful work
        ratio = macs("zero_insertion", xs, ws, p, out) / full
        assert 0.9 * s**nd <= ratio <= 1.1 * s**nd

    @pytest.mark.parametrize("name", list(SUITE))
    def test_auto_picks_an_exact_algorithm(self, name):
        xs, ws, s, pd, op, g = SUITE[name]
        p, _ = transposed_params("t", xs, ws, None, s, pd, op, g, 1, None)
        assert choose_algorithm(xs, ws, p) in ("gemm", "phase", "direct")


def test_auto_never_picks_zero_insertion():
    seen = set()
    for nd, k, s, d, c_in, c_out, g, size, n in itertools.product(
            (1, 2, 3), (1, 2, 3, 4, 9), (1, 2, 3, 4), (1, 2), (1, 8, 64), (1, 3, 64),
            (1, 2), (1, 7, 32), (1, 4)):
        if c_in % g or (c_out % g) or (c_in == 1 and g == 2):
            continue
        xs, ws = (n, c_in, *(size,) * nd), (c_in, c_out // g, *(k,) * nd)
        p, _ = transposed_params("t", xs, ws, None, s, 0, 0, g, d, None)
        algo = choose_algorithm(xs, ws, p)
        assert algo in ALGORITHMS and algo not in ("zero_insertion", "scatter", "matrix")
        seen.add(algo)
    # "direct" (compiled loops) only where numba is installed
    assert seen == {"gemm", "phase"} | ({"direct"} if direct.available() else set())
