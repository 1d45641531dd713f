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
