"""Boundary inputs and choices that single-line mutations of the core showed untested.

Each class pins one behaviour a changed line (``tools/mutation.py``) left unnoticed:
a spatial size equal to the stride in :func:`tconv.checkerboard.phase_means`, an unbatched
input to the NumPy :func:`tconv.checkerboard.pixel_shuffle`, a 1-element tuple among full
tuples in a conventions spec, weight-gradient blocks that start at an image (or an output
row) other than the first, and which algorithm and which col2im layout ran where that
choice is the point.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from _cost_state import without_scatter
from _oracle import assert_close

import tconv
from tconv.checkerboard import phase_means, pixel_shuffle
from tconv.conventions import TransposedConvSpec, convert

conv_module = sys.modules["tconv.conv"]        # tconv.conv is the function


class TestPhaseMeansBoundary:
    @pytest.mark.parametrize("stride", [(2, 2), (3, 2), (1, 4)])
    def test_size_equal_to_stride(self, stride: tuple[int, int]) -> None:
        """One sample per phase: the phase means are the image itself."""
        img = np.arange(float(np.prod(stride))).reshape(stride)
        np.testing.assert_array_equal(phase_means(img, stride), img)
        np.testing.assert_array_equal(phase_means(img[None, None], stride), img[None, None])

    def test_size_equal_to_stride_1d_and_3d(self) -> None:
        np.testing.assert_array_equal(phase_means(np.array([5.0, 7.0]), 2, ndim=1), [5, 7])
        cube = np.arange(8.0).reshape(2, 2, 2)
        np.testing.assert_array_equal(phase_means(cube, 2, ndim=3), cube)

    def test_remainder_dropped(self) -> None:
        """A size of stride + 1 drops the trailing row: every phase has one sample."""
        img = np.arange(9.0).reshape(3, 3)
        np.testing.assert_array_equal(phase_means(img, 2), img[:2, :2])

    def test_smaller_than_stride(self) -> None:
        with pytest.raises(ValueError, match=r"spatial size \(1, 2\) must be at least stride"):
            phase_means(np.ones((1, 2)), 2)


def _shuffle_reference(x: np.ndarray, r: int) -> np.ndarray:
    """``y[..., c, h*r + i, w*r + j] = x[..., c*r*r + i*r + j, h, w]`` by loops."""
    *lead, cr, h, w = x.shape
    y = np.empty((*lead, cr // (r * r), h * r, w * r), x.dtype)
    for c in range(cr // (r * r)):
        for i in range(r):
            for j in range(r):
                y[..., c, i::r, j::r] = x[..., c * r * r + i * r + j, :, :]
    return y


class TestPixelShuffleUnbatched:
    @pytest.mark.parametrize("shape,r", [((4, 2, 3), 2), ((18, 1, 2), 3), ((2, 8, 3, 2), 2),
                                         ((2, 1, 9, 2, 2), 3), ((1, 1, 1), 1)])
    def test_oracle(self, shape: tuple[int, ...], r: int) -> None:
        x = np.arange(float(np.prod(shape))).reshape(shape)
        np.testing.assert_array_equal(pixel_shuffle(x, r), _shuffle_reference(x, r))

    def test_torch(self) -> None:
        torch = pytest.importorskip("torch")
        x = np.random.default_rng(0).standard_normal((8, 3, 2))           # unbatched
        np.testing.assert_array_equal(pixel_shuffle(x, 2),
                                      torch.pixel_shuffle(torch.tensor(x), 2).numpy())

    def test_exception(self) -> None:
        with pytest.raises(ValueError, match=r"input of shape \(4, 2\) must be"):
            pixel_shuffle(np.ones((4, 2)), 2)
        with pytest.raises(ValueError, match="divisible by upscale_factor"):
            pixel_shuffle(np.ones((3, 2, 2)), 2)


class TestConventionsMixedTuples:
    """A 1-element tuple broadcasts to every dim, as an int does (``as_int_tuple``)."""

    def test_torch(self) -> None:
        mixed = TransposedConvSpec.from_torch((3,), (2, 2), (1, 1), (1,), (1,))
        assert mixed == TransposedConvSpec.from_torch(3, 2, 1, 1, 1, ndim=2)
        assert mixed.ndim == 2
        spec3 = TransposedConvSpec.from_torch((4,), (2, 1, 2), (1,), (1, 0, 0))
        assert spec3 == TransposedConvSpec.from_torch((4, 4, 4), (2, 1, 2), (1, 1, 1),
                                                      (1, 0, 0))

    def test_other_readers(self) -> None:
        assert (TransposedConvSpec.from_keras((3,), (2, 2), "same")
                == TransposedConvSpec.from_keras(3, 2, "same", ndim=2))
        assert (TransposedConvSpec.from_tconv((5,), (2, 3), (2,), (1, 0))
                == TransposedConvSpec.from_tconv((5, 5), (2, 3), (2, 2), (1, 0)))
        assert (TransposedConvSpec.from_jax((3,), (2, 2), "SAME")
                == TransposedConvSpec.from_jax(3, 2, "SAME", ndim=2))

    def test_convert(self) -> None:
        out = convert({"kernel_size": (4,), "stride": (2, 2), "padding": (1,)}, "torch", "onnx")
        assert out == {"kernel_shape": [4, 4], "strides": [2, 2], "dilations": [1, 1],
                       "pads": [1, 1, 1, 1], "output_padding": [0, 0]}

    def test_mismatched_lengths(self) -> None:
        with pytest.raises(ValueError, match=r"stride=\(2, 2\) must be a single int or a "
                                             r"tuple of 3 ints"):
            TransposedConvSpec.from_torch((3, 3, 3), (2, 2))


class TestWeightGradBlocks:
    """``grad.py``'s weight gradient splits images (and output rows) into blocks; blocks
    that start at an image or a row other than the first must read their own data."""

    @pytest.fixture(autouse=True)
    def _small_blocks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from tconv._algorithms import _im2col

        monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", 600)
        monkeypatch.setenv("TCONV_NUM_THREADS", "2")

    @pytest.mark.parametrize("n,c_in,c_out,k,size,stride,groups", [
        (6, 1, 2, 3, (6, 6), 1, 1),        # several images a block, copied gy
        (6, 1, 1, 1, (16, 16), 1, 1),      # several images a block, one product per image
        (2, 2, 3, 3, (10, 10), 1, 1),      # one image split into row ranges
        (5, 4, 4, 3, (7, 5), 2, 2),        # groups, strided
    ])
    def test_conv_backward(self, n, c_in, c_out, k, size, stride, groups) -> None:
        torch = pytest.importorskip("torch")
        rng = np.random.default_rng(n * 10 + k)
        x = rng.standard_normal((n, c_in, *size))
        w = rng.standard_normal((c_out, c_in // groups, k, k))
        y = tconv.conv(x, w, stride=stride, groups=groups)
        gy = rng.standard_normal(y.shape)
        _, gw, _ = tconv.conv_backward(gy, x, w, stride=stride, groups=groups)
        tw = torch.tensor(w, requires_grad=True)
        out = torch.nn.functional.conv2d(torch.tensor(x), tw, stride=stride, groups=groups)
        (out * torch.tensor(gy)).sum().backward()
        assert_close(gw, tw.grad.numpy())

    def test_conv_transpose_backward(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Its weight gradient is the conv weight gradient of grad_out -> x (NumPy path)."""
        torch = pytest.importorskip("torch")
        monkeypatch.setenv("TCONV_NUMBA", "0")
        rng = np.random.default_rng(3)
        x, w = rng.standard_normal((5, 2, 6, 6)), rng.standard_normal((2, 3, 3, 3))
        gy = rng.standard_normal(tconv.conv_transpose(x, w, stride=2).shape)
        _, gw, _ = tconv.conv_transpose_backward(gy, x, w, stride=2)
        tw = torch.tensor(w, requires_grad=True)
        out = torch.nn.functional.conv_transpose2d(torch.tensor(x), tw, stride=2)
        (out * torch.tensor(gy)).sum().backward()
        assert_close(gw, tw.grad.numpy())


def _spy(monkeypatch: pytest.MonkeyPatch, table: dict, name: str) -> list[str]:
    calls: list[str] = []
    real = table[name]

    def spy(*args, **kwargs):
        calls.append(name)
        return real(*args, **kwargs)

    monkeypatch.setitem(table, name, spy)
    return calls


class TestChoices:
    """Where the choice of algorithm or layout is the point, the tests assert it."""

    @pytest.fixture(autouse=True)
    def _numpy_only(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("TCONV_NUMBA", "0")     # the NumPy algorithms' rules
        without_scatter(monkeypatch)               # (these small layers' other paths)

    @pytest.mark.parametrize("x_shape,w_shape,stride", [
        ((1, 64, 2, 2), (64, 8, 9, 9), 2), ((1, 64, 3, 3), (64, 16, 11, 11), 2),
        ((1, 64, 2, 2), (64, 8, 7, 7), 3)])
    def test_auto_prefers_gemm_when_the_phase_grid_gap_costs_too_much(
            self, monkeypatch, x_shape, w_shape, stride) -> None:
        """Tiny images, long kernels: the phase grid would be mostly zero gap; these layers
        have C_out/g > 4 and are not channels-last, so only the gap sends them to gemm."""
        from tconv._algorithms import gemm, phase

        p, out = conv_module.transposed_params("t", x_shape, w_shape, None, stride, 0, 0, 1,
                                               1, None)
        assert phase.grid_overhead(x_shape[2:], out, p) > 3
        assert not gemm.channels_last(x_shape, w_shape)
        assert conv_module.choose_algorithm(x_shape, w_shape, p, dtype=np.float64) == "gemm"
        calls = _spy(monkeypatch, conv_module._IMPL, "gemm")
        rng = np.random.default_rng(0)
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        y = tconv.conv_transpose(x, w, stride=stride)
        assert calls == ["gemm"]
        assert_close(y, tconv.conv_transpose(x, w, stride=stride, algorithm="scatter"))

    def test_auto_prefers_phase_on_a_large_image(self, monkeypatch, tmp_path) -> None:
        # the cost model's documented defaults, not the shipped calibration
        monkeypatch.setenv("TCONV_COST_FILE", str(tmp_path / "defaults.json"))
        x_shape, w_shape = (1, 64, 32, 32), (64, 8, 4, 4)
        p, _ = conv_module.transposed_params("t", x_shape, w_shape, None, 2, 1, 0, 1, 1, None)
        assert conv_module.choose_algorithm(x_shape, w_shape, p, dtype=np.float64) == "phase"
        calls = _spy(monkeypatch, conv_module._IMPL, "phase")
        tconv.conv_transpose(np.zeros(x_shape), np.zeros(w_shape), stride=2, padding=1)
        assert calls == ["phase"]

    @pytest.mark.parametrize("algorithm", ["gemm", "phase", "scatter", "zero_insertion",
                                           "matrix"])
    def test_explicit_algorithm_runs(self, monkeypatch, algorithm: str) -> None:
        calls = _spy(monkeypatch, conv_module._IMPL, algorithm)
        tconv.conv_transpose(np.ones((1, 2, 3, 3)), np.ones((2, 3, 3, 3)), stride=2,
                             algorithm=algorithm)
        assert calls == [algorithm]

    @pytest.mark.parametrize("x_shape,w_shape", [((2, 4, 5, 5), (4, 6, 3, 3)),
                                                 ((1, 8, 2, 2), (8, 32, 4, 4))])
    def test_gemm_layout_honoured(self, monkeypatch, x_shape, w_shape) -> None:
        """An explicit ``layout=`` runs that col2im whatever the shape rule says, with the
        same result."""
        from tconv._algorithms import gemm

        p, out = conv_module.transposed_params("t", x_shape, w_shape, None, 2, 1, 0, 1, 1,
                                               None)
        rng = np.random.default_rng(1)
        x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
        results = {}
        for layout in ("channels_last", "channels_first"):
            fn = "_" + layout
            calls = _spy(monkeypatch, vars(gemm), fn)
            results[layout] = gemm.conv_transpose(x, w, p, out, layout=layout)
            assert calls == [fn], layout
        default = "channels_last" if gemm.channels_last(x_shape, w_shape) else "channels_first"
        calls = _spy(monkeypatch, vars(gemm), "_" + default)
        gemm.conv_transpose(x, w, p, out)
        assert calls == ["_" + default]
        assert_close(results["channels_last"], results["channels_first"])
        assert_close(results["channels_last"],
                     tconv.conv_transpose(x, w, stride=2, padding=1, algorithm="scatter"))


class TestDepthwiseSubpixelChannelBlocks:
    """The depthwise sub-pixel path of ``phase`` (large strides: FCN x32) in channel blocks
    that start past the first channel."""

    @pytest.mark.parametrize("block", [2048, 4096, 1 << 20])
    def test_identity_vs_scatter(self, monkeypatch, block: int) -> None:
        from tconv._algorithms import phase

        monkeypatch.setattr(phase, "BLOCK_ELEMENTS", block)
        calls = _spy(monkeypatch, vars(phase), "_depthwise_subpixel")
        rng = np.random.default_rng(block)
        x, w = rng.standard_normal((2, 5, 3, 2)), rng.standard_normal((5, 1, 64, 64))
        kw = dict(stride=32, padding=16, groups=5)
        y = tconv.conv_transpose(x, w, algorithm="phase", **kw)
        assert calls == ["_depthwise_subpixel"]
        assert_close(y, tconv.conv_transpose(x, w, algorithm="scatter", **kw))


class TestGemmRowBlockWaves:
    """gemm's row blocks of one large image run in two waves (even blocks, then odd) so that
    no two blocks running together add into the same output rows: checked on the waves
    themselves, since a race would not show in a sequential run."""

    @pytest.mark.parametrize("k,s,d,size", [(3, 1, 2, 12), (5, 2, 1, 11), (4, 1, 1, 9),
                                            (3, 3, 3, 10)])
    def test_blocks_of_a_wave_touch_disjoint_rows(self, monkeypatch, k, s, d, size) -> None:
        from tconv._algorithms import _parallel, gemm

        monkeypatch.setenv("TCONV_NUMBA", "0")
        monkeypatch.setattr(gemm, "BLOCK_ELEMENTS", 64)      # one image is too big: row blocks
        waves: list[list[tuple]] = []
        real = _parallel.for_each

        def record(fn, items, *args, **kwargs):
            items = list(items)
            waves.append(items)
            return real(fn, items, *args, **kwargs)

        monkeypatch.setattr(_parallel, "for_each", record)
        rng = np.random.default_rng(k * 100 + size)
        x, w = rng.standard_normal((1, 2, size, 4)), rng.standard_normal((2, 3, k, k))
        kw = dict(stride=s, dilation=d)
        p, out = conv_module.transposed_params("t", x.shape, w.shape, None, s, 0, 0, 1, d,
                                               None)
        y = gemm.conv_transpose(x, w, p, out, layout="channels_first")
        starts = sorted({b[-1] for wave in waves for b in wave})
        assert len(starts) > 2, "expected several row blocks"
        rows = starts[1] - starts[0]
        reach = d * (k - 1) + 1
        for wave in waves:          # blocks of other groups, channels or images never meet
            for where in {b[:-1] for b in wave}:
                spans = sorted((i0 * s, (min(size, i0 + rows) - 1) * s + reach)
                               for *head, i0 in wave if tuple(head) == where)
                assert all(hi <= lo for (_, hi), (lo, _) in zip(spans, spans[1:])), spans
        assert_close(y, tconv.conv_transpose(x, w, algorithm="scatter", **kw))
