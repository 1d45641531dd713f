"""tconv.io against hostile and unusual files: bombs, truncations, zero sizes, odd modes,
EXIF orientations, frames, malformed weights.

Every file is generated here. References are independent of the code under test: PNG rows
are filtered by the encoder in tests/_png.py (PNG spec, ISO 15948, section 9), orientations are
compared with Pillow's ``ImageOps.exif_transpose``.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import warnings
import zlib

import numpy as np
import pytest
from _npz import record_npz_reads
from _png import chunk, png16

pytest.importorskip("PIL")

from tconv import io as tio  # noqa: E402


class TestPng16:
    def test_oracle_filters_population(self, tmp_path):
        # seeded population: every channel layout, sizes from 1 pixel, random row filters
        rng = np.random.default_rng(20)
        for case in range(36):
            ch = (2, 3, 4)[case % 3]
            rows, cols = int(rng.integers(1, 23)), int(rng.integers(1, 23))
            a = rng.integers(0, 65536, (rows, cols, ch)).astype(np.uint16)
            if case % 4 == 0:                                 # smooth: small differences
                a = np.cumsum(rng.integers(0, 3, (rows, cols, ch)), axis=1).astype(np.uint16)
            types = rng.integers(0, 5, rows) if case % 5 else np.full(rows, case % 5 + 3)
            p = tmp_path / f"c{case}.png"
            p.write_bytes(png16(a, types))
            got, info = tio.read_image(p)
            want = a[..., [0, 0, 0, 1]] if ch == 2 else a        # gray+alpha -> RGBA
            np.testing.assert_array_equal(got, want, err_msg=f"case {case}")
            assert got.dtype == np.uint16 and info["bits"] == 16

    def test_gray_alpha_16_kept_16_bit(self, tmp_path):
        from PIL import Image

        a = np.stack([np.arange(12).reshape(3, 4) * 5000 + 7, np.full((3, 4), 40000)], -1)
        p = tmp_path / "la16.png"
        p.write_bytes(png16(a.astype(np.uint16), [0, 1, 4]))
        got, info = tio.read_image(p)
        assert got.dtype == np.uint16 and info["mode"] == "RGBA" and info["bits"] == 16
        np.testing.assert_array_equal(got[..., 0], a[..., 0])
        np.testing.assert_array_equal(got[..., 3], a[..., 1])
        # Pillow alone keeps the high byte only: what the reader did before
        assert np.asarray(Image.open(p)).dtype == np.uint8

    def test_paeth_speed(self, tmp_path):
        # 1024 x 1024 RGB, every row Paeth: per-pixel Python took 5.9 s; vector steps ~0.15 s
        a = np.random.default_rng(1).integers(0, 65536, (1024, 1024, 3)).astype(np.uint16)
        p = tmp_path / "paeth.png"
        p.write_bytes(png16(a, np.full(1024, 4)))
        t = time.perf_counter()
        got, _ = tio.read_image(p)
        elapsed = time.perf_counter() - t
        np.testing.assert_array_equal(got, a)
        assert elapsed < 2.0, f"1024x1024 Paeth took {elapsed:.2f} s"

    def test_bomb_bounded_memory(self, tmp_path):
        # header: 64 x 64 RGB16 (24,640 bytes of rows); IDAT inflates to 160 MiB. Reading it
        # in a child process must fail with a clear message and a peak RSS well under what
        # the inflated data alone would take (an unbounded inflate held all 160 MiB).
        comp = zlib.compressobj(9)
        block = b"\x00" * (1 << 20)
        body = b"".join(comp.compress(block) for _ in range(160)) + comp.flush()
        ihdr = struct.pack(">IIBBBBB", 64, 64, 16, 2, 0, 0, 0)
        p = tmp_path / "bomb16.png"
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
                      + chunk(b"IEND", b""))
        assert p.stat().st_size < 1 << 20
        code = textwrap.dedent(f"""
            import resource, sys
            from tconv import io
            try:
                io.read_image({str(p)!r})
            except ValueError as exc:
                print("MSG", exc)
            # VmHWM: this program's peak RSS (ru_maxrss would include the parent's at fork)
            hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")]
            print("RSS", hwm[0].split()[1] if hwm else
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        """)
        t = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
        assert time.perf_counter() - t < 30
        assert "inflates past" in res.stdout, res.stdout + res.stderr
        rss_kib = int(res.stdout.split("RSS")[1])
        assert rss_kib < 140 * 1024, f"peak RSS {rss_kib / 1024:.0f} MiB"

    @pytest.mark.parametrize("cols,rows", [(0, 5), (5, 0), (0, 0)])
    @pytest.mark.parametrize("bits,ctype", [(16, 2), (16, 6), (16, 4), (8, 0), (8, 2)])
    def test_zero_size_refused(self, tmp_path, cols, rows, bits, ctype):
        ihdr = struct.pack(">IIBBBBB", cols, rows, bits, ctype, 0, 0, 0)
        p = tmp_path / "zero.png"
        p.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                      + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
        with pytest.raises(ValueError, match="at least one row and one column"):
            tio.read_image(p)

    def test_write_zero_size_refused(self, tmp_path):
        for shape in [(0, 4), (4, 0, 3)]:
            with pytest.raises(ValueError, match="no pixels"):
                tio.write_image(tmp_path / "z.png", np.zeros(shape, np.uint16))
        assert list(tmp_path.iterdir()) == []

    def test_hostile_chunks(self, tmp_path):
        good = png16(np.ones((4, 4, 3), np.uint16), [0] * 4)
        cases = {
            "huge_length": good[:33] + struct.pack(">I", 0xFFFFFFF0) + good[37:],
            "bad_filter": good.replace(b"IDAT", b"IDAT"),  # replaced below
            "no_iend": good[:-12],
            "short_idat": png16(np.ones((4, 4, 3), np.uint16), [0] * 4)[:-30],
            "huge_header": b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
                ">IIBBBBB", 100000, 100000, 16, 2, 0, 0, 0)) + chunk(b"IEND", b""),
        }
        raw = b"\x07" + b"\x00" * 24
        cases["bad_filter"] = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
            ">IIBBBBB", 4, 1, 16, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))
        for name, data in cases.items():
            p = tmp_path / f"{name}.png"
            p.write_bytes(data)
            with pytest.raises(ValueError, match="read_image: .*(corrupt|max_pixels|past)"):
                tio.read_image(p)

    @pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp", ".webp", "16.png",
                                     "16.tif"])
    def test_truncated_anywhere(self, tmp_path, ext):
        rng = np.random.default_rng(3)
        a = rng.integers(0, 256, (24, 20, 3)).astype(np.uint8)
        if ext.startswith("16"):
            a = a.astype(np.uint16) * 257
        p = tio.write_image(tmp_path / f"full{ext[2:] if ext.startswith('16') else ext}", a)
        data = p.read_bytes()
        for cut in sorted({1, 8, 16, 30, len(data) // 3, len(data) // 2, len(data) - 13,
                           len(data) - 1}):
            q = tmp_path / f"cut{cut}{p.suffix}"
            q.write_bytes(data[:cut])
            try:
                tio.read_image(q)
            except ValueError as exc:
                assert str(q) in str(exc)
            # a format whose decoder reads past a cut tail without complaint (BMP pads
            # rows, TIFF strips) may return an image; it must never raise anything else


class TestOrientation:
    @pytest.mark.parametrize("orientation", range(1, 9))
    def test_oracle_pillow_exif_transpose(self, tmp_path, orientation):
        from PIL import Image, ImageOps

        a = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3)
        im = Image.fromarray(a)
        exif = im.getexif()
        exif[0x0112] = orientation
        p = tmp_path / "o.png"
        im.save(p, exif=exif.tobytes())
        got, info = tio.read_image(p)
        want = np.asarray(ImageOps.exif_transpose(Image.open(p)))
        np.testing.assert_array_equal(got, want)
        assert info.get("orientation", 1) == orientation
        # the EXIF handed on for writing says "upright" (the pixels are already turned)
        if orientation != 1:
            out = tio.write_image(tmp_path / "o_out.png", got, exif=info["exif"])
            assert Image.open(out).getexif().get(0x0112, 1) == 1

    def test_jpeg_phone_photo(self, tmp_path):
        from PIL import Image

        a = np.zeros((16, 32, 3), np.uint8)
        a[:, :16] = 255                                   # left half white
        im = Image.fromarray(a)
        exif = im.getexif()
        exif[0x0112] = 6                                  # stored sideways: rotate 90 cw
        p = tmp_path / "phone.jpg"
        im.save(p, quality=95, exif=exif.tobytes())
        got, info = tio.read_image(p)
        assert got.shape == (32, 16, 3) and info["orientation"] == 6
        assert got[:16].mean() > 200 and got[16:].mean() < 50   # white on top after turning

    def test_png16_exif(self, tmp_path):
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = 8
        a = np.arange(2 * 3 * 3, dtype=np.uint16).reshape(2, 3, 3) * 1000
        p = tmp_path / "e16.png"
        p.write_bytes(png16(a, [0, 0], extra=chunk(b"eXIf", exif.tobytes())))
        got, _ = tio.read_image(p)
        np.testing.assert_array_equal(got, np.rot90(a, 1))


class TestFrames:
    def test_gif_frames_warn(self, tmp_path):
        from PIL import Image

        frames = [Image.fromarray(np.full((5, 6), v, np.uint8)) for v in (10, 120, 250)]
        p = tmp_path / "anim.gif"
        frames[0].save(p, save_all=True, append_images=frames[1:])
        with pytest.warns(tio.MultiFrameWarning, match="3 frames"):
            got, info = tio.read_image(p)
        assert info["frames"] == 3 and got.shape[:2] == (5, 6)

    def test_tiff16_pages_warn(self, tmp_path):
        tifffile = pytest.importorskip("tifffile")
        a = np.random.default_rng(0).integers(0, 65536, (2, 5, 6, 3)).astype(np.uint16)
        p = tmp_path / "pages.tif"
        tifffile.imwrite(p, a, photometric="rgb")
        with pytest.warns(tio.MultiFrameWarning, match="2 frames"):
            got, _ = tio.read_image(p)
        np.testing.assert_array_equal(got, a[0])

    def test_single_frame_is_quiet(self, tmp_path):
        p = tio.write_image(tmp_path / "one.png", np.zeros((3, 3), np.uint8))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tio.read_image(p)


class TestWriteSuffix:
    @pytest.mark.parametrize("name", ["out.gif", "name.xyz", "noext"])
    def test_exception(self, tmp_path, name):
        with pytest.raises(ValueError, match=r"supported: \.png, \.jpg"):
            tio.write_image(tmp_path / name, np.zeros((2, 2), np.uint8))
        assert list(tmp_path.iterdir()) == []


def _manifest(path, entry):
    (path.parent / "manifest.json").write_text(json.dumps({"files": {path.name: entry}}))


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


class TestWeightsHostile:
    expect = {"w": (2, 3), "b": (2,)}

    def _write(self, tmp_path, **arrays):
        p = tmp_path / "w.npz"
        np.savez(p, **arrays)
        _manifest(p, {"sha256": _sha(p)})
        return p

    def test_smoke(self, tmp_path):
        p = self._write(tmp_path, w=np.ones((2, 3), np.float32), b=np.zeros(2))
        got, _ = tio.load_weights(p, expect=self.expect)
        assert set(got) == {"w", "b"}

    @pytest.mark.parametrize("arrays,match", [
        ({"w": np.ones((2, 3))}, "no array 'b'"),
        ({"w": np.ones((3, 2)), "b": np.zeros(2)}, r"'w' has shape \(3, 2\).*needs \(2, 3\)"),
        ({"w": np.ones((2, 3), np.complex64), "b": np.zeros(2)}, "complex64.*real floating"),
        ({"w": np.ones((2, 3), np.int32), "b": np.zeros(2)}, "int32.*real floating"),
        ({"w": np.full((2, 3), np.nan), "b": np.zeros(2)}, "'w' has 6 non-finite"),
        ({"w": np.ones((2, 3)), "b": np.array([np.inf, 0.0])}, "'b' has 1 non-finite"),
    ], ids=["missing", "shape", "complex", "int", "nan", "inf"])
    def test_exception(self, tmp_path, arrays, match):
        p = self._write(tmp_path, **arrays)
        with pytest.raises(ValueError, match=match):
            tio.load_weights(p, expect=self.expect)

    def test_nonfinite_refused_without_expect(self, tmp_path):
        p = self._write(tmp_path, w=np.array([1.0, np.nan]))
        with pytest.raises(ValueError, match="non-finite"):
            tio.load_weights(p)

    @pytest.mark.parametrize("digest", [12345, None, "abc", "G" * 64, ["x"]])
    def test_sha256_type(self, tmp_path, digest):
        p = self._write(tmp_path, w=np.ones((2, 3)), b=np.zeros(2))
        _manifest(p, {"sha256": digest})
        with pytest.raises(ValueError, match="sha256"):
            tio.load_weights(p)

    def test_entry_not_a_table(self, tmp_path):
        p = self._write(tmp_path, w=np.ones((2, 3)), b=np.zeros(2))
        _manifest(p, "not a table")
        with pytest.raises(ValueError, match="no entry with a sha256"):
            tio.load_weights(p)

    def test_unused_member_never_read(self, tmp_path, monkeypatch):
        # a large extra member: its header is read, its data never
        p = self._write(tmp_path, w=np.ones((2, 3)), b=np.zeros(2),
                        huge=np.zeros((1024, 1024), np.float64))
        read = record_npz_reads(monkeypatch)
        got, _ = tio.load_weights(p, expect=self.expect)
        assert sorted(read) == ["b", "w"] and "huge" not in got

    def test_callable_expect_sees_manifest(self, tmp_path):
        p = self._write(tmp_path, w=np.ones((2, 3)), b=np.zeros(2))
        seen = []

        def expect(meta):
            seen.append(meta)
            raise ValueError("config says no")

        with pytest.raises(ValueError, match="config says no"):
            tio.load_weights(p, expect=expect)
        assert seen and seen[0]["sha256"] == _sha(p)


def test_disk_full_names_the_path(tmp_path, monkeypatch):
    import errno

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    target = tmp_path / "big.png"
    with pytest.raises(OSError, match=r"No space left on device while writing .*big\.png"):
        tio.write_image(target, np.zeros((4, 4), np.uint8))
    assert list(tmp_path.iterdir()) == []                 # no temp file, no target
