"""Every example printed by ``tconv ... --help`` runs as written.

Each subcommand's examples run in order in a fresh folder that holds only ``photo.png``
(later examples may use what earlier ones wrote, as a reader following the help would). Long
runs get a small override (fewer steps, fewer samples, one benchmark shape); ``OVERRIDES``
and ``APPEND`` list every one, and nothing else is changed. One child process per subcommand
runs its examples: ``tconv ...`` lines through ``tconv.cli.main`` (what the ``tconv`` script
calls), anything else through bash. The help text itself must be plain text: no
reStructuredText markup.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from tconv.cli import build_parser

BIN = Path(sys.executable).parent

#: (pattern, replacement) applied to an example before it runs: the same command, made short.
#: Step counts shrink 100-fold (keeping their order, so a --resume still has steps left).
OVERRIDES: tuple[tuple[str, str], ...] = (
    (r"--steps (\d+)", "--steps {steps}"),
    (r"--minutes \d+(\.\d+)?", "--minutes 0.001"),   # stop after the first step, checkpointed
    (r"--n \d+", "--n 4"),
    (r"--rounds \d+", "--rounds 1"),
    (r"--shapes [\w,]+", "--shapes c2"),
    (r"--port \d+", "--port {port}"),
)
#: arguments appended to an example of a command when it does not name them itself
APPEND: dict[str, str] = {
    "tconv bench": "--shapes c2 --algorithms auto --rounds 1 --repeat 1 --no-backward "
                   "--no-memory",
    "tconv eval-upscaler": "--scales 2 --heads transposed --no-bench",
    "tconv train-upscaler": "--batch 4 --eval-every 0",
    "tconv demo": "--only explain,shapes",
    "tconv figures": "--dpi 40",
    "tconv dcgan train": "--batch-size 8",
    "tconv dcgan compare": "--batch-size 8 --n-eval 8",
    "tconv segment train": "--size 32 --n-train 16",
    "tconv segment compare": "--size 32 --n-train 16 --n-test 8",
    "tconv segment eval": "--n-test 8",
}

#: runs a group's examples in one child process; prints one JSON line per example
DRIVER = r"""
import contextlib, io, json, shlex, subprocess, sys
from tconv.cli import main
for cmd in json.loads(sys.argv[1]):
    words = shlex.split(cmd)
    if words[0] == "tconv" and not any(c in cmd for c in "|;&<>$`"):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(words[1:])
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        res = {"rc": rc, "out": out.getvalue()[-2000:], "err": err.getvalue()[-3000:]}
    else:
        done = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL)
        res = {"rc": done.returncode, "out": done.stdout[-2000:], "err": done.stderr[-3000:]}
    print(json.dumps(dict(res, cmd=cmd)), flush=True)
    if res["rc"] != 0:
        break
"""


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...]):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _walk(sub, path + (name,))


PARSERS = list(_walk(build_parser(), ("tconv",)))


def _examples(parser: argparse.ArgumentParser) -> list[str]:
    epilog = parser.epilog or ""
    if "examples:" not in epilog:
        return []
    lines = epilog.split("examples:", 1)[1].splitlines()
    return [ln.strip() for ln in lines if ln.strip()]


def _groups() -> dict[str, list[str]]:
    """Examples by top-level subcommand, in help order, each example once."""
    groups: dict[str, list[str]] = {}
    seen: set[str] = set()
    for path, parser in PARSERS:
        key = path[1] if len(path) > 1 else "tconv"
        for ex in _examples(parser):
            if ex not in seen:
                seen.add(ex)
                groups.setdefault(key, []).append(ex)
    return groups


GROUPS = _groups()


def _strip_comment(example: str) -> str:
    return re.sub(r"\s+#\s.*$", "", example)


def _shortened(example: str, port: int) -> str:
    cmd = _strip_comment(example)
    for pat, rep in OVERRIDES:
        cmd = re.sub(pat, lambda m, rep=rep: rep.format(
            port=port, steps=max(2, int(m.group(1)) // 100) if "{steps}" in rep else 0), cmd)
    for prefix, extra in APPEND.items():
        if cmd.startswith(prefix + " ") or cmd == prefix:
            for flag in re.findall(r"--[\w-]+(?: [^-\s][^\s]*)?", extra):
                if flag.split()[0] not in cmd:
                    cmd += " " + flag
    return cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _photo(folder: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:96, 0:128]
    base = np.stack([rows * 2, cols * 1.5, 128 + 60 * np.sin(rows / 7.0) * np.cos(cols / 9.0)], -1)
    img = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    Image.fromarray(img).save(folder / "photo.png")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)
    env.setdefault("TQDM_DISABLE", "1")
    return env


def test_every_parser_has_runnable_examples():
    assert set(GROUPS) >= {"tconv"} | {p[1] for p, _ in PARSERS if len(p) == 2}
    for path, parser in PARSERS:
        if len(path) == 2:     # every subcommand ends with examples naming itself
            examples = _examples(parser)
            assert examples, path
            assert any(_strip_comment(e).startswith(" ".join(path)) for e in examples), path


@pytest.mark.parametrize("path", [" ".join(p) for p, _ in PARSERS])
def test_help_is_plain_text(path):
    parser = dict((" ".join(p), q) for p, q in PARSERS)[path]
    text = parser.format_help()
    for markup in ("``", ":func:", ":class:", ":meth:", ":mod:", ".. ", "::\n"):
        assert markup not in text, (path, markup)
    for note in ("Thin:", " hook", "TODO", "XXX"):
        assert note not in text, (path, note)


def test_demo_help_tells_what_it_trains():
    demo = dict((" ".join(p), q) for p, q in PARSERS)["tconv demo"].format_help()
    assert "nothing is trained" not in demo
    assert "training runs" in demo and "DCGAN" in demo


def test_overrides_only_shorten():
    assert _shortened("tconv dcgan sample --n 64 --out d  # a comment", 1) == \
        "tconv dcgan sample --n 4 --out d"
    assert _shortened("tconv segment train --steps 400 --resume", 1) == \
        "tconv segment train --steps 4 --resume --size 32 --n-train 16"
    assert _shortened("tconv bench --shapes a1,c2 --rounds 5", 1) == \
        "tconv bench --shapes c2 --rounds 1 --algorithms auto --repeat 1 --no-backward " \
        "--no-memory"


#: groups whose examples are end-to-end benchmark runs: `make test-slow` runs them
SLOW_GROUPS = {"bench"}


@pytest.mark.parametrize("group", [pytest.param(g, marks=pytest.mark.slow) if g in SLOW_GROUPS
                                   else g for g in sorted(GROUPS)])
def test_examples_run(group, tmp_path):
    pytest.importorskip("PIL")
    _photo(tmp_path)
    env = _env()
    cmds, served = [], []
    for example in GROUPS[group]:
        port = _free_port()
        cmd = _shortened(example, port)
        (served if "--serve" in shlex.split(cmd) else cmds).append((cmd, port))
    done = subprocess.run([sys.executable, "-c", DRIVER, json.dumps([c for c, _ in cmds])],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    results = [json.loads(ln) for ln in done.stdout.splitlines() if ln.startswith("{")]
    for res in results:
        assert res["rc"] == 0, res
    assert done.returncode == 0, done.stderr[-3000:]
    assert [r["cmd"] for r in results] == [c for c, _ in cmds]
    for cmd, port in served:
        _check_server(cmd, port, tmp_path, env)


def _check_server(cmd: str, port: int, cwd: Path, env: dict[str, str]) -> None:
    proc = subprocess.Popen(["bash", "-c", "exec " + cmd], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with opener.open(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    assert r.status == 200 and b"<html" in r.read(2000).lower()
                    return
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((cmd, proc.poll(), proc.stdout.read()
                                          if proc.poll() is not None else "")) from None
                time.sleep(0.3)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
