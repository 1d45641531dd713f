"""tconv.viz.animate and the GIFs of ``tconv figures``: frames follow the computation."""

from __future__ import annotations

import numpy as np
import pytest

import tconv

mpl = pytest.importorskip("matplotlib")
pytest.importorskip("PIL")
mpl.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from tconv.viz import animate, geometry  # noqa: E402
from tconv.viz._style import COLORS  # noqa: E402


def painted(cells, key):
    return np.vectorize(lambda r: mcolors.to_hex(r.get_facecolor()) == COLORS[key])(cells)


class TestAnimation:
    def test_frame_count(self):
        g = geometry((3, 3), 3, 2, 1, 1, 1, transposed=True)     # 3x3 -> 6x6
        assert animate.frame_count(g, "gather") == 36
        assert animate.frame_count(g, "zero_insertion") == 36
        assert animate.frame_count(g, "scatter") == 9
        assert animate.frame_count(geometry(5, 3), "gather") == 9

    def test_gather_frames(self, ax):
        """Frame i computes output cell i: its receptive field is row i of conv_matrix."""
        g = geometry((5, 4), 2, (2, 1), 0)
        C = tconv.conv_matrix(np.ones((1, 1, 2, 2)), (5, 4), (2, 1), sparse=False)
        for i in range(animate.frame_count(g, "gather")):
            art = animate.draw_frame(g, "gather", i, ax=ax)
            assert art["index"] == tuple(int(v) for v in np.unravel_index(i, g.out_size))
            np.testing.assert_array_equal(painted(art["input"].cells, "input_active"),
                                          C[i].reshape(5, 4) != 0)
            assert f"step {i + 1} of {C.shape[0]}" in ax.get_title()

    def test_scatter_ends_at_conv_transpose(self, ax):
        g = geometry((2, 3), 3, 2, 1, 1, 1, transposed=True, seed=4)
        n = animate.frame_count(g, "scatter")
        art = animate.draw_frame(g, "scatter", n - 1, ax=ax)
        y = tconv.conv_transpose(g.x[None, None], g.weight[None, None], None, 2, 1, 1)[0, 0]
        # cells not reached by the last input show the finished sum
        out = art["output"]
        for r, c in zip(*np.nonzero(~art["mask"])):
            assert float(out.texts[r, c].get_text()) == y[r, c]

    def test_exception(self, ax):
        with pytest.raises(ValueError, match="transposed convolution"):
            animate.frame_count(geometry(4, 3), "scatter")
        with pytest.raises(ValueError, match="is not one of"):
            animate.frame_count(geometry(4, 3), "slide")
        with pytest.raises(ValueError, match=r"frame=4 must be in \[0, 4\)"):
            animate.draw_frame(geometry(4, 3), "gather", 4, ax=ax)

    def test_funcanimation(self, tmp_path):
        """The notebook path: FuncAnimation saved by matplotlib's Pillow writer."""
        from matplotlib.animation import PillowWriter

        fig = plt.figure(figsize=(5, 3))
        try:
            anim = animate.animation(geometry(4, 3), fig=fig)
            anim.save(tmp_path / "a.gif", writer=PillowWriter(fps=2), dpi=40)
            assert "step 4 of 4" in fig.axes[0].get_title()
        finally:
            plt.close(fig)
        assert Image.open(tmp_path / "a.gif").n_frames == 4


def test_gif(tmp_path):
    """The GIF has one frame per step, one size, and the frames differ."""
    from tconv.cli.figures import _save_gif

    g = geometry((2, 2), 3, 2, 1, 1, 0, transposed=True)          # 2x2 -> 3x3
    path = _save_gif(tmp_path / "z.gif", g, "zero_insertion", dpi=50)
    im = Image.open(path)
    assert im.n_frames == 9
    sizes, frames = set(), []
    for i in range(im.n_frames):
        im.seek(i)
        sizes.add(im.size)
        frames.append(np.asarray(im.convert("RGB")))
    assert len(sizes) == 1
    assert all(not np.array_equal(frames[i], frames[i + 1]) for i in range(8))
    # the dark "output being computed" colour is present in every frame
    dark = np.array(mcolors.to_rgb(COLORS["output_active"])) * 255
    for f in frames:
        assert (np.abs(f.astype(float) - dark).sum(axis=-1) < 40).sum() > 20
