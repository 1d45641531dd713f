"""tconv.viz.grids: the drawn cells are the library's numbers and footprints."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tconv

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402

from tconv.viz import geometry, grids  # noqa: E402
from tconv.viz._style import COLORS, EDGE  # noqa: E402


def face(rect) -> str:
    return mcolors.to_hex(rect.get_facecolor())


def painted(artists, key: str) -> np.ndarray:
    """Boolean grid: which cells are painted in colour ``key``."""
    return np.vectorize(lambda r: face(r) == COLORS[key])(artists.cells)


class TestOperation:
    def test_smoke(self, ax):
        g = geometry(4, 3)
        art = grids.plot_operation(g, ax=ax)
        assert art["input"].cells.shape == (4, 4) and art["output"].cells.shape == (2, 2)
        assert [t.get_text() for t in art["legend"].get_texts()] == ["input", "output", "kernel"]

    def test_identity(self, ax):
        """Numbers written in the output grid are conv's output."""
        g = geometry((5, 4), (2, 3), stride=(2, 1), padding=1, seed=3)
        art = grids.plot_operation(g, ax=ax)
        y = tconv.conv(g.x[None, None], g.weight[None, None], None, (2, 1), 1)[0, 0]
        drawn = np.vectorize(lambda t: float(t.get_text()))(art["output"].texts)
        np.testing.assert_array_equal(drawn, y)
        drawn_x = np.vectorize(lambda t: float(t.get_text()))(art["input"].texts)
        np.testing.assert_array_equal(drawn_x, g.x)
        assert (painted(art["kernel"], "kernel")).all()


class TestFootprint:
    @pytest.mark.parametrize("cfg", [((2, 2), 3, 1, 0, 1, 0), ((3, 3), 3, 2, 1, 1, 1),
                                     ((3, 2), (3, 2), (2, 3), (1, 0), (1, 2), (1, 0))])
    def test_identity(self, ax, cfg):
        """The reached cells are exactly those conv_transpose writes for a one-hot input."""
        size, k, s, p, d, op = cfg
        g = geometry(size, k, s, p, d, op, transposed=True)
        for i in itertools.product(*map(range, g.in_size)):
            ax.clear()
            art = grids.plot_footprint(g, i, ax=ax)
            e = np.zeros(g.in_size)
            e[i] = 1
            touched = tconv.conv_transpose(e[None, None], np.ones((1, 1, *g.kernel_size)),
                                           None, s, p, op, 1, d)[0, 0] != 0
            np.testing.assert_array_equal(painted(art["output"], "output_active"), touched)
            src = painted(art["input"], "input_active")
            assert src.sum() == 1 and src[i]
            # each reached cell names its kernel tap: x·w_rc
            for r, c in zip(*np.nonzero(touched)):
                assert art["output"].texts[r, c].get_text().startswith(f"{g.x[i]:.0f}·w")

    def test_tap_labels_match_conv_transpose(self, ax):
        g = geometry((2, 2), 3, transposed=True)
        art = grids.plot_footprint(g, (1, 0), ax=ax)
        # conv_transpose of e_(1,0) with the ramp kernel 1..9 writes tap+1 at each cell
        e = np.zeros((2, 2))
        e[1, 0] = 1
        out = tconv.conv_transpose(e[None, None], np.arange(1, 10.).reshape(1, 1, 3, 3))[0, 0]
        for r, c in zip(*np.nonzero(out)):
            tap = int(out[r, c]) - 1
            assert art["output"].texts[r, c].get_text().endswith(f"w{tap // 3}{tap % 3}")


class TestReceptiveField:
    def test_identity(self, ax):
        """Shaded input cells are the non-zeros of row o of conv_matrix; padding is dashed."""
        g = geometry((5, 5), 3, 2, 1)
        C = tconv.conv_matrix(np.ones((1, 1, 3, 3)), (5, 5), 2, 1, sparse=False)
        for o in itertools.product(*map(range, g.out_size)):
            ax.clear()
            art = grids.plot_receptive_field(g, o, ax=ax)
            cells = art["input"]
            assert cells.cells.shape == (7, 7)          # 5x5 + padding ring
            inner = painted(cells, "input_active")[1:-1, 1:-1]
            row = C[np.ravel_multi_index(o, g.out_size)].reshape(5, 5) != 0
            np.testing.assert_array_equal(inner, row)
            for r, c in zip(*np.nonzero(cells.kinds == "padding")):
                assert cells.cells[r, c].get_linestyle() == EDGE["padding"]
            assert (cells.kinds == "padding").sum() + (cells.kinds == "zero_active").sum() == 24
            out = painted(art["output"], "output_active")
            assert out.sum() == 1 and out[o]


class TestZeroInsertion:
    def test_identity(self, ax):
        g = geometry((3, 3), 3, 2, 1, 1, 1, transposed=True)
        art = grids.plot_zero_insertion(g, (2, 3), ax=ax)
        v = art["view"]
        kinds = art["input"].kinds
        assert kinds.shape == v.grid.shape == (8, 8)
        # the window is the 3x3 block at (2, 3); the input cells in it are shaded dark
        assert art["window"].sum() == 9 and art["window"][2:5, 3:6].all()
        np.testing.assert_array_equal(kinds == "input_active", art["window"] & (v.kind == 0))
        np.testing.assert_allclose(v.y, g.y)
        # drawn output numbers are conv_transpose's
        drawn = np.vectorize(lambda t: float(t.get_text()))(art["output"].texts)
        np.testing.assert_array_equal(drawn, tconv.conv_transpose(
            g.x[None, None], g.weight[None, None], None, 2, 1, 1)[0, 0])
        assert {t.get_text() for t in art["legend"].get_texts()} >= {
            "padding zero (dashed)", "inserted zero (dotted)"}

    def test_exception(self, ax):
        with pytest.raises(ValueError, match="direct convolution"):
            grids.plot_zero_insertion(geometry(4, 3), ax=ax)


def test_kernel(ax):
    g = geometry(4, (2, 3), weight=np.arange(6).reshape(2, 3))
    art = grids.plot_kernel(g, ax=ax)["kernel"]
    assert art.texts[1, 2].get_text() == "w12\n5"


def test_low_to_high(ax):
    g = geometry((3, 3), 4, 2, 1, transposed=True)
    art = grids.plot_low_to_high(g, ax=ax)
    np.testing.assert_array_equal(art["input"].get_array(), g.x)
    np.testing.assert_array_equal(art["output"].get_array(), tconv.conv_transpose(
        g.x[None, None], g.weight[None, None], None, 2, 1)[0, 0])
    # same physical size: the 6x6 output covers the extent of the 3x3 input
    e_in, e_out = art["input"].get_extent(), art["output"].get_extent()
    assert e_in[1] - e_in[0] == e_out[1] - e_out[0]
