"""conv and conv_transpose: PyTorch is the oracle, the convolution matrix the identity."""

from __future__ import annotations

import numpy as np
import pytest
from _oracle import assert_close, check_same_error
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import Config, conv_configs, transposed_configs

import tconv
from tconv.conv import choose_algorithm, transposed_params

torch = pytest.importorskip("torch")
F = torch.nn.functional
T_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
T_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _t(a: np.ndarray | None):
    return None if a is None else torch.from_numpy(np.ascontiguousarray(a))


def _inputs(cfg: Config, rng: np.random.Generator, transposed: bool, dtype=np.float64):
    x = rng.standard_normal((cfg.batch, cfg.c_in, *cfg.size)).astype(dtype)
    wshape = (cfg.c_in, cfg.cog, *cfg.kernel) if transposed else (cfg.c_out, cfg.cig, *cfg.kernel)
    w = rng.standard_normal(wshape).astype(dtype)
    b = rng.standard_normal(cfg.c_out).astype(dtype)
    return x, w, b


def torch_conv_transpose(x, w, b, cfg: Config) -> np.ndarray:
    return T_CONVT[cfg.ndim](_t(x), _t(w), _t(b), cfg.stride, cfg.padding, cfg.output_padding,
                             cfg.groups, cfg.dilation).numpy()


class TestConvTranspose:
    def test_smoke(self):
        # the article: a 2x2 input up-sampled to 4x4 by a 3x3 kernel, one input -> 9 outputs
        y = tconv.conv_transpose(np.array([[[[1, 0], [0, 0]]]]), np.ones((1, 1, 3, 3)))
        assert y.shape == (1, 1, 4, 4)
        assert int(y.sum()) == 9 and (y[0, 0, :3, :3] == 1).all()

    @settings(max_examples=3000)
    @given(cfg=transposed_configs(), seed=st.integers(0, 2**31 - 1))
    def test_oracle(self, cfg: Config, seed: int):
        """Every algorithm equals torch's conv_transpose in float64 (< 1e-10)."""
        x, w, b = _inputs(cfg, np.random.default_rng(seed), transposed=True)
        ref = torch_conv_transpose(x, w, b, cfg)
        for algo in ("auto", *tconv.ALGORITHMS):
            y = tconv.conv_transpose(x, w, b, cfg.stride, cfg.padding, cfg.output_padding,
                                     cfg.groups, cfg.dilation, algorithm=algo)
            assert_close(y, ref, np.float64)

    def test_validation_cache_keeps_types_apart(self):
        # validated layers are cached by their plain arguments: stride=1 accepted first must
        # not let stride=True (== 1, same hash) through, and errors are raised every time
        x, w = np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))
        assert tconv.conv_transpose(x, w, stride=1).shape == (1, 1, 4, 4)
        for _ in range(2):
            with pytest.raises(TypeError, match="stride=True"):
                tconv.conv_transpose(x, w, stride=True)
            with pytest.raises(ValueError, match="output_padding"):
                tconv.conv_transpose(x, w, stride=1, output_padding=1)
        assert_close(tconv.conv_transpose(x, w, stride=np.int64(2), padding=[1, 0]),
                     tconv.conv_transpose(x, w, stride=2, padding=(1, 0)))

    def test_oracle_float32(self, rng):
        cfg = Config(2, 2, 2, 3, 2, (5, 4), (4, 3), (2, 3), (1, 2), (1, 2), (1, 0))
        x, w, b = _inputs(cfg, rng, True, np.float32)
        ref = torch_conv_transpose(x, w, b, cfg)
        for algo in tconv.ALGORITHMS:
            y = tconv.conv_transpose(x, w, b, cfg.stride, cfg.padding, cfg.output_padding,
                                     cfg.groups, cfg.dilation, algorithm=algo)
            assert_close(y, ref, np.float32)

    @settings(max_examples=300)
    @given(cfg=transposed_configs(), seed=st.integers(0, 2**31 - 1))
    def test_identity(self, cfg: Config, seed: int):
        """conv_transpose(y).ravel() == C.T @ y.ravel() with C = conv_matrix of the same weight,
        and <conv(x), y> == <x, conv_transpose(y)> (adjointness)."""
        rng = np.random.default_rng(seed)
        x, w, _ = _inputs(cfg, rng, transposed=True)
        y = tconv.conv_transpose(x, w, None, cfg.stride, cfg.padding, cfg.output_padding,
                                 cfg.groups, cfg.dilation)
        out = y.shape[2:]
        # the conv on `out` positions that this op transposes (drop rows past the input size)
        C = tconv.conv_matrix(w, out, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        conv_out = tconv.conv_output_size(out, cfg.kernel, cfg.stride, cfg.padding, cfg.dilation)
        rows = np.arange(C.shape[0]).reshape(cfg.c_in, *conv_out)
        keep = rows[(slice(None), *(slice(0, s) for s in cfg.size))].ravel()
        Ct = C[keep].T
        for n in range(cfg.batch):
            assert_close(y[n].ravel(), Ct @ x[n].ravel())
        # adjointness with the direct conv of the same weight
        z = rng.standard_normal(y.shape)
        cz = tconv.conv(z, w, None, cfg.stride, cfg.padding, cfg.dilation, cfg.groups)
        cz = cz[(slice(None), slice(None), *(slice(0, s) for s in cfg.size))]
        assert np.isclose(np.vdot(cz, x), np.vdot(z, y), rtol=1e-9, atol=1e-9)

    def test_shape(self):
        x = np.zeros((2, 4, 5, 6))
        w = np.zeros((4, 3, 3, 2))
        assert tconv.conv_transpose(x, w, stride=2, groups=2).shape == (2, 6, 11, 12)
        assert tconv.conv_transpose(x[0], w, stride=2).shape == (3, 11, 12)     # unbatched
        assert tconv.conv_transpose(x[:0], w).shape == (0, 3, 7, 7)             # empty batch
        assert tconv.conv_transpose(x, w, stride=2, output_size=(12, 13)).shape[2:] == (12, 13)
        assert tconv.conv_transpose(x[0], w, stride=2, output_size=(12, 13)).shape == (3, 12, 13)

    def test_output_size_matches_torch_module(self, rng):
        m = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
        x = rng.standard_normal((1, 3, 4, 5))
        ref = m(_t(x), output_size=[8, 10]).detach().numpy()
        y = tconv.conv_transpose(x, m.weight.detach().numpy(), m.bias.detach().numpy(), 2, 1,
                                 output_size=(1, 2, 8, 10))
        assert_close(y, ref)
        with pytest.raises(ValueError, match="valid sizes range from"):
            tconv.conv_transpose(x, m.weight.detach().numpy(), None, 2, 1, output_size=(10, 10))

    @pytest.mark.parametrize("algo", tconv.ALGORITHMS)
    def test_padding_pairs_and_same(self, rng, algo):
        """(low, high) pairs crop the full output; "same" gives input*stride (ONNX SAME_UPPER)."""
        x = rng.standard_normal((2, 2, 5, 4))
        w = rng.standard_normal((2, 3, 4, 3))
        full = tconv.conv_transpose(x, w, stride=(2, 3))
        y = tconv.conv_transpose(x, w, stride=(2, 3), padding=((1, 2), (0, 1)), algorithm=algo)
        assert_close(y, full[:, :, 1:-2, 0:-1])
        same = tconv.conv_transpose(x, w, stride=(2, 3), padding="same", algorithm=algo)
        assert same.shape[2:] == (10, 12)
        # total crop = k - s: (2, 0); SAME_UPPER puts the larger half on the high side
        assert_close(same, full[:, :, 1:11, 0:12])
        lower = tconv.conv_transpose(x, w, stride=(2, 3), padding="same_lower", algorithm=algo)
        assert_close(lower, full[:, :, 1:11, 0:12])
        # kernel < stride: "same" pads zeros instead of cropping
        w1 = rng.standard_normal((2, 3, 1, 1))
        y1 = tconv.conv_transpose(x, w1, stride=2, padding="same", algorithm=algo)
        ref = np.zeros((2, 3, 10, 8))
        ref[:, :, ::2, ::2] = tconv.conv_transpose(x, w1)
        assert_close(y1, ref)

    def test_dtypes(self):
        x = np.arange(4).reshape(1, 1, 2, 2)
        w = np.ones((1, 1, 3, 3), dtype=int)
        assert tconv.conv_transpose(x, w).dtype == np.float64                # ints -> float64
        assert tconv.conv_transpose(x.astype(np.float32), w).dtype == np.float32
        assert tconv.conv_transpose(x.astype(np.float16),
                                    w.astype(np.float16)).dtype == np.float16

    def test_nan_inf_propagate_like_torch(self):
        x = np.array([[[[np.inf, 1.0], [np.nan, 2.0]]]])
        w = np.array([[[[1.0, 0.0], [2.0, 3.0]]]])
        ref = F.conv_transpose2d(_t(x), _t(w), stride=2).numpy()
        for algo in ("gemm", "phase", "scatter", "matrix"):
            y = tconv.conv_transpose(x, w, stride=2, algorithm=algo)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(ref), err_msg=algo)
            np.testing.assert_array_equal(y[np.isfinite(ref)], ref[np.isfinite(ref)])

    def test_exception(self):
        x = np.zeros((1, 4, 5, 5))
        w = np.zeros((4, 2, 3, 3))
        xt, wt = _t(x), _t(w)
        cases = [
            (dict(stride=0), dict(stride=0), "stride"),
            (dict(stride=(1, -1)), dict(stride=(1, -1)), "stride"),
            (dict(dilation=0), dict(dilation=0), "dilation"),
            (dict(padding=-1), dict(padding=-1), "padding"),
            (dict(stride=2, output_padding=2), dict(stride=2, output_padding=2), "output_padding"),
            (dict(output_padding=1), dict(output_padding=1), "output_padding"),
            (dict(groups=3), dict(groups=3), "groups"),
            (dict(groups=0), dict(groups=0), "groups"),
            (dict(padding=5), dict(padding=5), "empty"),
            (dict(stride=(1, 2, 3)), dict(stride=(1, 2, 3)), "stride"),
        ]
        for ours, theirs, match in cases:
            check_same_error(lambda o=ours: tconv.conv_transpose(x, w, **o),
                             lambda t=theirs: F.conv_transpose2d(xt, wt, **t), match=match)
        # channel mismatch, wrong rank, wrong bias
        check_same_error(lambda: tconv.conv_transpose(x[:, :3], w),
                         lambda: F.conv_transpose2d(xt[:, :3], wt), match="channels")
        check_same_error(lambda: tconv.conv_transpose(x[0, 0], w),
                         lambda: F.conv_transpose2d(xt[0, 0], wt), match="dims")
        check_same_error(lambda: tconv.conv_transpose(x, w, np.zeros(3)),
                         lambda: F.conv_transpose2d(xt, wt, _t(np.zeros(3))), match="bias")
        check_same_error(lambda: tconv.conv_transpose(x.astype(np.float32), w),
                         lambda: F.conv_transpose2d(xt.float(), wt), match="dtype")
        with pytest.raises(TypeError, match="stride=1.5"):
            tconv.conv_transpose(x, w, stride=1.5)
        with pytest.raises(ValueError, match="algorithm='fft'"):
            tconv.conv_transpose(x, w, algorithm="fft")
        with pytest.raises(ValueError, match="not both"):
            tconv.conv_transpose(x, w, stride=2, output_padding=1, output_size=(12, 12))
        with pytest.raises(ValueError, match="must be smaller than max"):
            tconv.conv_transpose(x, w, stride=2, output_padding=(2, 0))
        with pytest.raises(TypeError, match="complex"):
            tconv.conv_transpose(x.astype(complex), w)

    def test_auto_never_zero_insertion(self):
        for shape, wshape, kw in [((64, 512, 4, 4), (512, 256, 4, 4), dict(stride=2, padding=1)),
                                  ((1, 21, 16, 16), (21, 1, 64, 64), dict(stride=32, groups=21)),
                                  ((1, 56, 8, 8), (56, 1, 9, 9), dict(stride=3, padding=4))]:
            p, _ = transposed_params("t", shape, wshape, None, kw.get("stride", 1),
                                     kw.get("padding", 0), 0, kw.get("groups", 1), 1, None)
            assert choose_algorithm(shape, wshape, p) in tconv.ALGORITHMS
            assert choose_algorithm(shape, wshape, p) != "zero_insertion"


class TestConv:
    def test_smoke(self):
        # the article: 4x4 input, 3x3 kernel, no padding, stride 1 -> 2x2 (many-to-one)
        y = tconv.conv(np.arange(16).reshape(1, 1, 4, 4), np.ones((1, 1, 3, 3)))
        assert y.tolist() == [[[[45.0, 54.0], [81.0, 90.0]]]]

    @settings(max_examples=600)
    @given(cfg=conv_configs(), seed=st.integers(0, 2**31 - 1),
           pad_mode=st.sampled_from(["int", "valid", "same"]))
    def test_oracle(self, cfg: Config, seed: int, pad_mode: str):
        x, w, b = _inputs(cfg, np.random.default_rng(seed), transposed=False)
        padding: object = cfg.padding
        stride = cfg.stride
        if pad_mode != "int":
            padding = pad_mode
            if pad_mode == "same":
                stride = (1,) * cfg.ndim
            else:       # "valid": the kernel must fit the unpadded input
                assume(all(s >= d * (k - 1) + 1
                           for s, d, k in zip(cfg.size, cfg.dilation, cfg.kernel)))
        ref = T_CONV[cfg.ndim](_t(x), _t(w), _t(b), stride, padding, cfg.dilation,
                               cfg.groups).numpy()
        y = tconv.conv(x, w, b, stride, padding, cfg.dilation, cfg.groups)
        assert_close(y, ref, np.float64)

    def test_shape(self):
        assert tconv.conv(np.zeros((3, 7, 7)), np.zeros((5, 3, 3, 3)), stride=2).shape == (5, 3, 3)
        assert tconv.conv(np.zeros((0, 3, 7)), np.zeros((5, 3, 3))).shape == (0, 5, 5)

    def test_exception(self):
        x, w = np.zeros((1, 4, 5, 5)), np.zeros((6, 2, 3, 3))
        xt, wt = _t(x), _t(w)
        for ours, match in [(dict(stride=0), "stride"), (dict(padding=-1), "padding"),
                            (dict(groups=4), "groups"), (dict(groups=3), "channels"),
                            (dict(padding="full"), "padding"), (dict(dilation=3), "kernel")]:
            check_same_error(lambda o=ours: tconv.conv(x, w, **({"groups": 2} | o)),
                             lambda o=ours: F.conv2d(xt, wt, **({"groups": 2} | o)), match=match)
        check_same_error(lambda: tconv.conv(x[:, :, :2, :2], w, groups=2),
                         lambda: F.conv2d(xt[:, :, :2, :2], wt, groups=2), match="kernel")
