"""tconv.viz.geometry: the matrix every picture is drawn from equals the library's ops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given
from strategies import transposed_configs

import tconv
from tconv.viz import geometry, zero_insertion_view

# (input_size, kernel, stride, padding, dilation, output_padding) -- conv_transpose valid
CONFIGS = [
    ((4, 4), 3, 1, 0, 1, 0),          # the article
    ((2, 2), 3, 1, 0, 1, 0),
    ((3, 3), 3, 2, 1, 1, 1),          # DCGAN-like doubling
    ((4, 4), 4, 2, 1, 1, 0),
    ((3, 2), (3, 2), (2, 3), (1, 0), (1, 2), (1, 0)),
    ((2, 3), 3, 1, 0, 3, 2),          # output_padding >= stride (allowed by dilation)
    ((3, 3), 3, 2, "same", 1, 0),
    ((3, 3), 2, 3, 2, 1, 0),          # padding larger than the footprint overlap
]


class TestGeometry:
    def test_smoke(self):
        g = geometry(4, 3)
        assert g.out_size == (2, 2) and g.matrix.shape == (4, 16)
        assert g.label == ("conv: input 4x4, kernel 3x3, stride 1, padding 0, dilation 1 -> "
                           "output 2x2")

    @pytest.mark.parametrize("cfg", CONFIGS)
    def test_identity_conv(self, cfg):
        size, k, s, p, d, _ = cfg
        if p == "same":
            pytest.skip("strided 'same' is transposed-only")
        try:
            g = geometry(size, k, s, p, d)
        except ValueError:
            return
        C = tconv.conv_matrix(g.weight[None, None], g.in_size, s, p, d, sparse=False)
        np.testing.assert_array_equal(g.matrix, C)
        np.testing.assert_allclose(g.matrix @ g.x.ravel(), g.y.ravel())
        # taps: every non-zero of C is the weight at the tap it names
        np.testing.assert_array_equal(g.taps >= 0, C != 0)
        np.testing.assert_array_equal(g.weight.ravel()[g.taps[g.taps >= 0]], C[C != 0])

    @pytest.mark.parametrize("cfg", CONFIGS)
    def test_identity_transposed(self, cfg):
        size, k, s, p, d, op = cfg
        g = geometry(size, k, s, p, d, op, transposed=True)
        y = tconv.conv_transpose(g.x[None, None], g.weight[None, None], None, s, p, op, 1, d)
        np.testing.assert_allclose(g.y, y[0, 0])
        np.testing.assert_allclose(g.matrix @ g.x.ravel(), g.y.ravel())
        if isinstance(p, int) and all(o < st for o, st in
                                      zip(np.broadcast_to(op, 2), np.broadcast_to(s, 2))):
            C = tconv.conv_matrix(g.weight[None, None], g.out_size, s, p, d, sparse=False)
            np.testing.assert_array_equal(g.matrix, C.T)   # conv_transpose == C.T @ y

    @pytest.mark.parametrize("cfg", CONFIGS)
    def test_footprint_is_what_conv_transpose_touches(self, cfg):
        size, k, s, p, d, op = cfg
        g = geometry(size, k, s, p, d, op, transposed=True)
        for i in itertools.product(*map(range, g.in_size)):
            e = np.zeros(g.in_size)
            e[i] = 1
            touched = tconv.conv_transpose(e[None, None], np.ones((1, 1, *g.kernel_size)),
                                           None, s, p, op, 1, d)[0, 0] != 0
            np.testing.assert_array_equal(g.footprint(i) >= 0, touched)

    def test_receptive_field_is_row_of_C(self):
        g = geometry((5, 5), 3, 2, 1)
        C = tconv.conv_matrix(np.ones((1, 1, 3, 3)), (5, 5), 2, 1, sparse=False)
        for o in itertools.product(*map(range, g.out_size)):
            row = C[np.ravel_multi_index(o, g.out_size)].reshape(5, 5)
            np.testing.assert_array_equal(g.receptive_field(o) >= 0, row != 0)

    @pytest.mark.parametrize("cfg", CONFIGS)
    def test_zero_insertion_view(self, cfg):
        g = geometry(*cfg, transposed=True)
        v = zero_insertion_view(g)
        np.testing.assert_allclose(v.y, g.y)
        np.testing.assert_array_equal(v.grid[v.kind == 1], 0)
        np.testing.assert_array_equal(v.grid[v.kind == 2], 0)
        # the input values sit stride apart from the origin
        s = g.stride
        cells = [(v.origin[0] + r * s[0], v.origin[1] + c * s[1])
                 for r in range(g.in_size[0]) for c in range(g.in_size[1])]
        inside = [(r, c) for r, c in cells if 0 <= r < v.grid.shape[0]
                  and 0 <= c < v.grid.shape[1]]
        assert int((v.kind == 0).sum()) == len(inside)

    def test_exception(self):
        with pytest.raises(ValueError, match="output_padding=.* must be smaller than"):
            geometry(2, 3, 2, 0, 1, 2, transposed=True)
        with pytest.raises(ValueError, match="does not fit in the padded input"):
            geometry(2, 3)
        with pytest.raises(ValueError, match="transposed convolution only"):
            geometry(4, 3, output_padding=1)
        with pytest.raises(ValueError, match="direct convolution"):
            zero_insertion_view(geometry(4, 3))
        with pytest.raises(ValueError, match="x of shape"):
            geometry(4, 3, x=np.zeros((3, 3)))


def test_import_hygiene():
    """tconv.viz, its geometry and the explorer need NumPy only; figures load matplotlib."""
    import subprocess
    import sys

    code = ("import sys, tconv.viz, tconv.viz.explore; tconv.viz.geometry(4, 3); "
            "tconv.viz.explorer_html(); "
            "bad = [m for m in ('matplotlib', 'PIL', 'torch') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def _as_2d(cfg):
    """A 1-D or 2-D configuration as a 2-D one (leading dims of size 1, stride 1, pad 0)."""
    def pad(t, fill):
        return (fill,) * (2 - len(t)) + tuple(t)
    return (pad(cfg.size, 1), pad(cfg.kernel, 1), pad(cfg.stride, 1), pad(cfg.padding, 0),
            pad(cfg.dilation, 1), pad(cfg.output_padding, 0))


@given(transposed_configs(max_ndim=2))
def test_property_matrix_is_C_transposed(cfg):
    """For any valid configuration: M @ x == conv_transpose(x) == zero insertion, and M
    is C.T for the conv over the output (rows beyond the input size dropped)."""
    size, k, s, p, d, op = _as_2d(cfg)
    g = geometry(size, k, s, p, d, op, transposed=True)
    y = tconv.conv_transpose(g.x[None, None], g.weight[None, None], None, s, p, op, 1, d)
    np.testing.assert_allclose(g.matrix @ g.x.ravel(), y.ravel())
    np.testing.assert_allclose(zero_insertion_view(g).y, g.y)
    C = tconv.conv_matrix(g.weight[None, None], g.out_size, s, p, d, sparse=False)
    rows = tconv.conv_output_size(g.out_size, k, s, p, d)
    keep = np.zeros(rows, dtype=bool)
    keep[: size[0], : size[1]] = True
    np.testing.assert_array_equal(g.matrix, C[keep.ravel()].T)
    # and the conv geometry of the same numbers is C itself
    c = geometry(g.out_size, k, s, p, d, weight=g.weight)
    np.testing.assert_array_equal(c.matrix, C)
