"""Every option of every training command is checked before any work, and a folder that
holds a run is never replaced silently (``tconv dcgan train``, ``tconv segment train``,
``tconv train-upscaler``); non-finite weights are never saved or loaded."""

from __future__ import annotations

import math

import pytest

from tconv.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")

TRAIN = {"dcgan": ["dcgan", "train"], "segment": ["segment", "train"],
         "upscaler": ["train-upscaler", "--scale", "2"]}

#: (command, option, bad value, words of the message); the rule, not the instance
BAD = [
    *[(cmd, "--steps", v, "integer >= 1") for cmd in TRAIN for v in ("0", "-5", "1.5", "x")],
    *[(cmd, opt, v, "integer in 1..65536") for cmd, opt in (("dcgan", "--batch-size"),
                                                           ("segment", "--batch-size"),
                                                           ("upscaler", "--batch"))
      for v in ("0", "-1", "65537", "1000000000")],
    *[(cmd, "--threads", v, "integer in 1..1024") for cmd in TRAIN
      for v in ("0", "-1", "1000000")],
    *[(cmd, "--seed", str(2**64), "integer in 0..9223372036854775806") for cmd in TRAIN],
    *[(cmd, "--checkpoint-every", "-1", "integer >= 0") for cmd in TRAIN],
    *[(cmd, "--seed", "-3", "integer in 0..") for cmd in TRAIN],
    *[(cmd, "--lr", v, "finite number > 0") for cmd in TRAIN
      for v in ("0", "-1e-3", "nan", "inf")],
    *[(cmd, "--device", v, "auto, cpu, cuda") for cmd in TRAIN for v in ("gpu", "cuda:-1",
                                                                       "CUDA")],
    ("dcgan", "--sample-every", "-1", "integer >= 0"),
    ("dcgan", "--beta1", "1", "finite number >= 0, < 1"),
    ("dcgan", "--beta1", "nan", "finite number"),
    ("dcgan", "--image-size", "4", "integer in 8..1024"),
    ("dcgan", "--image-size", "4096", "integer in 8..1024"),
    ("dcgan", "--latent-dim", "0", "integer in 1..8192"),
    ("segment", "--size", "0", "integer in 1..8192"),
    ("segment", "--size", "100000", "integer in 1..8192"),
    ("segment", "--n-train", "0", "integer in 1..10000000"),
    ("segment", "--num-classes", "1", "integer in 2..255"),
    ("segment", "--width", "0", "integer in 1..8192"),
    ("upscaler", "--eval-every", "-1", "integer >= 0"),
    ("upscaler", "--minutes", "-1", "finite number >= 0"),
    ("upscaler", "--minutes", "nan", "finite number >= 0"),
    ("upscaler", "--flat-weight", "nan", "finite number >= 0"),
    ("upscaler", "--flat-weight", "-inf", "finite number >= 0"),
    ("upscaler", "--flat-weight", "-1", "finite number >= 0"),
    ("upscaler", "--smooth-frac", "1", "finite number >= 0, < 1"),
    ("upscaler", "--skip-a", "inf", "finite number >= -1, <= 0"),
    ("upscaler", "--patch", "3", "integer in 4..1024"),
    ("upscaler", "--head-size", "-1", "integer in 0..64"),
]


@pytest.fixture(scope="module")
def parser():
    from tconv.cli import build_parser

    return build_parser()


class TestOptions:
    @pytest.mark.parametrize("cmd,option,value,rule", BAD)
    def test_exception(self, cmd, option, value, rule, parser, tmp_path, capsys):
        with pytest.raises(SystemExit) as exc:    # main() parses with this very parser
            parser.parse_args([*TRAIN[cmd], f"{option}={value}", "--out",
                               str(tmp_path / "run")])
        assert exc.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {option}: must be" in err and rule in err and repr(value) in err
        assert "Traceback" not in err
        assert not (tmp_path / "run").exists()          # refused before any work

    @pytest.mark.parametrize("cmd", sorted(TRAIN))
    def test_exception_resume_and_overwrite(self, cmd, tmp_path, capsys):
        with pytest.raises(SystemExit) as exc:
            main([*TRAIN[cmd], "--resume", "--overwrite", "--out", str(tmp_path)])
        assert exc.value.code == 2
        assert "not allowed with argument" in capsys.readouterr().err

    @pytest.mark.parametrize("cmd", sorted(TRAIN))
    def test_exception_amp_off_cuda(self, cmd, tmp_path, capsys):
        if torch.cuda.is_available():
            pytest.skip("a CUDA machine accepts --amp")
        code = main([*TRAIN[cmd], "--amp", "--device", "cpu", "--steps", "1",
                     "--out", str(tmp_path / "run")])
        assert code == 1
        err = capsys.readouterr().err
        assert "--amp (float16 mixed precision) needs a CUDA device" in err
        assert not (tmp_path / "run" / "checkpoint.pt").exists()

    @pytest.mark.parametrize("cmd", sorted(TRAIN))
    def test_exception_missing_device(self, cmd, tmp_path, capsys):
        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        assert main([*TRAIN[cmd], "--device", "cuda:3", "--steps", "1",
                     "--out", str(tmp_path / "run")]) == 1
        assert "torch sees no CUDA GPU" in capsys.readouterr().err


class TestRunFolder:
    @pytest.mark.parametrize("cmd", sorted(TRAIN))
    def test_exception_existing_run(self, cmd, tmp_path, capsys):
        """A folder holding a checkpoint is refused without --resume or --overwrite, and the
        checkpoint is left byte for byte as it was."""
        (tmp_path / "checkpoint.pt").write_bytes(b"an earlier run")
        assert main([*TRAIN[cmd], "--steps", "1", "--out", str(tmp_path)]) == 1
        err = capsys.readouterr().err
        assert "exists" in err and "--resume" in err and "--overwrite" in err
        assert (tmp_path / "checkpoint.pt").read_bytes() == b"an earlier run"

    def test_exception_out_is_a_file(self, tmp_path, capsys):
        f = tmp_path / "file"
        f.write_text("x")
        assert main(["dcgan", "train", "--steps", "1", "--out", str(f)]) == 1
        assert "is a file" in capsys.readouterr().err


class TestFiniteState:
    def test_exception_save(self, tmp_path):
        from tconv.apps._train import save_checkpoint

        good = {"model": {"w": torch.ones(2)}, "step": 1}
        save_checkpoint(tmp_path / "c.pt", good)
        before = (tmp_path / "c.pt").read_bytes()
        for bad in (math.nan, math.inf, -math.inf):
            w = torch.ones(3, dtype=torch.float64)
            w[1] = bad
            with pytest.raises(ValueError, match=r"model\.w holds NaN or infinite"):
                save_checkpoint(tmp_path / "c.pt", {"model": {"w": w}, "step": 2})
            assert (tmp_path / "c.pt").read_bytes() == before     # the good one is kept

    def test_exception_load(self, tmp_path):
        from tconv.apps._train import load_checkpoint

        torch.save({"opt": [{"m": torch.tensor([1.0, float("nan")])}]}, tmp_path / "c.pt")
        with pytest.raises(ValueError, match=r"opt\[0\]\.m holds NaN"):
            load_checkpoint(tmp_path / "c.pt")

    def test_exception_export(self, tmp_path):
        from tconv.apps.upscale.model import Upscaler, UpscalerConfig
        from tconv.apps.upscale.train import export_weights

        model = Upscaler(UpscalerConfig(scale=2, d=4, s=2, m=1))
        with torch.no_grad():
            next(model.parameters())[0] = float("nan")
        with pytest.raises(ValueError, match="NaN or infinite"):
            export_weights(model, tmp_path / "weights.npz")
        assert not (tmp_path / "weights.npz").exists()

    def test_exception_diverged_loss(self, tmp_path):
        """A loss that turns non-finite stops the run; the last good checkpoint stays."""
        from _train_folders import photo_folder

        from tconv.apps.upscale.model import UpscalerConfig
        from tconv.apps.upscale.train import TrainConfig, train

        data = photo_folder(tmp_path / "photos", bad=False)
        cfg = TrainConfig(model=UpscalerConfig(scale=2, d=4, s=2, m=1), out=tmp_path / "run",
                          steps=4, batch=2, patch=8, data=str(data), eval_every=0,
                          checkpoint_every=1, progress=False, lr_body=1e30, lr_head=1e30,
                          device="cpu")
        with pytest.raises(ValueError, match="training diverged"):
            train(cfg, log=lambda m: None)
        assert not (tmp_path / "run" / "weights.npz").exists()
        if (tmp_path / "run" / "checkpoint.pt").exists():
            from tconv.apps._train import load_checkpoint

            assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] >= 1


class TestConfigs:
    """The library's configs refuse what the CLI refuses (for API users)."""

    @pytest.mark.parametrize("kw,match", [
        ({"steps": 0}, "steps=0 must be >= 1"), ({"batch": -1}, "batch=-1 must be in 1..65536"),
        ({"minutes": -1.0}, "minutes=-1.0 must be a finite number >= 0"),
        ({"flat_weight": float("nan")}, "flat_weight=nan must be a finite number >= 0"),
        ({"eval_every": -1}, "eval_every=-1 must be >= 0"),
        ({"threads": 0}, "threads=0 must be in 1..1024"), ({"lr_body": 0.0}, "lr_body=0.0"),
        ({"steps": 2.0}, "steps=2.0 must be an integer")])
    def test_upscaler(self, kw, match):
        from tconv.apps.upscale.train import TrainConfig

        with pytest.raises((ValueError, TypeError), match=match):
            TrainConfig(**kw)

    @pytest.mark.parametrize("kw,match", [
        ({"steps": 0}, "steps=0"), ({"lr": float("inf")}, "lr=inf"),
        ({"beta1": 1.0}, "beta1=1.0"), ({"sample_every": -1}, "sample_every=-1")])
    def test_dcgan(self, kw, match):
        from tconv.apps.dcgan import TrainConfig

        with pytest.raises(ValueError, match=match):
            TrainConfig(**kw)

    @pytest.mark.parametrize("kw,match", [
        ({"batch_size": 0}, "batch_size=0"), ({"lr": -1.0}, "lr=-1.0"),
        ({"images": "x"}, "must be given together")])
    def test_segment(self, kw, match):
        from tconv.apps.segment import TrainConfig

        with pytest.raises(ValueError, match=match):
            TrainConfig(**kw)


def test_overwrite_starts_afresh(tmp_path):
    """--overwrite replaces a run: the new checkpoint is the new run's, not a resumed one."""
    from _train_folders import seg_folders

    images, masks = seg_folders(tmp_path / "d", n=5)
    base = ["segment", "train", "--images", str(images), "--masks", str(masks), "--size", "16",
            "--width", "4", "--depth", "1", "--batch-size", "2", "--no-progress",
            "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main([*base, "--steps", "3"]) == 0
    assert main([*base, "--steps", "2", "--seed", "1", "--overwrite"]) == 0
    from tconv.apps._train import load_checkpoint

    st = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert st["step"] == 2 and st["seed"] == 1 and len(st["history"]) == 2


class TestDevices:
    def test_cpu_helpers(self):
        from tconv.apps._devices import (
            autocast,
            check_amp,
            make_scaler,
            place,
            use_channels_last,
        )

        cpu = torch.device("cpu")
        check_amp(False, cpu)
        with pytest.raises(ValueError, match="needs a CUDA device; this run uses cpu"):
            check_amp(True, cpu, "dcgan train")
        assert make_scaler(cpu, False) is None and not use_channels_last(cpu, False)
        with autocast(cpu, False):
            assert torch.ones(1).dtype == torch.float32
        m = place(torch.nn.Conv2d(1, 1, 1), cpu)
        assert next(m.parameters()).device == cpu

    @pytest.mark.parametrize("spec", ["auto", "cpu", "cuda", "cuda:0", "cuda:12", "mps"])
    def test_spelling_accepted(self, spec):
        from tconv.cli._train_options import device_spec

        assert device_spec(spec) == spec

    def test_exception(self):
        from tconv.apps._devices import resolve_device

        with pytest.raises(ValueError, match="--device 'tpu' must be one of"):
            resolve_device("tpu")
        if not torch.cuda.is_available():
            with pytest.raises(ValueError, match="torch sees no CUDA GPU"):
                resolve_device("cuda")
        if not (torch.backends.mps.is_available()):
            with pytest.raises(ValueError, match="no MPS device"):
                resolve_device("mps")

    def test_checkpoint_is_loaded_to_the_cpu(self, tmp_path):
        """Checkpoints are read with map_location='cpu': a run saved anywhere resumes here."""
        from tconv.apps._train import load_checkpoint, save_checkpoint

        save_checkpoint(tmp_path / "c.pt", {"w": torch.ones(2)})
        assert load_checkpoint(tmp_path / "c.pt")["w"].device.type == "cpu"
