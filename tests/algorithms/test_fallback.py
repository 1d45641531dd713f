"""Portable and guarded compiled paths: a kernel that fails to load or compile gives way to
the NumPy algorithms with one warning (never an error), every host-specific kernel has its
portable twin run here, ``TCONV_NUMBA=0`` is the NumPy-only install, and ``import tconv``
loads no compiler."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from _cost_state import fresh_decisions, without_scatter

import tconv
from tconv._algorithms import _cost, _native, direct

needs_numba = pytest.mark.skipif(not _native._installed(), reason="numba not installed")

#: layers whose auto choice is compiled on this install, one per compiled path:
#: (x, w, stride, padding, output_padding, groups)
LAYERS = [
    ((2, 8, 9, 7), (8, 5, 4, 4), 2, 1, 0, 1),       # short reduction: igemm
    ((1, 40, 12, 11), (40, 1, 9, 9), 2, 4, 1, 1),   # thin output: igemm, weight tiles
    ((2, 6, 10, 9), (6, 1, 4, 4), 2, 1, 0, 6),      # depthwise: one-pass kernel
    ((2, 64, 40), (64, 32, 16), 8, 4, 0, 1),        # 1-D, many taps: register segments
    ((1, 4, 5, 6, 4), (4, 3, 3, 3, 3), 2, 1, 1, 1),  # 3-D
]


def _inputs(layer, dtype=np.float64):
    xs, ws, *geo = layer
    rng = np.random.default_rng(sum(xs))
    return rng.standard_normal(xs).astype(dtype), rng.standard_normal(ws).astype(dtype), geo


@pytest.fixture
def fresh_native(monkeypatch):
    """A process state in which the kernels have not been given up (restored after), and
    the small-layer bincount path off (these layers are small; the kernels are the test)."""
    without_scatter(monkeypatch)
    yield from fresh_decisions(monkeypatch, "TCONV_NUMBA")


def _broken(*args, **kwargs):
    from numba.core.errors import TypingError

    raise TypingError("forced compile failure")


@needs_numba
@pytest.mark.parametrize("layer", LAYERS, ids=lambda v: f"{len(v[0]) - 2}d")
def test_compile_failure_falls_back_with_one_warning(layer, fresh_native, monkeypatch):
    x, w, geo = _inputs(layer, np.float32)
    want = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), None, *geo,
                                algorithm="scatter")
    gy = np.random.default_rng(1).standard_normal(want.shape).astype(np.float32)
    want_back = tconv.conv_transpose_backward(gy.astype(np.float64), x.astype(np.float64),
                                              w.astype(np.float64), *geo)
    for name in list(_native.kernels()):
        monkeypatch.setitem(_native._KERNELS, name, _broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = tconv.conv_transpose(x, w, None, *geo)
        back = tconv.conv_transpose_backward(gy, x, w, *geo)
        again = tconv.conv_transpose(x, w, None, *geo, algorithm="direct")
    runtime = [c for c in caught if issubclass(c.category, RuntimeWarning)]
    compiled_first = _cost.decide(x.shape, w.shape, _cost.params(x.shape, w.shape, *geo),
                                  np.float32)
    assert len(runtime) <= 1 and not _native.available()
    assert all("forced compile failure" in str(c.message) for c in runtime)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(again, want, rtol=1e-4, atol=1e-4)
    for g, r in zip(back, want_back):
        np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-3)
    assert compiled_first.algorithm in ("phase", "gemm")         # decided without kernels


@needs_numba
def test_warns_exactly_once(fresh_native, monkeypatch):
    x, w, geo = _inputs(LAYERS[0], np.float32)
    assert _cost.decide(x.shape, w.shape, _cost.params(x.shape, w.shape, *geo),
                        np.float32).algorithm == "direct"
    monkeypatch.setitem(_native._KERNELS, "igemm", _broken)
    monkeypatch.setitem(_native._KERNELS, "grid_copy", _broken)
    with pytest.warns(RuntimeWarning, match="compiled kernels .numba. unavailable") as rec:
        for _ in range(3):
            tconv.conv_transpose(x, w, None, *geo)
    assert len([r for r in rec if r.category is RuntimeWarning]) == 1


@needs_numba
def test_planes_split_falls_back(fresh_native, monkeypatch):
    """A compile failure of the polyphase split (the first kernel of a compiled backward)
    gives the NumPy split and then the NumPy gradients, with one warning."""
    from tconv.conv import transposed_params

    p, out = transposed_params("t", (2, 3, 5, 6), (3, 2, 3, 3), None, 2, 1, 1, 1, 1, None)
    gy = np.random.default_rng(0).standard_normal((2, 2, *out))
    want = [a.copy() if isinstance(a, np.ndarray) else a
            for a in direct._numpy_planes(gy, p, (5, 6))]
    monkeypatch.setitem(_native.kernels(), "phase_split", _broken)
    with pytest.warns(RuntimeWarning, match="forced compile failure") as rec:
        got = direct.planes(gy, p, (5, 6))
    assert len([r for r in rec if r.category is RuntimeWarning]) == 1
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1] and not _native.available()


@needs_numba
def test_import_failure_falls_back(fresh_native, monkeypatch):
    # numba missing at kernel load time (an explicit algorithm="direct" included)
    monkeypatch.setattr(_native, "_KERNELS", {})
    monkeypatch.setitem(sys.modules, "tconv._algorithms._native_kernels", None)
    monkeypatch.delattr(tconv._algorithms, "_native_kernels", raising=False)
    x, w, geo = _inputs(LAYERS[2])
    with pytest.warns(RuntimeWarning, match="numba"):
        got = tconv.conv_transpose(x, w, None, *geo, algorithm="direct")
    np.testing.assert_allclose(got, tconv.conv_transpose(x, w, None, *geo,
                                                         algorithm="scatter"), atol=1e-12)


def test_other_errors_propagate(fresh_native):
    # only load/compile failures are caught: a bug in the caller's data is not hidden
    @_native.guarded(lambda: "fallback")
    def fails():
        raise ValueError("not a compile failure")

    with pytest.raises(ValueError, match="not a compile failure"):
        fails()
    assert not _native._DISABLED


@needs_numba
@pytest.mark.parametrize("avx512", [False, True], ids=["portable", "avx512"])
@pytest.mark.parametrize("layer", LAYERS, ids=lambda v: f"{len(v[0]) - 2}d")
def test_host_specific_paths_and_portable_twins(layer, avx512, fresh_native, monkeypatch):
    """Both sides of every host test, on whatever host runs the tests: the register-block
    kernels (16-lane LLVM vectors, split by LLVM where AVX-512 is missing) and the portable
    loops chosen without AVX-512 agree with the float64 reference, forward and backward."""
    monkeypatch.setattr(_cost, "host_avx512", lambda: avx512)
    x, w, geo = _inputs(layer, np.float32)
    want = tconv.conv_transpose(x.astype(np.float64), w.astype(np.float64), None, *geo,
                                algorithm="scatter")
    np.testing.assert_allclose(tconv.conv_transpose(x, w, None, *geo), want, rtol=1e-4,
                               atol=1e-4)
    gy = np.random.default_rng(2).standard_normal(want.shape)
    ref = tconv.conv_transpose_backward(gy, x.astype(np.float64), w.astype(np.float64), *geo)
    got = tconv.conv_transpose_backward(gy.astype(np.float32), x, w, *geo)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-3)
    if not avx512:
        assert not direct._tiles_apply(np.float32, w.shape[1])


@pytest.mark.parametrize("layer", LAYERS, ids=lambda v: f"{len(v[0]) - 2}d")
def test_numpy_only_install(layer, fresh_native, monkeypatch):
    """``TCONV_NUMBA=0``: auto decides among the NumPy algorithms and matches the reference,
    forward and backward, float64."""
    monkeypatch.setenv("TCONV_NUMBA", "0")
    x, w, geo = _inputs(layer)
    p = _cost.params(x.shape, w.shape, *geo)
    assert _cost.decide(x.shape, w.shape, p, x.dtype).algorithm in ("phase", "gemm")
    want = tconv.conv_transpose(x, w, None, *geo, algorithm="scatter")
    np.testing.assert_allclose(tconv.conv_transpose(x, w, None, *geo), want, atol=1e-10)
    gy = np.random.default_rng(3).standard_normal(want.shape)
    gx, gw, _ = tconv.conv_transpose_backward(gy, x, w, *geo)
    # <conv_transpose(x), gy> is linear in x and in w: its gradients by adjointness
    assert np.isclose(np.vdot(gx, x), np.vdot(want, gy), rtol=1e-9)
    assert np.isclose(np.vdot(gw, w), np.vdot(want, gy), rtol=1e-9)


def test_import_is_light():
    # numba (and its LLVM) load on the first compiled call, never on import
    code = ("import sys, tconv; heavy = ('numba', 'llvmlite', 'torch'); "
            "print(sorted(m for m in heavy if m in sys.modules)); "
            "tconv.explain_algorithm((1, 8, 4, 4), (8, 4, 3, 3), 2); "
            "print(sorted(m for m in heavy if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "[]"
    assert "numba" not in out[1]            # deciding reads the CPU features, compiles nothing
