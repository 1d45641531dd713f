"""tconv.io: image read/write guards and weights integrity.

References are independent of the code under test: Pillow / tifffile read the files we write,
and 16-bit colour PNGs are encoded here with every PNG filter type (PNG spec, ISO 15948).
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from _png import chunk, png16

pytest.importorskip("PIL")

from tconv import io as tio  # noqa: E402


def _parts(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".part"))


class TestReadImage:
    @pytest.mark.parametrize("shape", [(9, 7), (9, 7, 3), (9, 7, 4)], ids=["L", "RGB", "RGBA"])
    @pytest.mark.parametrize("dtype", [np.uint8, np.uint16], ids=["8bit", "16bit"])
    @pytest.mark.parametrize("ext", [".png", ".tif"])
    def test_smoke(self, tmp_path, shape, dtype, ext):
        rng = np.random.default_rng(0)
        a = rng.integers(0, np.iinfo(dtype).max + 1, shape).astype(dtype)
        path = tio.write_image(tmp_path / f"a{ext}", a)
        b, info = tio.read_image(path)
        assert b.dtype == a.dtype and b.shape == a.shape
        np.testing.assert_array_equal(b, a)
        assert info["bits"] == (8 if dtype == np.uint8 else 16)

    def test_oracle_pillow_reads_what_we_write(self, tmp_path):
        from PIL import Image

        rng = np.random.default_rng(1)
        a = rng.integers(0, 256, (6, 5, 3)).astype(np.uint8)
        tio.write_image(tmp_path / "a.png", a)
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.png")), a)
        g16 = rng.integers(0, 65536, (6, 5)).astype(np.uint16)
        tio.write_image(tmp_path / "g.tif", g16)
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "g.tif")), g16)
        tifffile = pytest.importorskip("tifffile")
        c16 = rng.integers(0, 65536, (6, 5, 3)).astype(np.uint16)
        tio.write_image(tmp_path / "c.tif", c16)
        np.testing.assert_array_equal(tifffile.imread(tmp_path / "c.tif"), c16)

    def test_oracle_png16_all_filters(self, tmp_path):
        from PIL import Image

        rng = np.random.default_rng(2)
        a = rng.integers(0, 65536, (11, 6, 3)).astype(np.uint16)
        p = tmp_path / "f.png"
        p.write_bytes(png16(a, [r % 5 for r in range(a.shape[0])]))
        b, info = tio.read_image(p)
        np.testing.assert_array_equal(b, a)
        assert info["bits"] == 16
        # Pillow keeps the high byte of 16-bit colour PNGs: an independent decode of the file
        np.testing.assert_array_equal(np.asarray(Image.open(p)), (a >> 8).astype(np.uint8))

    def test_jpeg_and_palette(self, tmp_path):
        from PIL import Image

        a = np.full((8, 8, 3), 200, np.uint8)
        tio.write_image(tmp_path / "a.jpg", a)
        b, info = tio.read_image(tmp_path / "a.jpg")
        assert info["format"] == "JPEG" and b.shape == (8, 8, 3)
        assert np.abs(b.astype(int) - 200).max() <= 2
        Image.new("P", (4, 3)).save(tmp_path / "p.png")
        assert tio.read_image(tmp_path / "p.png")[0].shape == (3, 4, 3)
        Image.new("LA", (4, 3), (10, 20)).save(tmp_path / "la.png")
        rgba = tio.read_image(tmp_path / "la.png")[0]
        assert rgba.shape == (3, 4, 4) and tuple(rgba[0, 0]) == (10, 10, 10, 20)

    def test_exception(self, tmp_path):
        with pytest.raises(FileNotFoundError, match="no such file"):
            tio.read_image(tmp_path / "missing.png")
        (tmp_path / "notes.png").write_text("not an image at all")
        with pytest.raises(ValueError, match="not an image file"):
            tio.read_image(tmp_path / "notes.png")
        a = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
        for ext in (".png", ".jpg", ".tif"):
            good = tio.write_image(tmp_path / f"good{ext}", a)
            data = good.read_bytes()
            (tmp_path / f"cut{ext}").write_bytes(data[: len(data) // 2])
            with pytest.raises(ValueError, match="truncated|corrupt|not an image"):
                tio.read_image(tmp_path / f"cut{ext}")
        p16 = tio.write_image(tmp_path / "c16.png", a.astype(np.uint16) * 257)
        (tmp_path / "cut16.png").write_bytes(p16.read_bytes()[:-30])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            tio.read_image(tmp_path / "cut16.png")

    def test_pixel_limit(self, tmp_path):
        a = np.zeros((30, 40), np.uint8)
        p = tio.write_image(tmp_path / "a.png", a)
        with pytest.raises(ValueError, match="max_pixels=1,000"):
            tio.read_image(p, max_pixels=1000)
        assert tio.read_image(p, max_pixels=1200)[0].shape == (30, 40)
        p16 = tio.write_image(tmp_path / "b.png", np.zeros((30, 40, 3), np.uint16))
        with pytest.raises(ValueError, match="max_pixels"):
            tio.read_image(p16, max_pixels=1000)

    def test_decompression_bomb(self, tmp_path):
        # 12000 x 10000 gray PNG of zeros: ~120 kB on disk, 120 Mpx decoded. Refused from the
        # header, before any decoding (the default limit is 100 Mpx).
        rows, cols = 10000, 12000
        comp = zlib.compressobj(9)
        line = b"\x00" * (cols + 1)
        body = b"".join(comp.compress(line * 500) for _ in range(rows // 500)) + comp.flush()
        ihdr = struct.pack(">IIBBBBB", cols, rows, 8, 0, 0, 0, 0)
        p = tmp_path / "bomb.png"
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                      + chunk(b"IDAT", body) + chunk(b"IEND", b""))
        assert p.stat().st_size < 1_000_000
        with pytest.raises(ValueError, match="decompression"):
            tio.read_image(p)


class TestWriteImage:
    def test_exception(self, tmp_path, monkeypatch):
        a = np.zeros((4, 4, 3), np.uint8)
        p = tio.write_image(tmp_path / "a.png", a)
        before = p.read_bytes()
        with pytest.raises(FileExistsError, match="--overwrite"):
            tio.write_image(p, a + 1)
        assert p.read_bytes() == before
        tio.write_image(p, a + 1, overwrite=True)
        assert tio.read_image(p)[0][0, 0, 0] == 1
        import os
        mask = os.umask(0)
        os.umask(mask)
        assert p.stat().st_mode & 0o777 == 0o666 & ~mask       # not mkstemp's 0600
        with pytest.raises(ValueError, match="alpha"):
            tio.write_image(tmp_path / "x.jpg", np.zeros((4, 4, 4), np.uint8))
        with pytest.raises(ValueError, match="suffix"):
            tio.write_image(tmp_path / "x.xyz", a)
        with pytest.raises(ValueError, match="dtype"):
            tio.write_image(tmp_path / "x.png", a.astype(np.float32))
        assert not (tmp_path / "x.jpg").exists() and _parts(p) == []

    def test_no_partial_output(self, tmp_path, monkeypatch):
        from PIL import Image

        def boom(self, fp, *args, **kwargs):
            fp.write(b"half an image")
            raise OSError("disk full")

        monkeypatch.setattr(Image.Image, "save", boom)
        target = tmp_path / "out.png"
        with pytest.raises(OSError, match="disk full"):
            tio.write_image(target, np.zeros((4, 4), np.uint8))
        assert not target.exists() and _parts(target) == []


class TestWeights:
    def _save(self, tmp_path):
        arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(2)}
        return tio.save_weights(tmp_path / "w.npz", arrays, {"note": "x"}), arrays

    def test_smoke(self, tmp_path):
        p, arrays = self._save(tmp_path)
        got, meta = tio.load_weights(p)
        assert set(got) == set(arrays) and meta["note"] == "x"
        for k in arrays:
            np.testing.assert_array_equal(got[k], arrays[k])
        man = json.loads((tmp_path / "manifest.json").read_text())
        import hashlib
        assert man["files"]["w.npz"]["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()

    def test_exception(self, tmp_path):
        p, _ = self._save(tmp_path)
        data = bytearray(p.read_bytes())
        data[len(data) // 2] ^= 1
        p.write_bytes(bytes(data))
        with pytest.raises(ValueError, match="sha256.*modified or corrupted"):
            tio.load_weights(p)
        with pytest.raises(FileNotFoundError):
            tio.load_weights(tmp_path / "none.npz")
        other = tmp_path / "sub"
        other.mkdir()
        np.savez(other / "w.npz", a=np.ones(2))
        with pytest.raises(ValueError, match="no entry"):
            tio.load_weights(other / "w.npz")

    def test_pickle_refused(self, tmp_path):
        import hashlib

        p = tmp_path / "evil.npz"
        np.savez(p, a=np.array([{"x": 1}], dtype=object))
        (tmp_path / "manifest.json").write_text(json.dumps(
            {"files": {"evil.npz": {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()}}}))
        with pytest.raises(ValueError, match="not a plain .npz"):
            tio.load_weights(p)
        with pytest.raises(ValueError, match="only numeric"):
            tio.save_weights(tmp_path / "o.npz", {"a": np.array([None], dtype=object)})
