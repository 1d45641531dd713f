"""What ``tconv`` writes: every subcommand that writes refuses to replace an existing output
without ``--overwrite`` (before any work, leaving the file as it was), and a subcommand that
needs an extra that is not installed says which one to install, in one line, having written
nothing."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tconv.cli import main

SENTINEL = b"an earlier result that must survive\n"


def _png(path: pathlib.Path) -> pathlib.Path:
    from tconv import io as tio

    tio.write_image(path, np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    return path


# (command line, the existing file it would replace); {t} is the test's folder
WRITERS = {
    "figures": (["figures", "--out", "{t}/figs"], "figs/figures.html"),
    "explore": (["explore", "--out", "{t}/page.html"], "page.html"),
    "checkerboard": (["checkerboard", "--out", "{t}/cb"], "cb/overlap_maps.png"),
    "demo": (["demo", "--out", "{t}/tour", "--only", "explain"], "tour/index.html"),
    "dcgan sample": (["dcgan", "sample", "--checkpoint", "{t}/ck.pt", "--out", "{t}/s.png"],
                     "s.png"),
    "segment eval": (["segment", "eval", "--checkpoint", "{t}/ck.pt", "--out", "{t}/p.png"],
                     "p.png"),
    "eval-upscaler": (["eval-upscaler", "--out", "{t}/ev", "--no-bench", "--scales", "2"],
                      "ev/report.md"),
    "bench": (["bench", "--json", "{t}/b.json", "--shapes", "a1"], "b.json"),
    "upscale": (["upscale", "{t}/in.png", "-o", "{t}/out.png", "--scale", "2", "--method",
                 "nearest"], "out.png"),
    "train-upscaler": (["train-upscaler", "--scale", "2", "--out", "{t}/tu", "--steps", "1"],
                       "tu/checkpoint.pt"),
    "dcgan train": (["dcgan", "train", "--out", "{t}/dt", "--steps", "1"], "dt/checkpoint.pt"),
    "segment train": (["segment", "train", "--out", "{t}/st", "--steps", "1"],
                      "st/checkpoint.pt"),
    # a comparison whose last variant holds a run is refused before the first one trains
    "dcgan compare": (["dcgan", "compare", "--out", "{t}/dc", "--steps", "1", "--variants",
                       "transposed", "resize_conv"], "dc/resize_conv/checkpoint.pt"),
    "segment compare": (["segment", "compare", "--out", "{t}/sc", "--steps", "1",
                         "--variants", "bilinear", "transposed"], "sc/transposed/checkpoint.pt"),
    "segment compare report": (["segment", "compare", "--out", "{t}/sr", "--steps", "1"],
                               "sr/report.md"),
}

TORCH_EXTRA = {"dcgan train", "segment train", "train-upscaler", "dcgan compare",
               "segment compare", "segment compare report"}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_existing_output_is_not_replaced(name: str, tmp_path: pathlib.Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    if name in TORCH_EXTRA:
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    argv, target = WRITERS[name]
    argv = [a.format(t=tmp_path) for a in argv]
    (tmp_path / "ck.pt").write_bytes(b"a checkpoint the command must not need to read")
    _png(tmp_path / "in.png")
    dst = tmp_path / target
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(SENTINEL)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code in (1, 2), (code, err)
    assert "Traceback" not in err and "--overwrite" in err, err
    assert dst.read_bytes() == SENTINEL
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("argv", [["explore", "--out", "{t}/page.html", "--overwrite"],
                                  ["demo", "--out", "{t}/tour", "--only", "explain",
                                   "--overwrite"]])
def test_overwrite_replaces(argv: list[str], tmp_path: pathlib.Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(t=tmp_path) for a in argv]
    dst = tmp_path / ("page.html" if argv[0] == "explore" else "tour/index.html")
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(SENTINEL)
    assert main(argv) == 0
    assert dst.read_bytes() != SENTINEL and dst.stat().st_size > 1000


def test_output_below_a_file_is_refused_before_work(tmp_path: pathlib.Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A --out whose parent is a file fails at once, for every writer, in one line."""
    (tmp_path / "f").write_text("x")
    for argv, _ in WRITERS.values():
        line = [a.format(t=tmp_path / "f") if "{t}/ck.pt" not in a and "{t}/in.png" not in a
                else a.format(t=tmp_path) for a in argv]
        if "{t}/in.png" in argv:
            _png(tmp_path / "in.png")
        (tmp_path / "ck.pt").write_bytes(b"x")
        try:
            code = main(line)
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code in (1, 2) and len(lines) == 1 and "Traceback" not in err, (line, err)
    assert (tmp_path / "f").read_text() == "x"


DRIVER = r"""
import contextlib, io, json, sys
for name in json.loads(sys.argv[2]):
    sys.modules[name] = None          # as if the extra were not installed
from tconv.cli import main
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
        except BaseException as exc:
            rc = "escaped " + type(exc).__name__
    print(json.dumps({"argv": argv, "rc": rc, "err": err.getvalue()}))
"""

NEEDS = {
    "torch": [
        ["dcgan", "train", "--out", "d1", "--steps", "1"],
        ["dcgan", "sample", "--checkpoint", "ck.pt", "--out", "s.png"],
        ["dcgan", "compare", "--out", "d2", "--steps", "1"],
        ["segment", "train", "--out", "s1", "--steps", "1"],
        ["segment", "eval", "--checkpoint", "ck.pt", "--out", "p.png"],
        ["segment", "compare", "--out", "s2", "--steps", "1"],
        ["train-upscaler", "--scale", "2", "--out", "t1", "--steps", "1"],
        ["upscale", "in.png", "-o", "o1", "--engine", "torch", "--scale", "2"],
        ["eval-upscaler", "--engine", "torch", "--out", "e1", "--no-bench"],
    ],
    "matplotlib": [
        ["figures", "--out", "f1"],
        ["checkerboard", "--out", "c1"],
    ],
}


@pytest.mark.parametrize("extra", sorted(NEEDS))
def test_missing_extra_gives_install_hint(extra: str, tmp_path: pathlib.Path) -> None:
    """Every subcommand that needs torch (or matplotlib) names the pip extra that installs
    it, in one line with exit status 1, and writes nothing."""
    (tmp_path / "ck.pt").write_bytes(b"x")
    _png(tmp_path / "in.png")
    before = sorted(os.listdir(tmp_path))
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[2] / "src")}
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps(NEEDS[extra]),
                           json.dumps([extra])], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    assert len(results) == len(NEEDS[extra])
    hint = {"torch": 'pip install "tconv[torch]"', "matplotlib": 'pip install "tconv[viz]"'}
    for res in results:
        lines = [ln for ln in res["err"].splitlines() if ln.strip()]
        assert res["rc"] == 1 and len(lines) == 1, res
        assert hint[extra] in lines[0] and lines[0].startswith("tconv "), res
    assert sorted(os.listdir(tmp_path)) == before


def test_reader_leaving_the_pipe_is_quiet(tmp_path: pathlib.Path) -> None:
    """``tconv shapes solve ... | head -1``: no BrokenPipeError traceback, nothing on stderr."""
    env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).resolve().parents[2] / "src")}
    proc = subprocess.Popen([sys.executable, "-m", "tconv", "shapes", "solve", "--input", "4",
                             "--output", "64", "--kernels", "1-64", "--strides", "1-64",
                             "--limit", "100000"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline()
    proc.stdout.close()                 # the reader leaves after one line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 1)
    assert b"configurations map" in first and err == "", err


def test_ctrl_c_is_one_line(monkeypatch: pytest.MonkeyPatch,
                            capsys: pytest.CaptureFixture[str]) -> None:
    import tconv.cli.explain as explain

    def interrupted(*_a: object, **_k: object) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(explain, "walkthrough", interrupted)
    assert main(["explain"]) == 130
    err = capsys.readouterr().err
    assert err == "tconv explain: interrupted\n"


@pytest.mark.parametrize("text", [b"x = 1\n", b"\x89PNG\x00\x01", b"def main(:\n"])
def test_bench_suite_that_is_not_the_suite(text: bytes, tmp_path: pathlib.Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``bench --suite FILE`` with a file that is not the benchmark script: one line."""
    (tmp_path / "s.py").write_bytes(text)
    assert main(["bench", "--suite", str(tmp_path / "s.py"), "--rounds", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tconv bench: error: --suite") and err.count("\n") == 1, err


@pytest.mark.parametrize("kind", ["text", "png", "truncated", "objects"])
@pytest.mark.parametrize("command", [["dcgan", "sample"], ["segment", "eval"]])
def test_bad_checkpoint_is_one_plain_line(kind: str, command: list[str], tmp_path: pathlib.Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A file that is not a checkpoint: one line in tconv's words (torch's advice to load
    with ``weights_only=False``, which would run the file's code, is not passed on)."""
    torch = pytest.importorskip("torch")
    ck = tmp_path / "c.pt"
    if kind == "text":
        ck.write_text("not a checkpoint\n")
    elif kind == "png":
        ck.write_bytes(_png(tmp_path / "p.png").read_bytes())
    else:
        torch.save({"a": pathlib.Path("x") if kind == "objects" else torch.ones(2)}, ck)
        if kind == "truncated":
            ck.write_bytes(ck.read_bytes()[:200])
    code = main([*command, "--checkpoint", str(ck), "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "weights_only" not in err and "c.pt" in err, err
    assert not (tmp_path / "o.png").exists()
