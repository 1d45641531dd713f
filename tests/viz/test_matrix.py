"""tconv.viz.matrix: the heat-map's array is conv_matrix."""

from __future__ import annotations

import numpy as np
import pytest

import tconv

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")

from tconv.viz import geometry, matrix  # noqa: E402

CASES = [((4, 4), 3, 1, 0, 1), ((5, 5), 3, 2, 1, 1), ((6, 5), (2, 3), (1, 2), (2, 1), (2, 1))]


class TestPlotMatrix:
    @pytest.mark.parametrize("cfg", CASES)
    def test_identity(self, ax, cfg):
        """imshow's array: values and non-zero pattern of conv_matrix; mask = its zeros."""
        size, k, s, p, d = cfg
        w = np.arange(1, np.prod(np.broadcast_to(k, 2)) + 1.0).reshape(np.broadcast_to(k, 2))
        g = geometry(size, k, s, p, d, weight=w)
        art = matrix.plot_matrix(g, ax=ax, annotate=True)
        data = art["image"].get_array()
        C = tconv.conv_matrix(w[None, None], size, s, p, d, sparse=False)
        np.testing.assert_array_equal(np.ma.getmaskarray(data), C == 0)
        np.testing.assert_array_equal(data.filled(0), C)
        assert art["name"] == "C"
        labels = [t.get_text() for t in art["texts"]]
        assert len(labels) == np.count_nonzero(C)

    def test_transposed(self, ax):
        """A transposed geometry draws Cᵀ; transpose=True draws C of the conv it undoes."""
        g = geometry((2, 2), 3, transposed=True)
        art = matrix.plot_matrix(g, ax=ax)
        C = tconv.conv_matrix(g.weight[None, None], (4, 4), sparse=False)
        assert art["name"] == "C\u1d40" and art["image"].get_array().shape == (16, 4)
        assert ax.get_xlabel().startswith("column = input cell of the conv_transpose (2x2")
        assert ax.get_ylabel().startswith("row = output cell (4x4")
        np.testing.assert_array_equal(art["image"].get_array().filled(0), C.T)
        ax.clear()
        art = matrix.plot_matrix(g, ax=ax, transpose=True)
        np.testing.assert_array_equal(art["image"].get_array().filled(0), C)
        # the article's first row: w00 w01 w02 0 w10 w11 w12 0 w20 w21 w22 0 0 0 0 0
        row0 = [t.get_text() for t in art["texts"][:9]]
        assert row0 == ["w00", "w01", "w02", "w10", "w11", "w12", "w20", "w21", "w22"]

    def test_row_structure(self, ax):
        g = geometry(4, 3)
        art = matrix.plot_matrix(g, ax=ax, row=1)
        xs = sorted(line.get_xdata()[0] for line in art["lines"] if line.get_xdata()[0] ==
                    line.get_xdata()[1] and len(set(line.get_ydata())) > 1)
        assert xs == [3.5, 7.5, 11.5]              # one block per input row


def test_row_construction(ax):
    g = geometry(4, 3)
    art = matrix.plot_row_construction(g, (1, 1), ax=ax)
    C = tconv.conv_matrix(np.ones((1, 1, 3, 3)), 4, sparse=False)
    np.testing.assert_array_equal(art["taps"] >= 0, C[3] != 0)
    texts = [t.get_text() for t in art["row"].texts.ravel()]
    assert texts[:8] == ["0", "0", "0", "0", "0", "w00", "w01", "w02"]


def test_matrix_product(ax):
    g = geometry((2, 2), 3, transposed=True)
    art = matrix.plot_matrix_product(g, ax=ax)
    drawn = np.vectorize(lambda t: float(t.get_text()))(art["matrix"].texts)
    np.testing.assert_array_equal(drawn, g.matrix)
    y = np.vectorize(lambda t: float(t.get_text()))(art["y"].texts).ravel()
    np.testing.assert_array_equal(y, tconv.conv_transpose(g.x[None, None],
                                                          g.weight[None, None]).ravel())


def test_reshape(ax):
    g = geometry((2, 2), 3, transposed=True)
    art = matrix.plot_reshape(g, ax=ax)
    grid = np.vectorize(lambda t: float(t.get_text()))(art["grid"].texts)
    col = np.vectorize(lambda t: float(t.get_text()))(art["column"].texts)
    np.testing.assert_array_equal(grid.ravel(), col.ravel())
    np.testing.assert_array_equal(grid, g.y)


def test_flatten(ax):
    g = geometry((3, 4), 2, seed=5)
    art = matrix.plot_flatten(g, ax=ax)
    grid = np.vectorize(lambda t: float(t.get_text()))(art["grid"].texts)
    col = np.vectorize(lambda t: float(t.get_text()))(art["column"].texts)
    np.testing.assert_array_equal(grid, g.x)
    np.testing.assert_array_equal(col.ravel(), g.x.ravel())      # row-major, as C's columns
