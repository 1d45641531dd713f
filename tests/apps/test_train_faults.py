"""Faults during training: SIGTERM, Ctrl-C (SIGINT) and kill -9 at random moments of every
training command. Afterwards every output is whole or absent (checkpoints load, sample
PNGs decode, weights verify), a signalled run says so in one line without a traceback, and
the resumed run equals the uninterrupted one bit for bit."""

from __future__ import annotations

import os
import pathlib
import signal
import time

import numpy as np
import pytest
from _spawn import spawn, wait_for_step

from tconv.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
pytest.importorskip("skimage")


STEPS = 12


@pytest.fixture(scope="module")
def refs(tmp_path_factory, data):
    """Uninterrupted runs, one per command, made when first asked for."""
    made: dict[str, pathlib.Path] = {}

    def get(cmd: str) -> pathlib.Path:
        if cmd not in made:
            out = tmp_path_factory.mktemp("ref") / cmd
            assert main(_argv(cmd, data, out, STEPS)) == 0
            made[cmd] = out
        return made[cmd]

    return get


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from _train_folders import photo_folder, seg_folders

    root = tmp_path_factory.mktemp("data")
    return {"photos": photo_folder(root / "photos", bad=False),
            "seg": seg_folders(root / "seg", n=6, size=16)}


def _argv(cmd: str, data, out: pathlib.Path, steps: int) -> list[str]:
    common = ["--no-progress", "--device", "cpu", "--out", str(out), "--steps", str(steps)]
    if cmd == "upscaler":
        return ["train-upscaler", "--scale", "2", "--data", str(data["photos"]), "--batch",
                "2", "--patch", "8", "--eval-every", "0", "--smooth-frac", "0",
                "--checkpoint-every", "2", *common]
    if cmd == "dcgan":
        return ["dcgan", "train", "--data", str(data["photos"]), "--image-size", "8",
                "--latent-dim", "4", "--g-features", "4", "--d-features", "4",
                "--batch-size", "2", "--sample-every", "2", "--checkpoint-every", "2",
                *common]
    images, masks = data["seg"]
    return ["segment", "train", "--images", str(images), "--masks", str(masks), "--size",
            "16", "--width", "4", "--depth", "1", "--batch-size", "2",
            "--checkpoint-every", "2", *common]


def _assert_whole_or_absent(out: pathlib.Path) -> None:
    """Every file a run leaves is complete: the checkpoint loads, each PNG decodes, weights
    match their manifest. Temporary files are hidden (``.name.*.part``)."""
    from PIL import Image

    from tconv import io as tio
    from tconv.apps._train import load_checkpoint

    for f in out.rglob("*"):
        if f.is_dir() or f.name.startswith("."):
            continue
        if f.name == "checkpoint.pt":
            assert int(load_checkpoint(f)["step"]) >= 1
        elif f.suffix == ".png":
            with Image.open(f) as im:
                im.load()
        elif f.name == "weights.npz":
            tio.load_weights(f)
        elif f.name != "manifest.json":
            raise AssertionError(f"unexpected file {f}")


def _weights(out: pathlib.Path) -> dict:
    st = torch.load(out / "checkpoint.pt", weights_only=True)
    nets = {k: v for k, v in st.items() if k in ("model", "generator", "discriminator")}
    return {f"{n}.{k}": t for n, sd in nets.items() for k, t in sd.items()}


# (command, signal, seed of the moment): each command meets each way of being stopped;
# `make test` runs one signal per command (plus SIGINT twice below), `make test-slow` all
CASES = [("upscaler", signal.SIGTERM, 1),
         pytest.param("upscaler", signal.SIGKILL, 2, marks=pytest.mark.slow),
         ("dcgan", signal.SIGKILL, 3),
         pytest.param("dcgan", signal.SIGINT, 4, marks=pytest.mark.slow),
         pytest.param("segment", signal.SIGTERM, 5, marks=pytest.mark.slow),
         ("segment", signal.SIGKILL, 6)]


@pytest.mark.parametrize("cmd,sig,seed", CASES)
def test_stop_and_resume(cmd, sig, seed, data, refs, tmp_path):
    steps = STEPS
    run, ref = tmp_path / "run", refs(cmd)
    log = tmp_path / "child.log"
    proc = spawn(_argv(cmd, data, run, steps), log)
    try:
        wait_for_step(run / "checkpoint.pt", 1, [proc])
        time.sleep(float(np.random.default_rng(seed).uniform(0.0, 0.05)))
        if proc.is_alive() and proc.pid is not None:
            os.kill(proc.pid, sig)
        proc.join(60)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)
    text = log.read_text()
    assert "Traceback" not in text, text
    _assert_whole_or_absent(run)
    if proc.exitcode != 0:                  # 0: the run had finished before the signal
        stopped = int(torch.load(run / "checkpoint.pt", weights_only=True)["step"])
        if sig == signal.SIGKILL:
            assert proc.exitcode == -signal.SIGKILL
        else:
            assert proc.exitcode == 128 + sig, text
            name = signal.Signals(sig).name
            assert f"stopped by {name} after step {stopped}" in text, text
            assert "continue with --resume" in text
        # the signal may land after the last step, while the run exports its results
        assert stopped <= steps
        if stopped < steps:
            assert not (run / "weights.npz").exists()  # an unfinished run exports nothing
        assert main([*_argv(cmd, data, run, steps), "--resume"]) == 0
    a, b = _weights(run), _weights(ref)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_second_signal_stops_at_once(data, tmp_path):
    """A second Ctrl-C does not wait for the step to end; what is on disk is whole."""
    log = tmp_path / "child.log"
    proc = spawn(_argv("segment", data, tmp_path / "run", 10_000), log)
    try:
        wait_for_step(tmp_path / "run" / "checkpoint.pt", 1, [proc])
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGINT)
        os.kill(proc.pid, signal.SIGINT)
        proc.join(60)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(10)
    assert proc.exitcode == 130
    assert "Traceback" not in log.read_text()
    _assert_whole_or_absent(tmp_path / "run")
