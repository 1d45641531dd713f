"""``algorithm="phase"``: sub-pixel phases summed inside BLAS on a zero-gapped grid."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from algorithms._cases import EDGE_CASES, AlgorithmContract, case_ids, make_case, run
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tconv._algorithms import _native, phase

needs_numba = pytest.mark.skipif(not _native.available(), reason="numba not installed")


class TestConvTransposePhase(AlgorithmContract):
    ALGO = "phase"


class TestConvTransposePhaseNumPySums(AlgorithmContract):
    """The same contract with the taps summed by NumPy adds and strided copies (the path
    without numba)."""

    ALGO = "phase"

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _numpy_sums(cls):
        # class-scoped (hypothesis refuses function-scoped fixtures), restored afterwards
        saved, phase.COMPILED_SUMS = phase.COMPILED_SUMS, False
        yield
        phase.COMPILED_SUMS = saved


def _both_paths(x: np.ndarray, w: np.ndarray, kw: dict) -> tuple[np.ndarray, np.ndarray]:
    saved = phase.COMPILED_SUMS
    try:
        phase.COMPILED_SUMS = True
        compiled = run("phase", x, w, kw)
        phase.COMPILED_SUMS = False
        numpy = run("phase", x, w, kw)
    finally:
        phase.COMPILED_SUMS = saved
    return compiled, numpy


@needs_numba
class TestCompiledSums:
    """``phase_sums`` (one compiled pass) against the NumPy adds it replaces."""

    @pytest.mark.parametrize("case", EDGE_CASES, ids=case_ids())
    def test_edge_cases_agree(self, case):
        x, w, kw = make_case(case, np.float64)
        compiled, numpy = _both_paths(x, w, kw)
        np.testing.assert_allclose(compiled, numpy, rtol=1e-12, atol=1e-12)

    @settings(max_examples=30, deadline=None)
    @given(ndim=st.integers(1, 3), k=st.integers(1, 5), s=st.integers(1, 4),
           size=st.integers(1, 6), pad=st.integers(0, 2), op=st.integers(0, 3),
           d=st.integers(1, 2), n=st.integers(1, 3), seed=st.integers(0, 2**16))
    def test_random_layers_agree(self, ndim, k, s, size, pad, op, d, n, seed):
        op = op % s if op % s < max(s, d) else 0
        pad = min(pad, d * (k - 1))
        out = (size - 1) * s - 2 * pad + d * (k - 1) + op + 1
        assume(out >= 1)
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((n, 3, *(size,) * ndim))
        w = rng.standard_normal((3, 2, *(k,) * ndim))
        kw = dict(stride=s, padding=pad, output_padding=op, groups=1, dilation=d)
        compiled, numpy = _both_paths(x, w, kw)
        np.testing.assert_allclose(compiled, numpy, rtol=1e-12, atol=1e-12)

    def test_float32_blocks_and_threads(self, monkeypatch):
        # a3-like layer cut into many blocks (every block's base and halo), on 2 threads
        monkeypatch.setenv("TCONV_NUM_THREADS", "2")
        monkeypatch.setattr(phase, "BLOCK_ELEMENTS", 1 << 14)
        rng = np.random.default_rng(3)
        x = rng.standard_normal((5, 16, 7, 9)).astype(np.float32)
        w = rng.standard_normal((16, 8, 4, 4)).astype(np.float32)
        kw = dict(stride=2, padding=1, output_padding=1, groups=1, dilation=1)
        compiled, numpy = _both_paths(x, w, kw)
        assert compiled.dtype == np.float32
        np.testing.assert_allclose(compiled, numpy, rtol=1e-5, atol=1e-5)

    def test_the_compiled_pass_runs(self, monkeypatch):
        calls = []
        kernel = _native.kernels()["phase_sums"]
        monkeypatch.setitem(_native._KERNELS, "phase_sums",
                            lambda *a: calls.append(a[0].shape) or kernel(*a))
        x, w, kw = make_case(EDGE_CASES[6], np.float64)          # 2d-dcgan
        run("phase", x, w, kw)
        assert calls
        monkeypatch.setattr(phase, "COMPILED_SUMS", False)
        calls.clear()
        run("phase", x, w, kw)
        assert not calls


@needs_numba
@pytest.mark.parametrize("size", [(7,), (4, 5), (3, 2, 4)])
def test_grid_copy_matches_on_grid(size):
    # the compiled copy of a block's images onto the zero-gapped grid, against NumPy's
    from tconv._algorithms._im2col import on_grid

    rng = np.random.default_rng(len(size))
    x = rng.standard_normal((3, 2, *size)).astype(np.float32)
    padded = tuple(s + 1 + a for a, s in enumerate(size))
    base, image = 5, int(np.prod(padded))
    width = base + 3 * image + 9
    want = on_grid(x, padded, base, np.full((2, width), np.nan, np.float32))
    got = np.full((2, width), np.nan, np.float32)
    _native.kernels()["grid_copy"](x.reshape(3, 2, -1, size[-1]), got, base, image,
                                   phase._grid_rows(size, padded))
    np.testing.assert_array_equal(got, want)


def test_every_block_buffer_holds_its_images():
    # the compiled grid copy writes whole images and checks no bound: every block's span
    # must hold them -- also when all tap offsets are positive (a padding that crops the
    # first inputs) or all negative. Before the fix, 1400 of these layers wrote outside it.
    import itertools

    from tconv.conv import transposed_params

    checked = 0
    for k, s, d, lo, hi, size in itertools.product(range(1, 5), range(1, 4), range(1, 3),
                                                   range(-2, 6), range(-2, 6), range(1, 5)):
        try:
            p, out = transposed_params("t", (2, 1, size), (1, 1, k), None, s, ((lo, hi),),
                                       0, 1, d, None)
        except ValueError:
            continue
        plan = phase._plan(2, (size,), out, p)
        if not plan.phases:
            continue
        image = int(np.prod(plan.padded))
        for n0, n1 in ((0, 1), (1, 2), (0, 2)):
            first, last = phase._span(plan, n0, n1)
            base = plan.front + n0 * image - first
            assert 0 <= first and base >= 0 and base + (n1 - n0) * image <= last - first
        checked += 1
    assert checked > 1000


@pytest.mark.parametrize(("kernel", "stride", "padding"), [
    (1, 1, ((1, 0),)), (2, 1, ((2, 0),)), (3, 2, ((4, 0),)), (1, 2, "same"), (1, 3, "same"),
    (2, 3, ((3, 1),)),
])
def test_cropping_paddings(kernel, stride, padding):
    # layers whose taps all read ahead of (or behind) their output: compiled and NumPy
    # paths against the one-to-many reference, in float64
    rng = np.random.default_rng(kernel)
    x = rng.standard_normal((3, 2, 6))
    w = rng.standard_normal((2, 3, kernel))
    kw = dict(stride=stride, padding=padding, output_padding=0, groups=1, dilation=1)
    want = run("scatter", x, w, kw)
    for got in _both_paths(x, w, kw):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_plan_hash_is_kept_and_agrees_with_equality():
    """A plan's hash (it keys the caches of the paths built on it) is computed once and
    is equal for equal plans built apart; unequal plans still compare unequal."""
    from tconv._algorithms._cost import params

    p = params((1, 8, 4, 4), (8, 32, 16, 16), 8)
    a = phase._plan(1, (4, 4), (40, 40), p)
    b = phase._plan(1, (4, 4), (40, 40), p)
    assert a == b and a is not b and hash(a) == hash(b)
    assert hash(a) == hash((a.padded, a.front, a.total, a.phases, a.complete))
    assert a.__dict__["_hash"] == hash(a)                 # kept after the first call
    c = phase._plan(2, (4, 4), (40, 40), p)
    assert c != a
    assert {a: 1}[b] == 1


def _sums_path(sums: str, monkeypatch):
    """torch and tconv, with phase's tap sums compiled or NumPy (``sums``); skips without
    torch, or without numba for the compiled sums."""
    torch = pytest.importorskip("torch")
    import tconv

    if sums == "compiled" and not _native.available():
        pytest.skip("numba not installed")
    monkeypatch.setattr(phase, "COMPILED_SUMS", sums == "compiled")
    return torch, tconv


class TestGroupBlocks:
    """A grouped layer whose groups fit a block runs several whole groups a block: one grid
    copy, one batched product, and one pass of tap sums (compiled, or one NumPy add a tap
    and phase) for all of them (not one per group); the same bits as a block a group."""

    @pytest.mark.parametrize("sums", ["numpy", "compiled"])
    @pytest.mark.parametrize("threads", [1, 2])
    def test_seeded_grouped_layers(self, threads, sums, monkeypatch):
        torch, tconv = _sums_path(sums, monkeypatch)
        batched: list[int] = []
        real = phase.matmul
        monkeypatch.setattr(phase, "matmul", lambda a, b, out=None: (
            batched.append(a.shape[0] if a.ndim == 3 else 1) or real(a, b, out=out)))
        before = tconv.get_num_threads()
        tconv.set_num_threads(threads)
        rng = np.random.default_rng(17)
        try:
            for _ in range(40):
                nd = int(rng.integers(1, 4))
                g, s = int(rng.choice([2, 3, 4, 8])), int(rng.integers(1, 4))
                k, d = int(rng.integers(1, 2 * s + 2)), int(rng.choice([1, 1, 2]))
                cig, cog = int(rng.integers(1, 6)), int(rng.integers(1, 9))
                size = tuple(int(v) for v in rng.integers(1, 9 if nd < 3 else 5, nd))
                pad = int(rng.integers(0, d * (k - 1) // 2 + 1))
                op = int(rng.integers(0, max(s, d))) if max(s, d) > 1 else 0
                if min((i - 1) * s - 2 * pad + d * (k - 1) + op + 1 for i in size) < 1:
                    continue
                x = rng.standard_normal((int(rng.integers(1, 4)), g * cig, *size))
                w = rng.standard_normal((g * cig, cog, *(k,) * nd))
                kw = dict(stride=s, padding=pad, output_padding=op, groups=g, dilation=d)
                got = run("phase", x, w, kw)
                fn = getattr(torch.nn.functional, f"conv_transpose{nd}d")
                ref = fn(torch.tensor(x), torch.tensor(w), **kw).numpy()
                np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
                x32, w32 = x.astype(np.float32), w.astype(np.float32)
                together = run("phase", x32, w32, kw)
                monkeypatch.setattr(phase, "PHASE_GROUPS_TOGETHER", False)
                np.testing.assert_array_equal(together, run("phase", x32, w32, kw))
                monkeypatch.setattr(phase, "PHASE_GROUPS_TOGETHER", True)
        finally:
            tconv.set_num_threads(before)
        assert max(batched) >= 2                     # several groups in one product


@pytest.mark.parametrize("seed", range(6))
def test_copy_phases_matches_a_loop_both_ways(seed):
    """The depthwise path's copy-out (``_copy_phases``): one interleaved copy where the
    last dim's outputs are no more than its phases, one copy a last-dim phase otherwise --
    both equal a plain loop over every phase and output, and write nothing else."""
    rng = np.random.default_rng(seed)
    nd = 1 + seed % 3
    stride = tuple(int(v) for v in rng.integers(1, 6, nd))
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
    padded = (*(int(v) for v in rng.integers(1, 7, nd - 1)), int(rng.integers(6, 9)))
    acc = rng.standard_normal((c, *stride, n, *padded))
    seen = set()
    for i in range(12):
        block = []
        for s, q in zip(stride, padded):
            r0 = int(rng.integers(0, s))
            block.append((r0, int(rng.integers(r0 + 1, s + 1)), int(rng.integers(0, q + 1))))
        r0, r1, _ = block[-1]      # the last dim's outputs fewer or more than its phases
        block[-1] = (r0, r1, int(rng.integers(0, r1 - r0 + 1) if i % 2 else
                                 rng.integers(r1 - r0 + 1, padded[-1] + 1)))
        seen.add(block[-1][2] > block[-1][1] - block[-1][0])
        out = tuple(q * s for q, s in zip(padded, stride))
        y = np.full((n, c, *out), np.nan)
        phase._copy_phases(acc, tuple(block), y, stride)
        want = np.full_like(y, np.nan)
        ranges = [[(r, q) for r in range(r0, r1) for q in range(nq)] for r0, r1, nq in block]
        for combo in itertools.product(*ranges):
            o = tuple(q * s + r for (r, q), s in zip(combo, stride))
            want[(slice(None), slice(None), *o)] = acc[(slice(None), *(r for r, _ in combo),
                                                        slice(None), *(q for _, q in combo))].T
        np.testing.assert_array_equal(y, want)
    assert seen == {True, False}


class TestChannelBlocksShareTheGrid:
    """A large image's output channels come in several blocks that read one grid: each
    thread copies an image onto its grid once, not once a block, and the outputs are the
    same on 1 and 2 threads, compiled or NumPy, grouped or not."""

    @pytest.mark.parametrize("sums", ["numpy", "compiled"])
    @pytest.mark.parametrize("threads", [1, 2])
    def test_seeded_layers(self, threads, sums, monkeypatch):
        torch, tconv = _sums_path(sums, monkeypatch)
        monkeypatch.setattr(phase, "BLOCK_ELEMENTS", 1 << 11)
        copies: list[int] = []
        if sums == "compiled":
            kernel = _native.kernels()["grid_copy"]
            monkeypatch.setitem(_native._KERNELS, "grid_copy",
                                lambda *a: copies.append(1) or kernel(*a))
        else:
            real = phase.on_grid
            monkeypatch.setattr(phase, "on_grid",
                                lambda *a: copies.append(1) or real(*a))
        blocks: list[int] = []
        real_blocks = phase._blocks
        monkeypatch.setattr(phase, "_blocks", lambda *a: (
            lambda b: blocks.append(len(b)) or b)(real_blocks(*a)))
        before = tconv.get_num_threads()
        tconv.set_num_threads(threads)
        rng = np.random.default_rng(23 + threads)
        shared = 0
        try:
            for _ in range(30):
                nd = int(rng.integers(1, 4))
                g, s = int(rng.choice([1, 1, 2, 3])), int(rng.integers(1, 4))
                k = int(rng.integers(s, 2 * s + 2))
                cig, cog = int(rng.integers(1, 5)), int(rng.integers(4, 13))
                size = tuple(int(v) for v in rng.integers(3, {1: 40, 2: 12, 3: 6}[nd], nd))
                pad = int(rng.integers(0, (k - 1) // 2 + 1))
                n = int(rng.integers(1, 4))
                x = rng.standard_normal((n, g * cig, *size))
                w = rng.standard_normal((g * cig, cog, *(k,) * nd))
                kw = dict(stride=s, padding=pad, output_padding=0, groups=g, dilation=1)
                copies.clear()
                blocks.clear()
                got = run("phase", x, w, kw)
                fn = getattr(torch.nn.functional, f"conv_transpose{nd}d")
                ref = fn(torch.tensor(x), torch.tensor(w), **kw).numpy()
                np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
                if not blocks:                        # depthwise or no phases: no blocks
                    continue
                per_group = blocks[0]
                if per_group > n and threads == 1:
                    # in order on one thread: one copy per image block and group
                    assert len(copies) == g * n, (x.shape, w.shape, len(copies))
                    shared += 1
                assert len(copies) <= g * per_group
        finally:
            tconv.set_num_threads(before)
        assert threads == 2 or shared >= 10
