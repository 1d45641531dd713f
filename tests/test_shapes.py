"""Shape arithmetic: closed forms, PyTorch's modules, and round trips."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from strategies import Config, transposed_configs

import tconv


class TestConvOutputSize:
    def test_smoke(self):
        assert tconv.conv_output_size((4, 4), 3) == (2, 2)

    def test_shape(self):
        torch = pytest.importorskip("torch")
        for i, k, s, p, d in itertools.product(range(1, 9), range(1, 5), range(1, 4), range(3),
                                               range(1, 3)):
            if i + 2 * p < d * (k - 1) + 1:
                with pytest.raises(ValueError, match="does not fit"):
                    tconv.conv_output_size(i, k, s, p, d)
                continue
            ref = torch.nn.functional.conv1d(torch.zeros(1, 1, i), torch.zeros(1, 1, k),
                                             stride=s, padding=p, dilation=d).shape[-1]
            assert tconv.conv_output_size(i, k, s, p, d) == (ref,)

    def test_exception(self):
        with pytest.raises(ValueError, match="stride"):
            tconv.conv_output_size(4, 3, stride=0)
        with pytest.raises(ValueError, match="strided"):
            tconv.conv_output_size(4, 3, stride=2, padding="same")
        with pytest.raises(TypeError, match="kernel_size"):
            tconv.conv_output_size(4, 2.5)
        with pytest.raises(ValueError, match="input_size"):
            tconv.conv_output_size((0, 4), 1)


class TestConvTransposeOutputSize:
    def test_smoke(self):
        assert tconv.conv_transpose_output_size((2, 2), 3) == (4, 4)

    def test_shape(self):
        torch = pytest.importorskip("torch")
        for i, k, s, p, d in itertools.product(range(1, 6), range(1, 5), range(1, 4), range(3),
                                               range(1, 3)):
            for op in range(max(s, d)):
                m = torch.nn.ConvTranspose1d(1, 1, k, s, p, op, dilation=d)
                try:
                    ref = m(torch.zeros(1, 1, i)).shape[-1]
                except RuntimeError:
                    with pytest.raises(ValueError, match="empty"):
                        tconv.conv_transpose_output_size(i, k, s, p, op, d)
                    continue
                assert tconv.conv_transpose_output_size(i, k, s, p, op, d) == (ref,)

    @given(cfg=transposed_configs())
    def test_identity_params(self, cfg: Config):
        # ConvParams.transposed_size (what conv_transpose and the algorithms use) agrees
        # with the public formula and with the shape conv_transpose returns
        from tconv.conv import transposed_params

        x = np.zeros((cfg.batch, cfg.c_in, *cfg.size))
        w = np.zeros((cfg.c_in, cfg.cog, *cfg.kernel))
        p, out = transposed_params("t", x.shape, w.shape, None, cfg.stride, cfg.padding,
                                   cfg.output_padding, cfg.groups, cfg.dilation, None)
        want = tconv.conv_transpose_output_size(cfg.size, cfg.kernel, cfg.stride, cfg.padding,
                                                cfg.output_padding, cfg.dilation)
        assert p.transposed_size(cfg.size) == out == want
        y = tconv.conv_transpose(x, w, stride=cfg.stride, padding=cfg.padding,
                                 output_padding=cfg.output_padding, groups=cfg.groups,
                                 dilation=cfg.dilation)
        assert y.shape[2:] == want

    def test_exception(self):
        with pytest.raises(ValueError, match=r"output_padding=\(2,\) must be smaller"):
            tconv.conv_transpose_output_size(4, 3, stride=2, output_padding=2)
        with pytest.raises(ValueError, match="padding"):
            tconv.conv_transpose_output_size(4, 3, padding=-1)


class TestOutputPaddingFor:
    @settings(max_examples=300)
    @given(cfg=transposed_configs())
    def test_identity(self, cfg: Config):
        """Round trip: the output size of a config gives back an equivalent output_padding."""
        out = tconv.conv_transpose_output_size(cfg.size, cfg.kernel, cfg.stride, cfg.padding,
                                               cfg.output_padding, cfg.dilation)
        if any(op >= s for op, s in zip(cfg.output_padding, cfg.stride)):
            # reachable only through dilation > stride; output_size= accepts [m, m + stride - 1]
            with pytest.raises(ValueError, match="valid sizes range"):
                tconv.output_padding_for(cfg.size, out, cfg.kernel, cfg.stride, cfg.padding,
                                         cfg.dilation)
        else:
            assert tconv.output_padding_for(cfg.size, out, cfg.kernel, cfg.stride, cfg.padding,
                                            cfg.dilation) == cfg.output_padding
            # and conv maps that output size back to the input size
            assert tconv.conv_output_size(out, cfg.kernel, cfg.stride, cfg.padding,
                                          cfg.dilation)[0] >= cfg.size[0]

    def test_matches_torch_module(self):
        torch = pytest.importorskip("torch")
        m = torch.nn.ConvTranspose2d(1, 1, 3, stride=3, padding=1)
        for h, w in itertools.product(range(7, 12), repeat=2):
            try:
                y = m(torch.zeros(1, 1, 3, 3), output_size=[h, w])
            except ValueError:
                with pytest.raises(ValueError, match="valid sizes range from"):
                    tconv.output_padding_for((3, 3), (h, w), 3, 3, 1)
                continue
            op = tconv.output_padding_for((3, 3), (1, 1, h, w), 3, 3, 1)
            assert tconv.conv_transpose_output_size((3, 3), 3, 3, 1, op) == tuple(y.shape[2:])

    def test_exception(self):
        with pytest.raises(ValueError, match=r"valid sizes range from \(7,\) to \(8,\)"):
            tconv.output_padding_for(4, 9, 3, stride=2, padding=1)
        with pytest.raises(ValueError, match="spatial entries"):
            tconv.output_padding_for((4, 4), (8, 8, 8), 3, stride=2)


def test_padding_pairs_and_strings():
    assert tconv.conv_transpose_output_size(5, 4, 2, padding=((1, 2),)) == (9,)
    assert tconv.conv_transpose_output_size((5, 3), (4, 1), (2, 3), padding="same") == (10, 9)
    assert tconv.conv_transpose_output_size(5, 4, 2, padding="valid") == (12,)
    assert np.array_equal(tconv.conv_output_size((5, 6), 3, padding="same"), (5, 6))
