"""tconv.viz.checkerboard and `tconv checkerboard`: what is drawn is tconv.checkerboard's data."""

from __future__ import annotations

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.image as mimage  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from tconv.checkerboard import (  # noqa: E402
    artifact_score,
    overlap_map,
    upsampler_responses,
)
from tconv.cli import main  # noqa: E402
from tconv.viz.checkerboard import (  # noqa: E402
    plot_overlap_grid,
    plot_overlap_map,
    plot_upsampler_comparison,
)


@pytest.fixture
def axes():
    fig, axs = plt.subplots(2, 4)
    yield axs.ravel()
    plt.close(fig)


class TestPlotOverlapMap:
    @pytest.mark.parametrize("k,s,d", [(3, 2, 1), (4, 2, 1), (5, 3, 2), ((3, 4), (2, 3), 1)])
    def test_data(self, axes, k, s, d) -> None:
        art = plot_overlap_map(k, s, d, ax=axes[0], periods=2)
        want = np.tile(overlap_map(k, s, d, ndim=2), (2, 2))
        np.testing.assert_array_equal(np.asarray(art.image.get_array()), want)
        assert [t.get_text() for t in art.texts] == [str(v) for v in want.ravel()]
        assert art.image.get_clim() == (0, want.max())

    def test_title(self, axes) -> None:
        assert plot_overlap_map(3, 2, ax=axes[0]).title.get_text() == "k=3, s=2: uneven x4"
        assert plot_overlap_map(4, 2, ax=axes[1]).title.get_text() == "k=4, s=2: even"
        assert plot_overlap_map(2, 3, ax=axes[2]).title.get_text() == "k=2, s=3: holes"
        assert plot_overlap_map(4, 2, 2, ax=axes[3]).title.get_text() == "k=4, s=2, d=2: holes"

    def test_grid(self, axes) -> None:
        configs = [(3, 2), (4, 2), (5, 2), (5, 3, 2)]
        arts = plot_overlap_grid(configs, ax=axes)
        top = max(overlap_map(*c).max() for c in configs)
        for art, c in zip(arts, configs):
            np.testing.assert_array_equal(np.asarray(art.image.get_array()),
                                          np.tile(overlap_map(*c), (3, 3)))
            assert art.image.get_clim() == (0, top)
        assert [a.get_visible() for a in axes] == [True] * 4 + [False] * 4

    def test_exception(self, axes) -> None:
        with pytest.raises(ValueError, match="ax has 2 axes, fewer than the 3 configs"):
            plot_overlap_grid([(3, 2)] * 3, ax=axes[:2])


class TestPlotUpsamplerComparison:
    def test_data(self, axes) -> None:
        responses = upsampler_responses(np.ones((12, 12)), 2, 3, seed=1)
        panels = plot_upsampler_comparison(responses, 2, ax=axes)
        assert [p.name for p in panels] == list(responses)
        spreads = []
        for p in panels:
            y = responses[p.name]
            inner = y[4:-4, 4:-4]
            np.testing.assert_allclose(np.asarray(p.image.get_array()), y - inner.mean())
            assert p.score == pytest.approx(artifact_score(y, 2, border=4))
            spreads.append(np.abs(inner - inner.mean()).max())
        # checkerboards get their own interior range, flat panels the largest one
        assert panels[0].image.get_clim() == pytest.approx((-spreads[0], spreads[0]))
        assert panels[2].image.get_clim() == pytest.approx((-max(spreads), max(spreads)))
        assert panels[0].score > 0.99 and panels[3].score == 0.0
        assert "transposed conv" in panels[0].title.get_text()


class TestCli:
    def test_run(self, tmp_path, capsys) -> None:
        assert main(["checkerboard", "--kernel-sizes", "3,4", "--strides", "2", "--out",
                     str(tmp_path), "--dpi", "50"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[1].split()[:5] == ["3", "2", "1", "[2,", "1]"]
        assert lines[2].split()[:5] == ["4", "2", "1", "[2,", "2]"]
        assert "uneven" in lines[1] and lines[2].rstrip().endswith("even")
        for name in ("overlap_maps.png", "upsamplers.png"):
            img = mimage.imread(tmp_path / name)
            assert img.ndim == 3 and min(img.shape[:2]) > 100
            assert np.ptp(img[..., :3]) > 0.5          # drawn, not blank

    def test_weight(self, tmp_path, capsys) -> None:
        w = np.arange(1, 10, dtype=float).reshape(1, 1, 3, 3)
        np.save(tmp_path / "w.npy", w)
        assert main(["checkerboard", "--weight", str(tmp_path / "w.npy"), "--stride", "2"]) == 0
        out = capsys.readouterr().out
        assert "c_out=0: [20. 10. 10.  5.]  spread 15" in out

    def test_demo(self, tmp_path) -> None:
        from tconv.cli import checkerboard

        paths = checkerboard.demo(tmp_path, lambda msg: None)
        assert [p.name for p in paths] == ["overlap_table.txt", "overlap_maps.png",
                                           "upsamplers.png"]
        assert all(p.parent == tmp_path / "checkerboard" and p.stat().st_size > 0
                   for p in paths)

    def test_help(self, capsys) -> None:
        with pytest.raises(SystemExit):
            main(["checkerboard", "--help"])
        assert "examples:\n  tconv checkerboard" in capsys.readouterr().out

    def test_epilog_runs(self, tmp_path, monkeypatch, capsys) -> None:
        """Every example of the --help epilog runs and exits 0 (in a scratch folder)."""
        import shlex

        from tconv.cli import checkerboard

        monkeypatch.chdir(tmp_path)
        np.save(tmp_path / "w.npy", np.ones((2, 3, 4, 4)))
        lines = [ln.strip() for ln in checkerboard.EPILOG.splitlines()
                 if ln.startswith("  tconv")]
        for line in lines:
            assert main(shlex.split(line)[1:]) == 0, line
        assert (tmp_path / "cb-figures" / "upsamplers.png").exists()
        assert "spread 0" in capsys.readouterr().out     # k=4, s=2 ones: equal phase sums
