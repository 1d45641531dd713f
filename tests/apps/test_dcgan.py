"""DCGAN app: IDX reader, data sources, model shapes, training that learns, determinism,
exact resume, sample grids, CLI. Tiny models and a handful of steps (CPU, one thread)."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("skimage")
pytest.importorskip("PIL")

from tconv.apps.dcgan import (  # noqa: E402
    METHODS,
    DCGANConfig,
    Discriminator,
    Generator,
    ImageSource,
    TrainConfig,
    load_source,
    read_idx,
    train,
    write_idx,
)
from tconv.apps.dcgan.infer import load_generator, sample, to_grid  # noqa: E402
from tconv.apps.dcgan.train import build  # noqa: E402

TINY = dict(latent_dim=8, channels=1, image_size=16, g_features=8, d_features=8)


@pytest.fixture(scope="module")
def source() -> ImageSource:
    # 6 smooth random 24x24 pictures cropped to 16x16: fast and download-free
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 1, 6, 6)).astype(np.float32)
    imgs = torch.nn.functional.interpolate(torch.from_numpy(base), size=24, mode="bilinear")
    return ImageSource([np.tanh(im) for im in imgs.numpy()], crop=16, name="test")


def _tcfg(tmp_path, **kw) -> TrainConfig:
    base = dict(out_dir=str(tmp_path), steps=4, batch_size=8, sample_every=2,
                checkpoint_every=2, n_samples=8, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def _same_state(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class TestIDX:
    @pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32,
                                       np.float64])
    @pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
    def test_round_trip(self, tmp_path, dtype, name):
        arr = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
        if dtype == np.uint8:
            arr = np.arange(30, dtype=np.uint8).reshape(2, 3, 5) * 8
        path = write_idx(tmp_path / name, arr)
        back = read_idx(path)
        assert back.dtype == arr.dtype and back.shape == arr.shape
        np.testing.assert_array_equal(back, arr)
        assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")

    def test_mnist_header_by_hand(self, tmp_path):
        """The MNIST layout, written byte by byte: magic 0x00000803, dims N, rows, columns."""
        images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28) % 256
        raw = struct.pack(">IIII", 0x803, 2, 28, 28) + images.astype(np.uint8).tobytes()
        (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw))
        out = read_idx(tmp_path / "t10k-images-idx3-ubyte.gz")
        np.testing.assert_array_equal(out, images.astype(np.uint8))
        labels = struct.pack(">II", 0x801, 3) + bytes([7, 2, 1])
        (tmp_path / "labels").write_bytes(labels)
        np.testing.assert_array_equal(read_idx(tmp_path / "labels"), [7, 2, 1])

    @pytest.mark.parametrize("blob, message", [
        (b"\x00\x00", "fewer than the 4-byte"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "two zero bytes"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "type code 0x07"),
        (b"\x00\x00\x08\x00", "ndim=0"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "header needs 16 bytes"),
        (b"\x00\x00\x08\x02" + struct.pack(">II", 2, 3) + bytes(5), "is truncated"),
        (b"\x00\x00\x08\x01" + struct.pack(">I", 2) + bytes(3), "longer than its header"),
        (b"\x00\x00\x0d\x01" + struct.pack(">I", 2) + bytes(4), "needs 8 data bytes"),
        (b"\x1f\x8b\x08\x00garbage", "cannot be decompressed"),
    ])
    def test_exception(self, tmp_path, blob, message):
        path = tmp_path / "bad.idx"
        path.write_bytes(blob)
        with pytest.raises(ValueError, match="read_idx: .*" + message):
            read_idx(path)

    def test_missing_file_and_bad_dtype(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="read_idx: no file"):
            read_idx(tmp_path / "nope")
        with pytest.raises(ValueError, match="write_idx: dtype uint16 has no IDX type code"):
            write_idx(tmp_path / "x", np.zeros(3, dtype=np.uint16))

    def test_idx_source(self, tmp_path):
        """An MNIST-like 28x28 IDX file becomes 16x16 training images in [-1, 1]."""
        imgs = np.zeros((5, 28, 28), dtype=np.uint8)
        imgs[:, 10:18, 12:16] = 255
        write_idx(tmp_path / "imgs.gz", imgs)
        src = load_source(str(tmp_path / "imgs.gz"), size=16, channels=1)
        batch = src.sample(3, torch.Generator().manual_seed(0))
        assert batch.shape == (3, 1, 16, 16) and batch.dtype == torch.float32
        assert float(batch.min()) == -1.0 and 0.5 < float(batch.max()) <= 1.0
        with pytest.raises(ValueError, match=r"images must be \(N, rows, columns\)"):
            load_source(str(write_idx(tmp_path / "flat", np.zeros(4, np.uint8))), 16)


class TestData:
    def test_skimage_source(self):
        src = load_source("skimage", size=32, channels=3)
        a = src.preview(4, seed=1)
        assert a.shape == (4, 3, 32, 32)
        assert -1.0 <= float(a.min()) and float(a.max()) <= 1.0
        assert torch.equal(a, src.preview(4, seed=1))
        assert not torch.equal(a, src.preview(4, seed=2))

    def test_folder_source(self, tmp_path):
        from PIL import Image

        for i in range(3):
            Image.fromarray(np.full((20, 30, 3), 60 * i, np.uint8)).save(tmp_path / f"{i}.png")
        src = load_source(str(tmp_path), size=8, channels=3)
        assert len(src.images) == 3 and src.images[2].shape == (3, 8, 8)
        with pytest.raises(ValueError, match="holds no images"):
            load_source(str(tmp_path / "sub" if (tmp_path / "sub").mkdir() is None else ""))

    def test_exception(self):
        with pytest.raises(ValueError, match="must be 'skimage', a folder"):
            load_source("/no/such/thing")
        with pytest.raises(ValueError, match="channels=2 must be 1 or 3"):
            load_source("skimage", channels=2)


class TestModel:
    @pytest.mark.parametrize("method", METHODS)
    @pytest.mark.parametrize("size, channels", [(8, 1), (32, 3)])
    def test_shape(self, method, size, channels):
        cfg = DCGANConfig(**{**TINY, "image_size": size, "channels": channels},
                          method=method)
        g, d = Generator(cfg), Discriminator(cfg)
        with torch.no_grad():
            x = g(torch.randn(3, cfg.latent_dim))
        assert x.shape == (3, channels, size, size)
        assert float(x.abs().max()) <= 1.0                       # tanh
        assert d(x).shape == (3,)
        from tconv.nn import Upsample

        n_up = sum(isinstance(m, Upsample) and m.method == method for m in g.modules())
        assert n_up == cfg.n_up                                 # every x2 step is selectable

    def test_exception(self):
        with pytest.raises(ValueError, match="method='bilinear' must be one of"):
            DCGANConfig(method="bilinear")
        with pytest.raises(ValueError, match="image_size=24 must be a power of two"):
            DCGANConfig(image_size=24)
        with pytest.raises(ValueError, match="init='icnr' applies to"):
            DCGANConfig(method="resize_conv", init="icnr")

    def test_init(self):
        g, d = build(DCGANConfig(**TINY), seed=0)
        w = torch.cat([m.weight.detach().flatten() for m in g.modules()
                       if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)])
        assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.002

    @pytest.mark.parametrize("method", ["pixel_shuffle", "transposed"])
    def test_icnr_removes_initial_checkerboard(self, method):
        """ICNR on the N(0, 0.02) base: every output phase of each layer has the same kernel,
        so the untrained generator's artifact score drops to the resize-conv level."""
        from tconv.apps.dcgan.compare import artifact_scores

        z = torch.randn(64, 64, generator=torch.Generator().manual_seed(0))
        score = {}
        for init in ("default", "icnr"):
            g, _ = build(DCGANConfig(method=method, init=init), seed=0)
            score[init] = artifact_scores(sample(g, 0, z=z), (2,))[2][0]
        assert score["icnr"] < 0.25 * score["default"]          # seed 0: ~0.009 vs >0.16


class TestTrain:
    def test_loss_decreases_on_fixed_batch(self, source):
        """With the other network frozen, Adam on one fixed batch lowers each network's loss."""
        g, d = build(DCGANConfig(**TINY), seed=0)
        bce = torch.nn.BCEWithLogitsLoss()
        real = source.preview(16, seed=0)
        z = torch.randn(16, TINY["latent_dim"], generator=torch.Generator().manual_seed(0))
        fake = g(z).detach()
        opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.5, 0.999))
        losses = []
        for _ in range(15):
            loss = bce(d(real), torch.ones(16)) + bce(d(fake), torch.zeros(16))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.8 * losses[0]
        opt = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.5, 0.999))
        d.requires_grad_(False)
        losses = []
        for _ in range(15):
            loss = bce(d(g(z)), torch.ones(16))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[-1] < 0.8 * losses[0]

    def test_deterministic_under_seed(self, tmp_path, source):
        a = train(DCGANConfig(**TINY), _tcfg(tmp_path / "a"), source=source)
        b = train(DCGANConfig(**TINY), _tcfg(tmp_path / "b"), source=source)
        c = train(DCGANConfig(**TINY), _tcfg(tmp_path / "c", seed=1), source=source)
        assert a.history == b.history and _same_state(a.generator, b.generator)
        assert a.history != c.history

    @pytest.mark.parametrize("method", ["transposed", "pixel_shuffle"])
    def test_resume_is_exact(self, tmp_path, source, method):
        cfg = DCGANConfig(**TINY, method=method)
        full = train(cfg, _tcfg(tmp_path / "full", steps=6, checkpoint_every=3), source=source)
        part = train(cfg, _tcfg(tmp_path / "part", steps=3, checkpoint_every=3), source=source)
        assert part.steps_run == 3
        rest = train(cfg, _tcfg(tmp_path / "part", steps=6, checkpoint_every=3, resume=True),
                     source=source)
        assert rest.steps_run == 3
        assert rest.history == full.history
        assert _same_state(rest.generator, full.generator)
        assert _same_state(rest.discriminator, full.discriminator)

    def test_resume_with_other_config_fails(self, tmp_path, source):
        train(DCGANConfig(**TINY), _tcfg(tmp_path, steps=2), source=source)
        with pytest.raises(ValueError, match="--resume from .* the checkpoint was made with"):
            train(DCGANConfig(**TINY, method="resize_conv"),
                  _tcfg(tmp_path, steps=4, resume=True), source=source)

    def test_samples_and_checkpoint(self, tmp_path, source):
        from PIL import Image

        res = train(DCGANConfig(**TINY), _tcfg(tmp_path), source=source)
        assert [p.name for p in res.sample_paths] == ["step_000002.png", "step_000004.png"]
        with Image.open(res.sample_paths[-1]) as im:     # 8 tiles of 16 + gaps, x2 scale
            assert im.size == (2 * (2 + 8 * 18), 2 * (2 + 18))
        g, cfg = load_generator(res.checkpoint)
        assert cfg == DCGANConfig(**TINY)
        assert _same_state(g, res.generator)
        assert not list(tmp_path.glob(".*.tmp"))         # atomic writes leave no temp file

    def test_to_grid(self):
        grid = to_grid(-torch.ones(5, 1, 2, 3), nrow=2, pad=1)
        assert grid.shape == (1 + 3 * 3, 1 + 2 * 4, 1) and grid.dtype == np.uint8
        assert grid[1, 1, 0] == 0 and grid[0, 0, 0] == 255


def test_cli_train_resume_sample(tmp_path, capsys):
    from tconv.cli import main

    common = ["dcgan", "train", "--image-size", "8", "--latent-dim", "4", "--g-features", "4",
              "--d-features", "4", "--batch-size", "4", "--no-progress", "--out",
              str(tmp_path / "run")]
    assert main(common + ["--steps", "2"]) == 0
    assert main(common + ["--steps", "3", "--resume"]) == 0
    assert "step 3:" in capsys.readouterr().out
    assert main(["dcgan", "sample", "--checkpoint", str(tmp_path / "run" / "checkpoint.pt"),
                 "--n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert (tmp_path / "s.png").is_file()
    assert main(["dcgan", "sample", "--checkpoint", str(tmp_path / "none.pt")]) == 1


def test_compare_tiny(tmp_path, source):
    """Same budget per variant; report, grids and scores in range (a 3-step smoke run)."""
    from tconv.apps.dcgan.compare import compare

    results, ref = compare(["transposed", "pixel_shuffle_icnr"], DCGANConfig(**TINY),
                           _tcfg(tmp_path / "runs", steps=3, sample_every=0), tmp_path,
                           n_eval=16, source=source, log=lambda m: None)
    assert [(r.variant, r.method, r.init) for r in results] == [
        ("transposed", "transposed", "default"), ("pixel_shuffle_icnr", "pixel_shuffle", "icnr")]
    assert all(0 <= r.artifact_s2 <= 1 and r.swd > 0 and r.steps == 3 for r in results)
    assert ref["swd"] >= 0
    for name in ("report.md", "results.json", "comparison.png", "grid_transposed.png"):
        assert (tmp_path / name).is_file()
    assert "| pixel_shuffle_icnr | icnr |" in (tmp_path / "report.md").read_text()
    with pytest.raises(ValueError, match="unknown variants \\['bilinear'\\]"):
        compare(["bilinear"], DCGANConfig(**TINY), _tcfg(tmp_path), tmp_path, source=source)


def test_demo(tmp_path):
    from tconv.cli.dcgan import demo

    lines: list[str] = []
    paths = demo(tmp_path, lines.append)
    assert len(paths) == 5 and all(p.is_file() and p.suffix == ".png" for p in paths)
    assert any("untrained generator" in line and "resize_conv" in line for line in lines)
