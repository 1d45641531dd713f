"""Faults during a folder up-scale, and the same job split over processes.

* SIGTERM, Ctrl-C (SIGINT) and ``kill -9`` at seeded random moments of ``tconv upscale
  DIR -o OUT`` (a real child process): every output present is complete (bit for bit the
  uninterrupted run's file), no temporary file survives a catchable signal, and the same
  command with ``--skip-existing`` completes the set to exactly the uninterrupted run.
* Two processes started the way ``torchrun`` starts them (``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``): each file is written by exactly one of them, and the union equals the
  1-process run file for file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("PIL")

from tconv import io as tio  # noqa: E402
from tconv.apps.upscale.batch import Job, shard  # noqa: E402
from tconv.cli import main  # noqa: E402

N_FILES = 6


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Input folder and the uninterrupted 1-process run's outputs (name -> bytes)."""
    root = tmp_path_factory.mktemp("faults")
    src = root / "in"
    src.mkdir()
    rng = np.random.default_rng(5)
    for i in range(N_FILES):
        shape = (int(rng.integers(40, 56)), int(rng.integers(40, 56)), 3)
        dtype = np.uint16 if i % 3 == 0 else np.uint8
        img = rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
        tio.write_image(src / f"img{i:02d}.png", img)
    ref = root / "ref"
    assert main(["upscale", str(src), "-o", str(ref), "--scale", "2", "--tile", "16"]) == 0
    return src, {p.name: p.read_bytes() for p in ref.iterdir()}


def _command(src, out, *extra):
    # small tiles: each file takes many model calls, so a signal lands inside the run
    return [sys.executable, "-m", "tconv", "upscale", str(src), "-o", str(out),
            "--scale", "2", "--tile", "16", *extra]


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return {**env, **extra}


def _check_complete_or_absent(out, ref):
    for p in out.iterdir():
        if p.name.endswith(".part"):
            continue
        assert p.name in ref and p.read_bytes() == ref[p.name], p.name


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130),
                                      (signal.SIGKILL, -9)], ids=["term", "int", "kill9"])
def test_signal_then_resume(job, tmp_path, sig, code):
    src, ref = job
    rng = np.random.default_rng(int(sig))               # the moment: seeded per signal
    out = tmp_path / "out"
    proc = subprocess.Popen(_command(src, out), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.monotonic() + 120
    while not (out.is_dir() and any(p.suffix == ".png" for p in out.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    time.sleep(float(rng.uniform(0.0, 0.3)))            # somewhere in the middle of the run
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode in (code, 0), err
    if proc.returncode == code and sig != signal.SIGKILL:
        assert "Traceback" not in err and "--skip-existing" in err
    done = sorted(p.name for p in out.iterdir() if p.suffix == ".png")
    assert 0 < len(done) <= N_FILES
    if sig != signal.SIGKILL:                         # unwound: its temp file removed
        assert not [p for p in out.iterdir() if p.name.endswith(".part")]
    _check_complete_or_absent(out, ref)
    # the same command with --skip-existing finishes the job; a kill -9's stale temp file
    # is removed by the run that writes its target
    assert main(["upscale", str(src), "-o", str(out), "--scale", "2", "--tile", "16",
                 "--skip-existing"]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == ref


def test_shard_is_a_partition():
    jobs = [Job(src=f"s{i}", dst=f"d{i}") for i in range(11)]   # type: ignore[arg-type]
    for world in (1, 2, 3, 5, 16):
        parts = [shard(jobs, r, world) for r in range(world)]
        indices = sorted(i for part in parts for i, _ in part)
        assert indices == list(range(11))


def test_torchrun_style_two_processes(job, tmp_path):
    src, ref = job
    out = tmp_path / "out"
    procs = [subprocess.Popen(_command(src, out), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env=_env(RANK=str(r), WORLD_SIZE="2", LOCAL_RANK=str(r)))
             for r in range(2)]
    written = []
    for p in procs:
        stdout, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        written.append({os.path.basename(line) for line in stdout.split()})
    assert not written[0] & written[1]                     # each file exactly once
    assert written[0] | written[1] == set(ref)
    assert written[0] == {f"img{i:02d}_x2.png" for i in range(0, N_FILES, 2)}
    assert {p.name: p.read_bytes() for p in out.iterdir()} == ref


def test_bad_rank_environment(job, tmp_path, monkeypatch, capsys):
    src, _ = job
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "2")
    rc = main(["upscale", str(src), "-o", str(tmp_path / "o"), "--scale", "2"])
    assert rc == 1 and "RANK=3" in capsys.readouterr().err


def test_initialised_process_group_takes_precedence(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    dist = torch.distributed
    if not dist.is_available():
        pytest.skip("torch built without torch.distributed")
    from tconv.apps.upscale.batch import _rank_world

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert _rank_world() == (1, 2)                       # torchrun's environment
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rdzv'}", rank=0,
                            world_size=1)
    try:
        assert _rank_world() == (0, 1)                   # the group, when there is one
    finally:
        dist.destroy_process_group()
