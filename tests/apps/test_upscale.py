"""The learned up-scaler: weights integrity, NumPy vs torch engines, tiling, colour handling,
deterministic resumable training, CLI error handling and no partial outputs.

References: torch (``F.interpolate``, the torch module itself), scikit-image's metrics, and
the research note's measured bicubic PSNR (astronaut x2: 31.70 dB).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("PIL")
pytest.importorskip("skimage")

from tconv import io as tio  # noqa: E402
from tconv.apps.upscale import infer  # noqa: E402
from tconv.apps.upscale.model import HEADS, UpscalerConfig, balance_head  # noqa: E402

SCALES = (2, 3, 4)


def _random_weights(tmp_path, cfg: UpscalerConfig, seed: int = 0):
    """A randomly initialised model (head scaled up so it matters) saved with a manifest."""
    torch = pytest.importorskip("torch")
    from tconv.apps.upscale.model import Upscaler
    from tconv.apps.upscale.train import export_weights

    torch.manual_seed(seed)
    m = Upscaler(cfg)
    with torch.no_grad():
        for p in m.head.parameters():
            p.normal_(0.0, 0.05)
    return export_weights(m, tmp_path / f"x{cfg.scale}_{cfg.head}.npz")


class TestShippedWeights:
    @pytest.mark.parametrize("scale", SCALES)
    def test_smoke(self, scale):
        arrays, meta = tio.load_weights(infer.weights_path(scale))     # hash checked
        cfg = UpscalerConfig(**meta["config"])
        assert cfg.scale == scale and cfg.head == "transposed" and cfg.skip
        n = sum(a.size for a in arrays.values())
        assert 10_000 < n < 16_000, n
        for key in ("command", "minutes", "machine"):
            assert meta["train"][key], key

    def test_exception_tampered(self, tmp_path):
        src = infer.weights_path(2)
        shutil.copy(src, tmp_path / src.name)
        shutil.copy(src.parent / "manifest.json", tmp_path / "manifest.json")
        data = bytearray((tmp_path / src.name).read_bytes())
        data[-100] ^= 0x40
        (tmp_path / src.name).write_bytes(bytes(data))
        with pytest.raises(ValueError, match="sha256"):
            infer.load_model(tmp_path / src.name, 2)


class TestBicubic:
    @pytest.mark.parametrize("scale", SCALES)
    def test_oracle(self, scale):
        torch = pytest.importorskip("torch")
        x = np.random.default_rng(scale).random((2, 9, 13))
        want = torch.nn.functional.interpolate(torch.from_numpy(x)[None], scale_factor=scale,
                                               mode="bicubic", align_corners=False)[0].numpy()
        np.testing.assert_allclose(infer.bicubic_upsample(x, scale), want, atol=1e-12)

    @pytest.mark.parametrize("scale", SCALES)
    @pytest.mark.parametrize("a", [-0.75, -0.5])
    def test_oracle_torch_skip(self, scale, a):
        """The training skip path: torch's interpolate at a = -0.75, the NumPy cubic at any a."""
        torch = pytest.importorskip("torch")
        from tconv.apps.upscale.model import cubic_upsample_torch

        x = torch.from_numpy(np.random.default_rng(scale).random((2, 1, 9, 13)))
        got = cubic_upsample_torch(x, scale, a)
        np.testing.assert_allclose(got.numpy()[:, 0], infer.bicubic_upsample(x.numpy()[:, 0],
                                                                             scale, a),
                                   atol=1e-12)
        if a == -0.75:
            want = torch.nn.functional.interpolate(x, scale_factor=scale, mode="bicubic",
                                                   align_corners=False)
            np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)

    def test_oracle_pil_cubic_interior(self):
        """a = -0.5 is PIL's bicubic: equal away from the borders (PIL renormalises there)."""
        from tconv.apps.upscale.data import resize

        x = np.random.default_rng(3).random((12, 14)) * 255
        got = infer.bicubic_upsample(x, 2, -0.5)
        want = resize(x, 24, 28, "bicubic")
        np.testing.assert_allclose(got[4:-4, 4:-4], want[4:-4, 4:-4], atol=2e-3)
        assert np.abs(got[4:-4, 4:-4] - infer.bicubic_upsample(x, 2)[4:-4, 4:-4]).max() > 0.1

    def test_exception_skip_a(self):
        with pytest.raises(ValueError, match=r"skip_a=-2.0 must be a cubic coefficient"):
            UpscalerConfig(skip_a=-2.0)

    def test_identity_ycbcr_round_trip(self):
        rgb = np.random.default_rng(0).random((5, 4, 3))
        np.testing.assert_allclose(infer.ycbcr_to_rgb(infer.rgb_to_ycbcr(rgb)), rgb,
                                   atol=1e-12)
        gray = np.full((1, 1, 3), 0.3)
        ycc = infer.rgb_to_ycbcr(gray)[0, 0]
        np.testing.assert_allclose(ycc, [(16 + 219 * 0.3) / 255, 128 / 255, 128 / 255])


class TestEngines:
    @pytest.mark.parametrize("head", HEADS)
    @pytest.mark.parametrize("scale", SCALES)
    def test_oracle(self, tmp_path, head, scale):
        """NumPy engine (tconv.conv + sub-pixel head) == the torch module."""
        pytest.importorskip("torch")
        cfg = UpscalerConfig(scale=scale, head=head)
        path = _random_weights(tmp_path, cfg)
        a = infer.load_model(path, scale, "numpy", head)
        b = infer.load_model(path, scale, "torch", head)
        y = np.random.default_rng(1).random((19, 23)).astype(np.float32)
        ya, yb = a(y), b(y)
        assert ya.shape == yb.shape == (19 * scale, 23 * scale) and ya.dtype == np.float32
        np.testing.assert_allclose(ya, yb, atol=2e-5)

    @pytest.mark.parametrize("head", HEADS)
    @pytest.mark.parametrize("scale", SCALES)
    def test_oracle_pil_skip(self, tmp_path, head, scale):
        """With the PIL-style skip (a = -0.5, the shipped models' choice) the engines agree."""
        pytest.importorskip("torch")
        cfg = UpscalerConfig(scale=scale, head=head, skip_a=-0.5)
        path = _random_weights(tmp_path, cfg)
        a = infer.load_model(path, scale, "numpy", head)
        b = infer.load_model(path, scale, "torch", head)
        assert a.cfg.skip_a == b.cfg.skip_a == -0.5
        y = np.random.default_rng(4).random((17, 12)).astype(np.float32)
        np.testing.assert_allclose(a(y), b(y), atol=2e-5)

    @pytest.mark.parametrize("scale,size", [(2, 8), (3, 6), (4, 8), (4, 12), (2, 3)])
    def test_oracle_head_size(self, tmp_path, scale, size):
        """A centred head of another size: engines agree, output is s*H, tiling stays exact."""
        pytest.importorskip("torch")
        cfg = UpscalerConfig(scale=scale, head_size=size, skip_a=-0.5)
        path = _random_weights(tmp_path, cfg)
        a = infer.load_model(path, scale, "numpy")
        b = infer.load_model(path, scale, "torch")
        assert a.cfg.head_kernel == size
        y = np.random.default_rng(6).random((21, 16)).astype(np.float32)
        ya = a(y)
        assert ya.shape == (21 * scale, 16 * scale)
        np.testing.assert_allclose(ya, b(y), atol=2e-5)
        np.testing.assert_allclose(infer.upscale_y(a, y, tile=7), ya, atol=2e-6)

    def test_exception_head_size(self):
        with pytest.raises(ValueError, match=r"head_size=1 must be 0 .* >= scale=2"):
            UpscalerConfig(head_size=1)
        with pytest.raises(ValueError, match=r"head_size=8 .* for the transposed head"):
            UpscalerConfig(head="pixel_shuffle", head_size=8)

    @pytest.mark.parametrize("head", ["transposed", "pixel_shuffle"])
    @pytest.mark.parametrize("scale", SCALES)
    @pytest.mark.parametrize("shape", [(1, 1), (5, 3), (31, 26)])
    def test_identity_banded(self, tmp_path, monkeypatch, head, scale, shape):
        """The banded engine (many bands on the thread pool) == layer by layer."""
        pytest.importorskip("torch")
        cfg = UpscalerConfig(scale=scale, head=head)
        model = infer.load_model(_random_weights(tmp_path, cfg), scale, "numpy", head)
        monkeypatch.setattr(infer.NumpyUpscaler, "BAND_PIXELS", 40)
        rng = np.random.default_rng(5)
        for y in (rng.random(shape), rng.random((4, 9)), rng.random(shape) * 3 - 1):
            y = y.astype(np.float32)           # buffers kept from the call before are reused
            got, want = model(y), model._layerwise(y)
            assert got.shape == want.shape == (y.shape[0] * scale, y.shape[1] * scale)
            np.testing.assert_allclose(got, want, atol=1e-5)  # float32, other summation order

    @pytest.mark.parametrize("scale", SCALES)
    def test_shipped_within_one_level(self, scale):
        """Shipped weights on a photo crop: the engines' 8-bit outputs differ by <= 1/255."""
        pytest.importorskip("torch")
        from tconv.apps.upscale.data import load_photo

        img = load_photo("chelsea")[40:90, 100:170]
        outs = [infer.upscale_array(img, infer.UpscaleOptions(scale=scale, engine=e))
                for e in ("numpy", "torch")]
        assert np.abs(outs[0].astype(int) - outs[1].astype(int)).max() <= 1


class TestTiling:
    @pytest.mark.parametrize("head", HEADS)
    def test_identity(self, tmp_path, head, monkeypatch):
        cfg = UpscalerConfig(scale=3, head=head)
        model = infer.load_model(_random_weights(tmp_path, cfg), 3, "numpy", head)
        y = np.random.default_rng(2).random((27, 22)).astype(np.float32)
        whole = infer.upscale_y(model, y, tile=None)
        tiled = infer.upscale_y(model, y, tile=8)
        np.testing.assert_allclose(tiled, whole, atol=1e-5)  # float32 sums in other orders
        # the margin is what makes it exact: one pixel of margin is visibly wrong
        monkeypatch.setattr(infer, "receptive_radius", lambda c: 1)
        assert np.abs(infer.upscale_y(model, y, tile=8) - whole).max() > 1e-3

    @pytest.mark.parametrize("method", ["learned", "bicubic", "bilinear", "nearest"])
    def test_identity_full_pipeline(self, tmp_path, method):
        """Colour conversion, model, chroma/alpha and rounding all run per tile."""
        cfg = UpscalerConfig(scale=2)
        model = infer.load_model(_random_weights(tmp_path, cfg), 2, "numpy")
        img = np.random.default_rng(3).integers(0, 256, (30, 26, 4)).astype(np.uint8)
        a = infer.upscale_array(img, infer.UpscaleOptions(scale=2, method=method, tile=None),
                                model)
        b = infer.upscale_array(img, infer.UpscaleOptions(scale=2, method=method, tile=9),
                                model)
        assert a.shape == (60, 52, 4) and a.dtype == np.uint8
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
        assert np.mean(a != b) < 1e-3


class TestUpscaleArray:
    def test_shape(self, tmp_path):
        cfg = UpscalerConfig(scale=2)
        model = infer.load_model(_random_weights(tmp_path, cfg), 2, "numpy")
        rng = np.random.default_rng(4)
        for shape in [(12, 10), (12, 10, 3), (12, 10, 4)]:
            for dt in (np.uint8, np.uint16):
                img = rng.integers(0, np.iinfo(dt).max + 1, shape).astype(dt)
                out = infer.upscale_array(img, infer.UpscaleOptions(scale=2), model)
                assert out.dtype == dt and out.shape == (24, 20, *shape[2:])

    def test_oracle_alpha_and_chroma(self, tmp_path):
        """Alpha is bicubic; a gray RGB image stays gray; the gray path equals RGB's."""
        torch = pytest.importorskip("torch")
        cfg = UpscalerConfig(scale=2)
        model = infer.load_model(_random_weights(tmp_path, cfg), 2, "numpy")
        rng = np.random.default_rng(5)
        g = rng.integers(0, 256, (14, 11)).astype(np.uint8)
        rgba = np.dstack([g, g, g, rng.integers(0, 256, (14, 11)).astype(np.uint8)])
        out = infer.upscale_array(rgba, infer.UpscaleOptions(scale=2), model)
        alpha = torch.nn.functional.interpolate(
            torch.from_numpy(rgba[..., 3] / 255.0)[None, None], scale_factor=2,
            mode="bicubic", align_corners=False)[0, 0].numpy()
        np.testing.assert_array_equal(out[..., 3], np.clip(np.round(alpha * 255), 0, 255))
        gray = infer.upscale_array(g, infer.UpscaleOptions(scale=2), model)
        for c in range(3):
            assert np.abs(out[..., c].astype(int) - gray.astype(int)).max() <= 1

    def test_exception(self):
        with pytest.raises(ValueError, match="scale=5"):
            infer.UpscaleOptions(scale=5)
        with pytest.raises(ValueError, match="method"):
            infer.UpscaleOptions(method="lanczos")
        with pytest.raises(ValueError, match="dtype"):
            infer.upscale_array(np.zeros((4, 4), np.float32),
                                infer.UpscaleOptions(method="nearest"))

    def test_nearest_is_pixel_repeat(self):
        img = np.arange(12, dtype=np.uint8).reshape(3, 4)
        out = infer.upscale_array(img, infer.UpscaleOptions(scale=3, method="nearest"))
        np.testing.assert_array_equal(out, np.kron(img, np.ones((3, 3), np.uint8)))


class TestTraining:
    def _cfg(self, tmp_path, **kw):
        from tconv.apps.upscale.train import TrainConfig

        model = UpscalerConfig(scale=2, d=8, s=4, m=1)
        base = dict(model=model, out=tmp_path, steps=6, batch=4, patch=12, eval_every=0,
                    images=("coins", "text"),
                    checkpoint_every=100, progress=False, threads=1)
        base.update(kw)
        return TrainConfig(**base)

    def test_smoke_loss_decreases(self, tmp_path):
        torch = pytest.importorskip("torch")
        from tconv.apps.upscale.data import PatchSampler
        from tconv.apps.upscale.model import Upscaler
        from tconv.apps.upscale.train import train

        cfg = self._cfg(tmp_path, steps=25, lr_body=3e-3, lr_head=3e-3)
        cfg.model.skip = False               # learn the whole image: loss starts high
        lr, hr = PatchSampler(2, 12, ("coins", "text")).batch(np.random.default_rng(99), 16)
        torch.manual_seed(cfg.seed)
        init = Upscaler(cfg.model)
        with torch.no_grad():
            before = float(torch.mean((init(torch.from_numpy(lr)) - torch.from_numpy(hr)) ** 2))
        model, _ = train(cfg, log=lambda m: None)
        with torch.no_grad():
            after = float(torch.mean((model(torch.from_numpy(lr)) - torch.from_numpy(hr)) ** 2))
        assert after < 0.5 * before, (before, after)
        arrays, meta = tio.load_weights(tmp_path / "weights.npz")
        assert meta["config"]["d"] == 8 and meta["train"]["steps_done"] == 25

    def test_identity_resume_bit_exact(self, tmp_path):
        torch = pytest.importorskip("torch")
        from tconv.apps.upscale.train import train

        full, _ = train(self._cfg(tmp_path / "full"), log=lambda m: None)
        train(self._cfg(tmp_path / "part", stop_at=3), log=lambda m: None)
        ck = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
        assert ck["step"] == 3
        resumed, _ = train(self._cfg(tmp_path / "part", resume=True), log=lambda m: None)
        a, b = full.state_dict(), resumed.state_dict()
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), k
        partial = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)
        assert partial["step"] == 6

    def test_smoke_gated_and_shipped(self, tmp_path):
        """Training runs with the gate in the loop, and ship() can set the gate afterwards."""
        pytest.importorskip("torch")
        from tconv.apps.upscale.train import ship, train

        cfg = self._cfg(tmp_path / "run", steps=3)
        cfg.model.gate_low, cfg.model.gate_high = 1.0, 2.0
        train(cfg, log=lambda m: None)
        _, meta = tio.load_weights(tmp_path / "run" / "weights.npz")
        assert (meta["config"]["gate_low"], meta["config"]["gate_high"]) == (1.0, 2.0)
        (tmp_path / "pkg").mkdir()
        shipped = ship(tmp_path / "run", "cmd", 1.0, "here", dest=tmp_path / "pkg",
                       gate=(1.5, 3.0))
        model = infer.load_model(shipped, 2, "numpy")
        assert (model.cfg.gate_low, model.cfg.gate_high) == (1.5, 3.0)
        assert "gate" in tio.load_weights(shipped)[1]["train"]

    def test_oracle_flat_phase_penalty(self):
        """The training penalty: variance of the per-phase mean error on flat HR pixels."""
        torch = pytest.importorskip("torch")
        from tconv.apps.upscale.train import flat_phase_penalty

        hr = torch.full((2, 1, 16, 16), 0.5, dtype=torch.float64)
        hr[:, :, :, 8:] = torch.rand(2, 1, 16, 8, generator=torch.Generator().manual_seed(0))
        bias = torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=torch.float64).repeat(8, 8)
        err = 0.3 + 1e-3 * bias.expand(2, 1, 16, 16).clone()
        # flat = the constant half minus the 3 columns the 7x7 window sees the noise from
        got = float(flat_phase_penalty(err, hr, 2))
        assert got == pytest.approx(np.var([0.0, 1e-3, 0.0, 0.0]), rel=1e-9)
        assert float(flat_phase_penalty(torch.full_like(err, 0.3), hr, 2)) < 1e-30
        # a bias only where HR is textured is ignored
        err2 = torch.zeros_like(err)
        err2[:, :, :, 12:] = 1e-3 * bias[:, 12:]
        assert float(flat_phase_penalty(err2, hr, 2)) < 1e-30

    def test_smooth_patches(self):
        """smooth_frac draws that share of patches from the generated smooth fields."""
        from tconv.apps.upscale.data import PatchSampler

        plain = PatchSampler(2, 12, ("coins",))
        mixed = PatchSampler(2, 12, ("coins",), smooth_frac=0.25)
        assert len(mixed.pairs) == len(plain.pairs) + 8
        np.testing.assert_allclose(mixed.weights.sum(), 1.0)
        np.testing.assert_allclose(mixed.weights[len(plain.pairs):].sum(), 0.25)
        lr, hr = mixed.batch(np.random.default_rng(0), 400)
        # smooth patches have tiny local gradients; coins' patches do not
        rough = np.abs(np.diff(hr[:, 0], axis=-1)).mean(axis=(1, 2)) * 255
        assert 0.1 < np.mean(rough < 1.0) < 0.4, np.mean(rough < 1.0)
        with pytest.raises(ValueError, match="smooth_frac=1.5 must be in"):
            PatchSampler(2, 12, ("coins",), smooth_frac=1.5)

    def test_exception(self, tmp_path):
        pytest.importorskip("torch")
        from tconv.apps.upscale.train import train

        train(self._cfg(tmp_path, stop_at=1), log=lambda m: None)
        with pytest.raises(FileExistsError, match="--resume"):
            train(self._cfg(tmp_path), log=lambda m: None)
        with pytest.raises(ValueError, match="--resume from .* the checkpoint was made with"):
            train(self._cfg(tmp_path, resume=True, seed=1), log=lambda m: None)


class TestEvaluate:
    def test_oracle_bicubic_baseline(self):
        from tconv.apps.upscale.evaluate import EvalConfig, evaluate

        res = evaluate(EvalConfig(scales=(2,), heads=(), images=("astronaut",)),
                       log=lambda m: None)
        m = res[2]["methods"]
        # research note (sr-quality.md, section 2): astronaut x2 PIL bicubic 31.70 dB
        assert abs(m["bicubic"]["mean"]["psnr"] - 31.70) < 0.02
        assert m["nearest"]["mean"]["psnr"] < m["bicubic"]["mean"]["psnr"]

    def test_flat_phase_spread(self):
        from tconv.apps.upscale.evaluate import flat_phase_spread

        hr = np.full((40, 40), 50.0)
        pattern = np.tile([[0.0, 0.0, 0.0], [0.0, 0.6, 0.0], [0.0, 0.0, -0.3]], (14, 14))
        assert flat_phase_spread(hr + pattern[:40, :40], hr, 3) == pytest.approx(0.9)
        assert flat_phase_spread(hr + 2.0, hr, 3) == pytest.approx(0.0)


class TestCli:
    def _main(self, *argv):
        from tconv.cli import main

        return main(list(argv))

    def test_smoke_and_bad_files(self, tmp_path, capsys):
        from tconv.apps.upscale.data import load_photo

        src = tmp_path / "in"
        src.mkdir()
        tio.write_image(src / "a.png", load_photo("chelsea")[:40, :50])
        tio.write_image(src / "g16.tif", (load_photo("camera")[:30, :20].astype(np.uint16)
                                          * 257))
        (src / "b.png").write_text("this is not a PNG")
        good = tio.write_image(tmp_path / "c.jpg", load_photo("coffee")[:40, :40])
        (src / "c.jpg").write_bytes(good.read_bytes()[:300])           # truncated JPEG
        out = tmp_path / "out"
        rc = self._main("upscale", str(src), "-o", str(out), "--scale", "2")
        err = capsys.readouterr().err
        assert rc == 1
        assert "b.png" in err and "not an image" in err
        assert "c.jpg" in err and ("truncated" in err or "corrupt" in err)
        assert sorted(p.name for p in out.iterdir()) == ["a_x2.png", "g16_x2.tif"]
        a, _ = tio.read_image(out / "a_x2.png")
        g, info = tio.read_image(out / "g16_x2.tif")
        assert a.shape == (80, 100, 3) and g.shape == (60, 40) and g.dtype == np.uint16
        # existing output refused; --overwrite replaces
        rc = self._main("upscale", str(src / "a.png"), "-o", str(out / "a_x2.png"),
                        "--scale", "2")
        assert rc == 1 and "exists" in capsys.readouterr().err
        before = (out / "a_x2.png").read_bytes()
        assert self._main("upscale", str(src / "a.png"), "-o", str(out / "a_x2.png"),
                          "--scale", "2", "--method", "nearest", "--overwrite") == 0
        assert (out / "a_x2.png").read_bytes() != before
        # pixel limit
        rc = self._main("upscale", str(src / "a.png"), "-o", str(tmp_path / "z.png"),
                        "--scale", "2", "--max-pixels", "1000")
        assert rc == 1 and "max_pixels" in capsys.readouterr().err
        assert not (tmp_path / "z.png").exists()
        assert not [p for p in tmp_path.rglob("*.part")]

    def test_exception_tampered_weights(self, tmp_path, capsys):
        src = infer.weights_path(2)
        shutil.copy(src, tmp_path / "w.npz")
        man = json.loads((src.parent / "manifest.json").read_text())
        (tmp_path / "manifest.json").write_text(json.dumps(
            {"files": {"w.npz": man["files"][src.name]}}))
        data = bytearray((tmp_path / "w.npz").read_bytes())
        data[200] ^= 1
        (tmp_path / "w.npz").write_bytes(bytes(data))
        img = tio.write_image(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
        rc = self._main("upscale", str(img), "--scale", "2", "--weights",
                        str(tmp_path / "w.npz"))
        assert rc == 1 and "sha256" in capsys.readouterr().err
        assert not (tmp_path / "a_x2.png").exists()

    def test_help_has_examples(self, capsys):
        for cmd in ("upscale", "train-upscaler", "eval-upscaler"):
            with pytest.raises(SystemExit):
                self._main(cmd, "--help")
            assert "examples:" in capsys.readouterr().out


class TestDemo:
    def test_smoke(self, tmp_path):
        from tconv.cli.upscale import demo

        lines = []
        paths = demo(tmp_path, lines.append)
        names = {p.name for p in paths}
        assert {"report.md", "crops_x2.png", "upscale.html"} <= names
        res = json.loads((tmp_path / "upscale" / "results.json").read_text())["results"]["2"]
        learned = res["learned-transposed"]["mean"]
        assert learned["psnr"] > res["bicubic"]["mean"]["psnr"] + 1.0
        assert learned["ssim"] > res["bicubic"]["mean"]["ssim"]
        assert "learned-transposed" in "\n".join(lines)


class TestBalance:
    def test_identity_phase_sums(self):
        from tconv.apps.upscale.model import balance_phases
        from tconv.checkerboard import phase_sums

        w = np.random.default_rng(6).standard_normal((3, 1, 9, 9))
        for s in SCALES:
            assert np.ptp(phase_sums(w[:1], s)) > 0.1          # a random kernel is not
            b = balance_phases(w, s)
            for c in range(3):                                  # every input channel alone
                assert np.ptp(phase_sums(b[c:c + 1], s)) < 1e-12
            np.testing.assert_allclose(balance_phases(b, s), b, atol=1e-12)   # a projection

    @pytest.mark.parametrize("scale,size", [(2, 9), (3, 9), (4, 9), (4, 8), (2, 4)])
    def test_oracle_ramp_moments(self, scale, size):
        """moments=1: ramp features give an exactly planar output (no stripes); sums-only
        balancing does not, so the test can fail."""
        from tconv import conv_transpose
        from tconv.apps.upscale.model import balance_phases
        from tconv.checkerboard import phase_sums

        cfg = UpscalerConfig(scale=scale, head_size=0 if size == 9 else size)
        pad, opad = cfg.head_padding
        w = np.random.default_rng(size).standard_normal((3, 1, size, size))
        yy, xx = np.mgrid[0:24, 0:24]
        feats = np.stack([0.3 + 0.1 * yy - 0.05 * xx, -0.2 + 0.07 * xx, 1 + 0.02 * yy])[None]

        def plane_error(weight):
            out = conv_transpose(feats, weight, stride=scale, padding=pad,
                                 output_padding=opad)[0, 0]
            r = out[size * 2:-size * 2, size * 2:-size * 2]
            rr, cc = np.mgrid[0:r.shape[0], 0:r.shape[1]]
            a = np.stack([np.ones(r.size), rr.ravel(), cc.ravel()], 1)
            coef = np.linalg.lstsq(a, r.ravel(), rcond=None)[0]
            return np.abs(a @ coef - r.ravel()).max()

        b1 = balance_phases(w, scale, moments=1)
        assert plane_error(b1) < 1e-9
        assert plane_error(balance_phases(w, scale)) > 1e-2
        assert np.ptp(phase_sums(b1[:1], scale)) < 1e-12
        np.testing.assert_allclose(balance_phases(b1, scale, 1), b1, atol=1e-12)

    @pytest.mark.parametrize("scale,size", [(2, 9), (3, 9), (4, 12)])
    def test_oracle_curvature_moments(self, scale, size):
        """moments=2: quadratic features give an exactly quadratic output; moments=1 not."""
        from tconv import conv_transpose
        from tconv.apps.upscale.model import balance_phases

        cfg = UpscalerConfig(scale=scale, head_size=0 if size == 9 else size)
        pad, opad = cfg.head_padding
        w = np.random.default_rng(size + scale).standard_normal((3, 1, size, size))
        yy, xx = np.mgrid[0:30, 0:30] / 10
        feats = np.stack([0.3 + 0.1 * yy**2 - 0.05 * xx * yy, -0.2 + 0.07 * xx**2,
                          1 + 0.02 * yy])[None]

        def quad_error(weight):
            out = conv_transpose(feats, weight, stride=scale, padding=pad,
                                 output_padding=opad)[0, 0]
            r = out[3 * size:-3 * size, 3 * size:-3 * size]
            rr, cc = np.mgrid[0:r.shape[0], 0:r.shape[1]]
            a = np.stack([np.ones(r.size), rr.ravel(), cc.ravel(), rr.ravel() ** 2,
                          cc.ravel() ** 2, (rr * cc).ravel()], 1)
            coef = np.linalg.lstsq(a, r.ravel(), rcond=None)[0]
            return np.abs(a @ coef - r.ravel()).max()

        b2 = balance_phases(w, scale, moments=2)
        assert quad_error(b2) < 1e-9
        assert quad_error(balance_phases(w, scale, moments=1)) > 1e-3
        np.testing.assert_allclose(balance_phases(b2, scale, 2), b2, atol=1e-12)
        # balance_head applies the configured order, capped by what the kernel allows
        arrays = {"head.weight": w.astype(np.float32)}
        for moments, want in ((2, 2), (1, 1), (0, 0)):
            c = UpscalerConfig(scale=scale, head_size=cfg.head_size, head_moments=moments)
            got = balance_head(arrays, c)["head.weight"]
            np.testing.assert_allclose(got, balance_phases(w, scale, want).astype(np.float32),
                                       atol=1e-5)
        c9 = UpscalerConfig(scale=4, head_moments=2)                  # 9 < 3*4: order 1
        np.testing.assert_allclose(balance_head({"head.weight": w[..., :9, :9]}, c9)[
            "head.weight"], balance_phases(w[..., :9, :9], 4, 1), atol=1e-12)

    def test_exception_moments(self):
        from tconv.apps.upscale.model import balance_phases

        with pytest.raises(ValueError, match="moments=1 needs kernel >= 2\\*stride"):
            balance_phases(np.ones((1, 1, 3, 3)), 2, moments=1)
        with pytest.raises(ValueError, match=r"moments=2 needs kernel >= 3\*stride"):
            balance_phases(np.ones((1, 1, 9, 9)), 4, moments=2)
        with pytest.raises(ValueError, match="moments=3 must be 0, 1 or 2"):
            balance_phases(np.ones((1, 1, 3, 3)), 2, moments=3)
        with pytest.raises(ValueError, match="head_moments=3 must be 0, 1 or 2"):
            UpscalerConfig(head_moments=3)

    @pytest.mark.parametrize("scale", SCALES)
    def test_shipped_constant_input(self, scale):
        """The shipped model maps a flat image to a flat image: no checkerboard (interior)."""
        model = infer.load_model(None, scale, "numpy")
        out = model(np.full((40, 40), 0.5, np.float32)) * 255
        m = infer.receptive_radius(model.cfg) * scale
        interior = out[m:-m, m:-m]
        assert np.ptp(interior) < 1e-3, np.ptp(interior)


class TestFlatnessGate:
    """The gate that hands flat regions to the bicubic skip (model.flatness_gate)."""

    @pytest.mark.parametrize("scale", SCALES)
    def test_oracle_torch(self, scale):
        """NumPy gate == the torch module's gate (replicate pad, torch bilinear up-sampling)."""
        torch = pytest.importorskip("torch")
        from tconv.apps.upscale.model import flatness_gate, flatness_gate_torch

        rng = np.random.default_rng(scale)
        x = np.round(100 + rng.random((23, 17)) * rng.choice([0.5, 3, 9], (23, 17))) / 255
        g = flatness_gate(x, scale, 1.5, 3.0)
        gt = flatness_gate_torch(torch.tensor(x, dtype=torch.float32)[None, None], scale,
                                 1.5, 3.0)[0, 0].numpy()
        assert g.shape == (23 * scale, 17 * scale)
        assert 0.1 < g.mean() < 0.9 and g.min() == 0.0 and g.max() == 1.0
        np.testing.assert_allclose(g, gt, atol=1e-5)

    def test_oracle_closed_form(self):
        """A 3x3 window of std sigma: smoothstep((sigma - low)/(high - low)) at its centre."""
        from tconv.apps.upscale.model import flatness_gate

        x = np.zeros((3, 3))
        x[1, 1] = 3.0 / 255                      # window std = 3 * sqrt(8) / 9 gray levels
        sigma = 3.0 * np.sqrt(8.0) / 9.0
        t = (sigma - 0.5) / (2.0 - 0.5)
        assert flatness_gate(x, 1, 0.5, 2.0)[1, 1] == pytest.approx(t * t * (3 - 2 * t))

    @pytest.mark.parametrize("engine", ["numpy", "torch"])
    def test_identity_flat_is_bicubic(self, tmp_path, engine):
        """Where the input is flat the gated model returns its bicubic skip exactly; the same
        model without the gate does not (so the test can fail)."""
        if engine == "torch":
            pytest.importorskip("torch")
        cfg = UpscalerConfig(scale=3, skip_a=-0.5, gate_low=1.5, gate_high=3.0)
        path = _random_weights(tmp_path, cfg)
        model = infer.load_model(path, 3, engine)
        rng = np.random.default_rng(0)
        y = np.full((20, 24), 0.4, np.float32)
        y[:, 12:] = 0.6                                           # a step ...
        y[:, 12:] += (rng.random((20, 12)) < 0.5) * (0.5 / 255)   # ... and sub-gray noise
        skip = infer.bicubic_upsample(y.astype(np.float64), 3, -0.5)
        out = model(y)
        left = (slice(None), slice(0, 27))                        # LR columns 0..8: flat
        np.testing.assert_allclose(out[left], skip[left], atol=1e-6)
        assert np.abs(out - skip).max() > 1e-3                    # the step keeps the network
        ungated = infer.NumpyUpscaler(UpscalerConfig(scale=3, skip_a=-0.5),
                                      tio.load_weights(path)[0])
        assert np.abs(ungated(y)[left] - skip[left]).max() > 1e-3

    def test_identity_engines_and_tiles(self, tmp_path):
        """Gated: NumPy == torch, tiled == whole (the gate's 1-pixel halo is in the margin)."""
        pytest.importorskip("torch")
        cfg = UpscalerConfig(scale=2, skip_a=-0.5, gate_low=1.5, gate_high=3.0)
        path = _random_weights(tmp_path, cfg)
        a = infer.load_model(path, 2, "numpy")
        b = infer.load_model(path, 2, "torch")
        rng = np.random.default_rng(1)
        y = (np.round(rng.random((26, 21)) * 4 + 120) / 255).astype(np.float32)
        whole = a(y)
        assert 0 < np.mean(infer.flatness_gate(y, 2, 1.5, 3.0) == 0) < 1   # both regimes
        np.testing.assert_allclose(whole, b(y), atol=2e-5)
        np.testing.assert_allclose(infer.upscale_y(a, y, tile=8), whole, atol=1e-5)

    @pytest.mark.parametrize("kw,match", [
        (dict(gate_low=3.0, gate_high=1.5), r"gate_low=3.0 must be below gate_high=1.5"),
        (dict(gate_low=-1.0, gate_high=2.0), r"gate_low=-1.0 must be a number of gray"),
        (dict(gate_high=True), r"gate_high=True must be a number"),
        (dict(gate_low="1", gate_high=2.0), r"gate_low='1' must be a number")])
    def test_exception_config(self, kw, match):
        with pytest.raises(ValueError, match=match):
            UpscalerConfig(**kw)

    @pytest.mark.parametrize("scale", SCALES)
    def test_shipped_gated(self, scale):
        """The shipped transposed heads carry the gate chosen by benchmarks/upscale_gate.py."""
        cfg = infer.load_model(None, scale, "numpy").cfg
        assert (cfg.gate_low, cfg.gate_high) == (1.5, 3.0)
