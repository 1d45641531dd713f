"""conv_matrix: the article's 4x16 matrix, both identities, O(nnz) construction."""

from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.sparse as sp
from _oracle import assert_close
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import Config, conv_configs

import tconv


class TestConvMatrix:
    def test_smoke(self):
        """The article: 3x3 kernel on a 4x4 input -> a 4x16 matrix whose rows are the
        kernel shifted (rows 0 and 3 pasted from the article's figure, kernel 1..9)."""
        w = np.arange(1, 10).reshape(1, 1, 3, 3)
        C = tconv.conv_matrix(w, (4, 4), sparse=False)
        assert C.shape == (4, 16)
        assert C[0].tolist() == [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
        assert C[1].tolist() == [0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0]
        assert C[3].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9]
        # C.T is 16x4: one input -> 9 outputs (one-to-many)
        assert ((C.T != 0).sum(axis=0) == 9).all()

    def test_shape(self):
        C = tconv.conv_matrix(np.ones((6, 2, 3, 3)), (7, 5), stride=2, padding=1, groups=2)
        assert isinstance(C, sp.csr_array)
        assert C.shape == (6 * 4 * 3, 4 * 7 * 5)

    @settings(max_examples=300)
    @given(cfg=conv_configs(), seed=st.integers(0, 2**31 - 1))
    def test_identity(self, cfg: Config, seed: int):
        """C @ x == conv(x) and C.T @ y == conv_transpose(y) (restoring the input size)."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((cfg.batch, cfg.c_in, *cfg.size))
        w = rng.standard_normal((cfg.c_out, cfg.cig, *cfg.kernel))
        C = tconv.conv_matrix(w, cfg.size, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        D = tconv.conv_matrix(w, cfg.size, cfg.stride, cfg.padding, cfg.dilation, cfg.groups,
                              sparse=False)
        assert_close(C.toarray(), D)
        y = tconv.conv(x, w, None, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        out = y.shape[2:]
        op = tconv.output_padding_for(out, cfg.size, cfg.kernel, cfg.stride, cfg.padding,
                                      cfg.dilation)
        z = tconv.conv_transpose(y, w, None, cfg.stride, cfg.padding, op, cfg.groups,
                                 cfg.dilation)
        for n in range(cfg.batch):
            assert_close(C @ x[n].ravel(), y[n].ravel())
            assert_close(C.T @ y[n].ravel(), z[n].ravel())

    def test_oracle(self):
        """Against torch: column j of C is conv of the j-th unit vector."""
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(1)
        w = rng.standard_normal((2, 3, 2, 3))
        C = tconv.conv_matrix(w, (4, 5), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
        eye = np.eye(3 * 20).reshape(-1, 3, 4, 5)
        ref = torch.nn.functional.conv2d(torch.tensor(eye), torch.tensor(w), stride=(2, 1),
                                         padding=(1, 0), dilation=(1, 2)).numpy()
        assert_close(C.toarray(), ref.reshape(len(eye), -1).T)

    def test_large_is_fast(self):
        """1024x1024 input, 3x3 kernel: ~9.4M non-zeros, built in O(nnz)."""
        t0 = time.perf_counter()
        C = tconv.conv_matrix(np.ones((1, 1, 3, 3), np.float32), (1024, 1024), padding=1)
        elapsed = time.perf_counter() - t0
        assert C.shape == (1024 * 1024, 1024 * 1024)
        assert C.nnz == 1024 * 1024 * 9 - 4 * 1024 * 3 + 4
        assert elapsed < 20.0

    def test_exception(self):
        with pytest.raises(ValueError, match="weight of shape"):
            tconv.conv_matrix(np.ones((3, 3)), (4, 4))
        with pytest.raises(ValueError, match="kernel"):
            tconv.conv_matrix(np.ones((1, 1, 5, 5)), (4, 4))
        with pytest.raises(ValueError, match="input_shape"):
            tconv.conv_matrix(np.ones((1, 1, 3, 3)), (4, 4, 4))
