"""``tconv figures`` and ``tconv explore``: what they write, checked for content."""

from __future__ import annotations

import re
import threading
import urllib.request

import numpy as np
import pytest

from tconv.cli import main

mpl = pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")


def test_figures_help(capsys):
    with pytest.raises(SystemExit):
        main(["figures", "--help"])
    out = capsys.readouterr().out
    assert "examples:" in out and "tconv figures --out figs" in out


def test_figures_writes_the_set(tmp_path, capsys):
    """3x3 input, 2x2 kernel: conv 3x3 -> 2x2 and conv_transpose 2x2 -> 3x3."""
    out = tmp_path / "figs"
    assert main(["figures", "--out", str(out), "--input-size", "3", "--kernel-size", "2",
                 "--dpi", "40"]) == 0
    names = {p.name for p in out.iterdir()}
    expected = {f"conv_{n}.png" for n in ("operation", "kernel", "receptive_field",
                                           "footprint", "matrix", "matrix_transposed", "row",
                                           "flatten", "product", "reshape")}
    expected |= {f"conv_transpose_{n}.png" for n in ("operation", "kernel", "receptive_field",
                                                      "footprint", "matrix", "row", "product",
                                                      "flatten",
                                                      "reshape", "zero_insertion",
                                                      "low_to_high")}
    expected |= {"conv_sliding.gif", "conv_transpose_scatter.gif",
                 "conv_transpose_zero_insertion.gif", "figures.html"}
    assert names == expected
    # one GIF frame per step: 4 conv outputs, 4 transposed inputs, 9 transposed outputs
    for name, frames in (("conv_sliding.gif", 4), ("conv_transpose_scatter.gif", 4),
                         ("conv_transpose_zero_insertion.gif", 9)):
        assert Image.open(out / name).n_frames == frames
    for png in out.glob("*.png"):
        im = Image.open(png)
        assert im.width > 40 and im.height > 40
        assert len(np.unique(np.asarray(im.convert("L")))) > 5      # not blank
    html = (out / "figures.html").read_text()
    srcs = re.findall(r"<img src='([^']+)'", html)
    assert sorted(srcs) == sorted(names - {"figures.html"})
    assert "conv: input 3x3, kernel 2x2" in html


def test_figures_invalid_config(tmp_path, capsys):
    """The library's message, through the CLI's error path."""
    rc = main(["figures", "--out", str(tmp_path), "--input-size", "2", "--kernel-size", "3",
               "--no-gif"])
    assert rc == 1
    err = capsys.readouterr().err
    assert "conv_output_size: the dilated kernel dilation*(kernel-1)+1=(3, 3) does not fit" \
        in err


def test_explore_writes_offline_page(tmp_path, capsys):
    path = tmp_path / "page.html"
    assert main(["explore", "--out", str(path), "--transposed", "--input-size", "3,3",
                 "--stride", "2", "--padding", "1"]) == 0
    page = path.read_text()
    assert re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page) is None   # no CDN
    assert "<link" not in page and "<script src" not in page and "@import" not in page
    assert 'id="f-input_size" data-key="input_size" value="3, 3"' in page
    assert 'id="mode-transpose" value="conv_transpose" checked' in page


def test_explore_serve(tmp_path):
    from tconv.cli.explore import make_server

    server = make_server("<html>hello tconv</html>", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.read().decode() == "<html>hello tconv</html>"
    finally:
        server.shutdown()
        server.server_close()


def test_explore_demo(tmp_path):
    from tconv.cli import explore

    paths = explore.demo(tmp_path, lambda m: None)
    assert [p.name for p in paths] == ["explorer.html"]
    assert "const VECTORS" in paths[0].read_text()


def test_figures_demo(tmp_path, monkeypatch):
    """The demo hook: the article's set plus a strided one, listed in figures.html.

    Image writing is replaced by stubs that record what was drawn (image content is tested
    in test_figures_writes_the_set and test_animate.py), to keep this test fast.
    """
    from tconv.cli import figures

    drawn = {}

    def png(path, draw, dpi, heatmap=None):
        drawn[path.name] = draw
        Image.new("RGB", (8, 8)).save(path)
        return path

    def gif(path, g, view, dpi):
        drawn[path.name] = (g, view)
        Image.new("RGB", (8, 8)).save(path)
        return path

    monkeypatch.setattr(figures, "_save_png", png)
    monkeypatch.setattr(figures, "_save_gif", gif)
    paths = figures.demo(tmp_path, lambda m: None)
    assert all(p.exists() for p in paths)
    rel = {p.relative_to(tmp_path / "figures").as_posix() for p in paths}
    assert {"conv_operation.png", "conv_sliding.gif", "conv_transpose_scatter.gif",
            "strided/conv_transpose_zero_insertion.gif"} <= rel
    html = (tmp_path / "figures" / "figures.html").read_text()
    assert set(re.findall(r"<img src='([^']+)'", html)) == rel
    assert "conv: input 4x4, kernel 3x3" in html
    # the article's own numbers: 4x4 input, 3x3 kernel -> 2x2 output 122 148 / 126 134
    g = drawn["conv_operation.png"].args[0]
    np.testing.assert_array_equal(g.y, [[122, 148], [126, 134]])
    g, view = drawn["conv_transpose_zero_insertion.gif"]
    assert view == "zero_insertion" and g.stride == (2, 2) and g.out_size == (3, 3)
