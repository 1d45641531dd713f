"""``tconv figures`` and ``tconv explore``: arguments out of range are argparse errors (usage
line, exit status 2) raised before anything is computed or written."""

from __future__ import annotations

import pytest

from tconv.cli import main


def _usage_error(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(f"usage: tconv {argv[0]}") and "Traceback" not in err
    return err


@pytest.mark.parametrize("args,rule", [
    (["--input-size", "100000"], "argument --input-size: input size '100000' must be in [1, 32]"),
    (["--input-size", "0"], "input size '0' must be in [1, 32]"),
    (["--input-size=-1,4"], "input size '-1,4' must be in [1, 32]"),
    (["--input-size", "3,4,5"], "'3,4,5': expected N or H,W"),
    (["--kernel-size", "33"], "kernel size '33' must be in [1, 32]"),
    (["--stride", "1000000000"], "stride '1000000000' must be in [1, 32]"),
    (["--padding", "-1"], "padding '-1' must be in [0, 32]"),
    (["--dilation", "0"], "dilation '0' must be in [1, 32]"),
    (["--input-size", "same"], "input size 'same': expected N or H,W (integers)"),
    (["--stride", "2.5"], "stride '2.5': expected N or H,W (integers)"),
    (["--dpi", "100000"], "argument --dpi: 100000 must be in [10, 600]"),
    (["--input-size", "32", "--stride", "3", "--mode", "transposed"],
     "a grid of 96x96 = 9216 cells is too large to draw (at most 4096)"),
])
def test_figures_sizes(tmp_path, capsys, args, rule):
    err = _usage_error(capsys, ["figures", "--out", str(tmp_path / "f"), *args])
    assert rule in err
    assert not (tmp_path / "f").exists()


@pytest.mark.parametrize("port,rule", [("99999", "99999 must be in [0, 65535]"),
                                       ("-1", "-1 must be in [0, 65535]"),
                                       ("http", "'http' is not an integer")])
def test_explore_port(capsys, port, rule):
    assert rule in _usage_error(capsys, ["explore", "--serve", "--port", port])


def test_explore_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "page.html"
    assert main(["explore", "--out", str(out)]) == 0
    out.write_text("mine")
    err = _usage_error(capsys, ["explore", "--out", str(out), "--transposed"])
    assert f"argument --out: {out} exists; pass --overwrite" in err
    assert out.read_text() == "mine"
    assert main(["explore", "--out", str(out), "--overwrite", "--transposed"]) == 0
    assert "const VECTORS" in out.read_text()
    err = _usage_error(capsys, ["explore", "--out", str(tmp_path), "--overwrite"])
    assert "is a folder" in err


def test_explore_default_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["explore"]) == 0
    assert (tmp_path / "tconv-explorer.html").exists()
    assert "tconv-explorer.html exists" in _usage_error(capsys, ["explore"])
