"""The figures show values: accumulating scatter frames, inputs without zero rows, and a
colour scale per panel of the low-to-high picture."""

from __future__ import annotations

import numpy as np
import pytest

import tconv
from tconv.viz import geometry

animate = pytest.importorskip("tconv.viz.animate")
grids = pytest.importorskip("tconv.viz.grids")

CASES = [((2, 3), 3, 2, 1, 1, 1), ((3, 3), 3, 2, 0, 1, 0), ((2, 2), (3, 2), (2, 3), 0, 1, 0),
         ((3, 2), 2, 1, 0, 2, 0), ((4, 4), 4, 2, 1, 1, 0)]


@pytest.mark.parametrize("cfg", CASES)
def test_scatter_frames_accumulate(ax, cfg):
    """Frame i: every output cell shows M[:, :i+1] @ x[:i+1]; reached cells add +x·w."""
    size, k, s, p, d, op = cfg
    g = geometry(size, k, s, p, d, op, transposed=True, seed=2)
    x = g.x.ravel()
    for i in range(animate.frame_count(g, "scatter")):
        art = animate.draw_frame(g, "scatter", i, ax=ax)
        running = (g.matrix[:, :i + 1] @ x[:i + 1]).reshape(g.out_size)
        texts = art["output"].texts
        for (r, c), v in np.ndenumerate(running):
            first = texts[r, c].get_text().split("\n")[0]
            assert float(first) == v, (i, r, c)
            assert ("\n+" in texts[r, c].get_text()) == bool(art["mask"][r, c])
    assert np.allclose(running, tconv.conv_transpose(g.x[None, None], g.weight[None, None],
                                                     None, s, p, op, 1, d)[0, 0])
    assert "partial sums" in ax.get_title()


def test_default_inputs_have_no_zeros():
    for seed in range(40):
        g = geometry((5, 7), 3, seed=seed)
        assert g.x.min() >= 1 and g.x.max() <= 4 and g.x.dtype == np.float64
        assert (g.x.sum(axis=1) > 0).all()


@pytest.mark.parametrize("size,s", [((3, 3), 2), ((2, 2), 3), ((6, 4), 2)])
def test_low_to_high_has_a_scale_per_panel(ax, size, s):
    g = geometry(size, 3, s, 1, 1, s - 1, transposed=True, seed=1)
    art = grids.plot_low_to_high(g, ax=ax)
    assert art["input"].get_clim() == (g.x.min(), g.x.max())
    assert art["output"].get_clim() == (g.y.min(), g.y.max())
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("own scale") == 0 and sum("own scale" in t for t in texts) == 2
    # small panels print their values: every input value appears
    values = {t for t in texts}
    assert all(str(int(v)) in values for v in g.x.ravel())
