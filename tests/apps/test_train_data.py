"""Training on a user's own folders: every accepted format, bit depth and mode is read the
documented way, unreadable files are reported once and skipped, sampling is deterministic
under the seed (``train-upscaler --data/--val``, ``eval-upscaler --data``, ``segment train
--images/--masks``, ``dcgan train --data``)."""

from __future__ import annotations

import numpy as np
import pytest
from _train_folders import photo_folder, seg_folders

from tconv.cli import main

torch = pytest.importorskip("torch")
pytest.importorskip("PIL")
pytest.importorskip("skimage")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    return photo_folder(tmp_path_factory.mktemp("photos"))


class TestUpscalerData:
    def test_read_y(self, photos):
        """Luminance of each mode and depth: 16-bit gray equals its 8-bit equivalent scaled
        (v * 255 / 65535), RGBA ignores alpha, gray is 16 + 219 v / 255."""
        from PIL import Image

        from tconv.apps.upscale.data import read_y, rgb_to_y

        g8 = np.asarray(Image.open(photos / "gray.png"), np.float64)
        np.testing.assert_array_equal(read_y(photos / "gray.png"), np.round(16 + 219 * g8 / 255))
        g16 = np.asarray(Image.open(photos / "sub" / "gray16.png"), np.float64)
        np.testing.assert_array_equal(read_y(photos / "sub" / "gray16.png"),
                                      np.round(16 + 219 * g16 / 65535))
        from tconv import io as tio

        rgb16, _ = tio.read_image(photos / "sub" / "rgb16.png")
        assert rgb16.dtype == np.uint16
        np.testing.assert_array_equal(read_y(photos / "sub" / "rgb16.png"),
                                      np.round(rgb_to_y(rgb16 * (255 / 65535))))
        rgba = np.asarray(Image.open(photos / "sub" / "rgba.png"), np.float64)
        np.testing.assert_array_equal(read_y(photos / "sub" / "rgba.png"),
                                      np.round(rgb_to_y(rgba[..., :3])))

    def test_folder_and_bad_files(self, photos):
        from tconv.apps.upscale.data import find_images, read_folder_y

        names = [p.relative_to(photos).as_posix() for p in find_images(photos)]
        assert names == sorted(names) and ".hidden.png" not in names
        assert {"sub/t.tif", "w.webp", "photo.jpg", "sub/gray16.png"} <= set(names)
        said: list[str] = []
        got = read_folder_y(photos, said.append)
        assert [n for n, _ in got] == [n for n in names if n not in ("broken.png",
                                                                     "notes.png")]
        skipped = [m for m in said if "skipped '" in m]
        assert len(skipped) == 2 and any("broken.png" in m for m in skipped)
        assert any("notes.png" in m for m in skipped) and "2 of 10 file(s)" in said[-1]

    def test_exception_empty_or_too_small(self, tmp_path):
        from tconv.apps.upscale.data import PatchSampler, find_images

        with pytest.raises(ValueError, match="holds no image files"):
            find_images(tmp_path, "train-upscaler")
        with pytest.raises(ValueError, match="is not a folder"):
            find_images(tmp_path / "nope", "train-upscaler")
        photo_folder(tmp_path, rows=10, cols=12, bad=False)
        with pytest.raises(ValueError, match="at least 48 pixels a side"):
            PatchSampler(2, 24, folder=str(tmp_path))

    def test_sampler_deterministic_and_sharded(self, photos):
        """Same seed, same patches; two halves of a batch (two processes' shares) are the
        whole batch, and the generator ends in the same state either way."""
        from tconv.apps.upscale.data import PatchSampler

        s = PatchSampler(2, 8, folder=str(photos))
        r1, r2, r3 = (np.random.default_rng(5) for _ in range(3))
        lr, hr = s.batch(r1, 6)
        lr2, hr2 = s.batch(r2, 6)
        np.testing.assert_array_equal(lr, lr2)
        a, b = s.batch(r3, 6, slice(0, 3)), None
        r4 = np.random.default_rng(5)
        b = s.batch(r4, 6, slice(3, 6))
        np.testing.assert_array_equal(np.concatenate([a[0], b[0]]), lr)
        np.testing.assert_array_equal(np.concatenate([a[1], b[1]]), hr)
        assert r3.integers(1 << 30) == r4.integers(1 << 30) == r1.integers(1 << 30)
        assert lr.shape == (6, 1, 8, 8) and hr.shape == (6, 1, 16, 16)

    def test_cli_train_and_eval(self, photos, tmp_path, capsys):
        out = tmp_path / "run"
        code = main(["train-upscaler", "--scale", "2", "--data", str(photos), "--val",
                     str(photos / "sub"), "--steps", "2", "--batch", "2", "--patch", "8",
                     "--eval-every", "2", "--no-progress", "--device", "cpu",
                     "--out", str(out)])
        assert code == 0
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if "broken.png" in ln]
        assert len(lines) == 1                   # reported once
        assert "held-out PSNR" in err
        from tconv import io as tio

        _, meta = tio.load_weights(out / "weights.npz")
        assert meta["train"]["data"] == str(photos)
        code = main(["eval-upscaler", "--data", str(photos / "sub"), "--scales", "2", "--heads",
                     "transposed", "--no-bench", "--out", str(tmp_path / "eval")])
        assert code == 0
        report = (tmp_path / "eval" / "report.md").read_text()
        assert "4 image(s) under" in report and "| bicubic |" in report
        assert (tmp_path / "eval" / "crops_x2.png").stat().st_size > 0


class TestSegmentData:
    def test_load_pairs(self, tmp_path):
        from tconv.apps.segment.data import IGNORE, load_pairs

        img_dir, mask_dir = seg_folders(tmp_path)
        (img_dir / "orphan.png").write_bytes((img_dir / "im1.png").read_bytes())
        (img_dir / "bad.png").write_text("no image")
        (mask_dir / "bad.png").write_bytes((mask_dir / "im1.png").read_bytes())
        said: list[str] = []
        d = load_pairs(img_dir, mask_dir, log=said.append)
        assert len(d) == 6 and d.images.shape == (6, 3, 16, 16)
        assert d.classes == ("class0", "class1", "class2")     # inferred: max id + 1
        assert (d.masks[:, 0] == IGNORE).all() and set(np.unique(d.masks)) == {0, 1, 2, 255}
        assert len(said) == 2 and any("orphan" in m for m in said)
        assert load_pairs(img_dir, mask_dir, num_classes=5).classes[-1] == "class4"
        with pytest.raises(ValueError, match="hold class 2 but num_classes=2"):
            load_pairs(img_dir, mask_dir, num_classes=2)
        assert load_pairs(img_dir, mask_dir, size=8).masks.shape == (6, 8, 8)

    def test_exception_rgb_mask(self, tmp_path):
        from PIL import Image

        from tconv.apps.segment.data import load_pairs

        img_dir, mask_dir = seg_folders(tmp_path, n=1)
        Image.new("RGB", (16, 16)).save(mask_dir / "im0.png")
        said: list[str] = []
        with pytest.raises(ValueError, match="no usable image/mask pair"):
            load_pairs(img_dir, mask_dir, log=said.append)
        assert "mode 'RGB'; masks must be single-channel or palette" in said[0]

    def test_cli_train_eval_ignore(self, tmp_path, capsys):
        """255 is ignored by the loss (a mask of only 255 trains to a finite loss) and by
        the score; the class count comes from the data."""
        img_dir, mask_dir = seg_folders(tmp_path / "d")
        out = tmp_path / "run"
        assert main(["segment", "train", "--images", str(img_dir), "--masks", str(mask_dir),
                     "--size", "16", "--width", "4", "--depth", "1", "--steps", "2",
                     "--batch-size", "2", "--no-progress", "--device", "cpu",
                     "--out", str(out)]) == 0
        from tconv.apps.segment.train import load_model

        model, cfg, state = load_model(out / "checkpoint.pt")
        assert cfg.num_classes == 3 and state["train"]["images"] == str(img_dir)
        capsys.readouterr()
        assert main(["segment", "eval", "--checkpoint", str(out / "checkpoint.pt")]) == 0
        assert '"mean_iou"' in capsys.readouterr().out

    def test_loss_ignores_255(self):
        from tconv.apps.segment import SegConfig, SegData, TrainConfig
        from tconv.apps.segment.train import train

        masks = np.full((2, 16, 16), 255, np.int64)
        data = SegData(np.zeros((2, 3, 16, 16), np.float32), masks, ("a", "b"))
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            res = train(SegConfig(num_classes=2, width=4, depth=1),
                        TrainConfig(out_dir=d, steps=1, batch_size=2, progress=False,
                                    device="cpu"), data=data)
        assert res.history[-1][1] == 0.0


class TestDCGANData:
    def test_folder_source(self, photos):
        from tconv.apps.dcgan import load_source

        said: list[str] = []
        src = load_source(str(photos), size=8, channels=3, log=said.append)
        assert len(src.images) == 8 and src.images[0].shape == (3, 8, 8)
        assert all(-1.0 <= im.min() and im.max() <= 1.0 for im in src.images)
        assert sum("skipped '" in m for m in said) == 2 and "2 of 10" in said[-1]
        # 16-bit gray keeps its range (not clipped to 255 of 65535)
        g = load_source(str(photos / "sub"), size=8, channels=1)
        assert max(float(im.max()) for im in g.images) > 0.0

    def test_cli(self, photos, tmp_path, capsys):
        out = tmp_path / "run"
        assert main(["dcgan", "train", "--data", str(photos), "--image-size", "8",
                     "--latent-dim", "4", "--g-features", "4", "--d-features", "4",
                     "--steps", "2", "--batch-size", "2", "--sample-every", "1",
                     "--no-progress", "--device", "cpu", "--out", str(out)]) == 0
        out_text = capsys.readouterr().out
        assert len([ln for ln in out_text.splitlines() if "broken.png" in ln]) == 1
        assert sorted(p.name for p in (out / "samples").iterdir()) == [
            "step_000001.png", "step_000002.png"]
