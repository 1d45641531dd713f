"""``algorithm="gemm"``: one matrix product + blocked col2im (2-D: a compiled col2im when
numba is installed; the NumPy block adds otherwise, tested here with ``TCONV_NUMBA=0``)."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import assert_close
from algorithms._cases import AlgorithmContract

import tconv
from tconv._algorithms import _native


class TestConvTransposeGemm(AlgorithmContract):
    ALGO = "gemm"


class TestConvTransposeGemmNumPy(AlgorithmContract):
    """The same contract on the pure-NumPy col2im (what runs without the ``fast`` extra)."""

    ALGO = "gemm"

    @pytest.fixture(autouse=True)
    def _no_numba(self, monkeypatch):
        monkeypatch.setenv("TCONV_NUMBA", "0")
        assert not _native.available()


@pytest.mark.parametrize("threads", ["1", "2"])
def test_identity_compiled_vs_numpy(threads, monkeypatch):
    """DCGAN's last layer (several image blocks on the pool): compiled col2im == NumPy's."""
    if not _native.available():
        pytest.skip("numba not installed")
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 16, 32, 32)).astype(np.float32)
    w = rng.standard_normal((16, 3, 4, 4)).astype(np.float32)
    got = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="gemm")
    monkeypatch.setenv("TCONV_NUMBA", "0")
    want = tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="gemm")
    assert_close(got, want, np.float32)


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("k, s, p, op, d, g", [
    (4, 2, 1, 0, 1, 1),          # DCGAN 4x4 -> 8x8, wide: the channels-last layout
    (3, 2, 0, 1, 1, 2),          # odd kernel, output_padding, groups
    (3, 3, 2, 2, 2, 1),          # dilation, outputs no tap reaches
    (2, 2, 0, 0, 1, 1),          # kernel == stride: no overlap
])
def test_channels_last_compiled_vs_torch(threads, k, s, p, op, d, g, monkeypatch):
    """The compiled channels-last col2im (``col2im_last2d``) against torch in float64, and
    against the NumPy block adds it replaces."""
    torch = pytest.importorskip("torch")
    if not _native.available():
        pytest.skip("numba not installed")
    from tconv._algorithms import gemm
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    rng = np.random.default_rng(k * 100 + s)
    x = rng.standard_normal((5, 4 * g, 3, 4))
    w = rng.standard_normal((4 * g, 40, k, k))
    assert gemm.channels_last(x.shape, w.shape)
    kw = dict(stride=s, padding=p, output_padding=op, dilation=d, groups=g, algorithm="gemm")
    got = tconv.conv_transpose(x, w, **kw)
    ref = torch.nn.functional.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, s, p,
                                               op, g, d).numpy()
    assert_close(got, ref, np.float64)
    monkeypatch.setenv("TCONV_NUMBA", "0")
    assert_close(tconv.conv_transpose(x, w, **kw), got, np.float64)
