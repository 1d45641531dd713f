"""``tconv upscale`` (and ``checkerboard``) against hostile files, bad options and bad
weights, run in-process through :func:`tconv.cli.main`: a clear message, no traceback, no
partial output, no clobbered file, the good files still done.

Also the up-scaler's single sources: the cubic skip is the core's interpolation, the
weights table comes from the config, the torch model is an ordinary ``nn.Module``, and tiled
output stays within 1 LSB of untiled over a seeded population.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
from _npz import record_npz_reads

pytest.importorskip("PIL")

from tconv import io as tio  # noqa: E402
from tconv.apps.upscale import infer  # noqa: E402
from tconv.apps.upscale.model import UpscalerConfig, weight_shapes  # noqa: E402


def main(*argv: str) -> int:
    from tconv.cli import main as cli_main

    return cli_main([str(a) for a in argv])


def chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(
        ">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png_raw(cols: int, rows: int, bits: int, ctype: int, body: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", cols, rows, bits, ctype, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body)
            + chunk(b"IEND", b""))


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A folder of good and hostile inputs; ``bad`` maps file name -> expected message."""
    from PIL import Image

    d = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(7)
    good = {}
    a8 = rng.integers(0, 256, (13, 11, 3)).astype(np.uint8)
    good["rgb.png"] = tio.write_image(d / "rgb.png", a8)
    good["gray16.png"] = tio.write_image(d / "gray16.png",
                                         rng.integers(0, 65536, (9, 7)).astype(np.uint16))
    good["one.png"] = tio.write_image(d / "one.png", np.full((1, 1), 77, np.uint8))
    la16 = np.stack([rng.integers(0, 65536, (6, 5)), np.full((6, 5), 30000)], -1)
    # 16-bit gray + alpha (colour type 4), every row unfiltered
    raw = np.concatenate([np.zeros((6, 1), np.uint8),
                          la16.astype(">u2").reshape(6, -1).view(np.uint8)], 1)
    (d / "la16.png").write_bytes(png_raw(5, 6, 16, 4, zlib.compress(raw.tobytes())))
    good["la16.png"] = d / "la16.png"
    im = Image.fromarray(rng.integers(0, 256, (8, 12, 3)).astype(np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(d / "phone.jpg", quality=95, exif=exif.tobytes())
    good["phone.jpg"] = d / "phone.jpg"
    Image.fromarray(a8).convert("CMYK").save(d / "cmyk.jpg")
    good["cmyk.jpg"] = d / "cmyk.jpg"
    pal = Image.fromarray(rng.integers(0, 4, (5, 5)).astype(np.uint8), "P")
    pal.info["transparency"] = 0
    pal.save(d / "palette.png", transparency=0)
    good["palette.png"] = d / "palette.png"
    frames = [Image.fromarray(np.full((4, 6, 3), v, np.uint8)) for v in (0, 128, 255)]
    frames[0].save(d / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
    good["anim.webp"] = d / "anim.webp"

    bad = {}
    (d / "bomb16.png").write_bytes(png_raw(64, 64, 16, 2, zeros_zlib(256)))
    bad["bomb16.png"] = "inflates past"
    (d / "zero16.png").write_bytes(png_raw(0, 4, 16, 2, zlib.compress(b"")))
    bad["zero16.png"] = "at least one row"
    (d / "huge.png").write_bytes(png_raw(200000, 200000, 8, 0, zlib.compress(b"")))
    bad["huge.png"] = "max_pixels"
    (d / "notes.png").write_text("not a picture")
    bad["notes.png"] = "not an image"
    (d / "empty.jpg").write_bytes(b"")
    bad["empty.jpg"] = "not an image"
    data = good["rgb.png"].read_bytes()
    (d / "cut.png").write_bytes(data[: len(data) // 2])
    bad["cut.png"] = "truncated or corrupt"
    data = (d / "phone.jpg").read_bytes()
    (d / "cut.jpg").write_bytes(data[:200])
    bad["cut.jpg"] = "truncated or corrupt"
    Image.fromarray(np.ones((4, 4), np.float32)).save(d / "float.tif")
    bad["float.tif"] = "floating-point"
    return d, good, bad


class TestHostileCorpus:
    def test_folder_run(self, corpus, tmp_path, capsys):
        d, good, bad = corpus
        out = tmp_path / "out"
        rc = main("upscale", d, "-o", out, "--scale", "2", "--method", "nearest")
        err = capsys.readouterr().err
        assert rc == 1 and "Traceback" not in err
        for name, message in bad.items():               # each reported once, clearly
            lines = [ln for ln in err.splitlines() if f"{name}':" in ln]
            assert len(lines) == 1 and message in lines[0], (name, err)
        assert f"{len(bad)} of {len(good) + len(bad)} file(s) failed" in err
        assert "anim.webp' has 3 frames; only the first" in err
        made = sorted(p.name for p in out.iterdir())
        assert made == sorted(f"{n.rsplit('.', 1)[0]}_x2.{n.rsplit('.', 1)[1]}" for n in good)
        for name in made:                                # complete, readable images
            arr, info = tio.read_image(out / name)
            assert arr.size
        la, info = tio.read_image(out / "la16_x2.png")
        assert la.dtype == np.uint16 and la.shape == (12, 10, 4)
        assert tio.read_image(out / "phone_x2.jpg")[0].shape[:2] == (24, 16)   # upright
        from PIL import Image
        assert Image.open(out / "phone_x2.jpg").getexif().get(0x0112, 1) == 1

    def test_learned_on_odd_inputs(self, corpus, tmp_path, capsys):
        d, good, _ = corpus
        out = tmp_path / "learned"
        files = [good[n] for n in ("one.png", "la16.png", "palette.png", "cmyk.jpg")]
        rc = main("upscale", *files, "-o", out, "--scale", "3")
        assert rc == 0, capsys.readouterr().err
        assert tio.read_image(out / "one_x3.png")[0].shape == (3, 3)

    def test_memory_error_does_not_end_run(self, corpus, tmp_path, capsys, monkeypatch):
        d, good, _ = corpus
        real = infer.upscale_array

        def flaky(img, opts, model=None):
            if img.shape[:2] == (13, 11):                  # rgb.png only
                raise MemoryError
            return real(img, opts, model)

        monkeypatch.setattr(infer, "upscale_array", flaky)
        out = tmp_path / "out"
        rc = main("upscale", good["rgb.png"], good["gray16.png"], good["one.png"], "-o", out,
                  "--scale", "2", "--method", "bilinear")
        err = capsys.readouterr().err
        assert rc == 1 and "out of memory" in err and "Traceback" not in err
        assert sorted(p.name for p in out.iterdir()) == ["gray16_x2.png", "one_x2.png"]


class TestOutputs:
    @pytest.mark.parametrize("name", ["out.gif", "name.xyz", "x.PNG.bak"])
    def test_unsupported_suffix_refused_up_front(self, corpus, tmp_path, capsys, name):
        d, good, _ = corpus
        rc = main("upscale", good["rgb.png"], "-o", tmp_path / name, "--scale", "2")
        err = capsys.readouterr().err
        assert rc == 1 and "does not write" in err and ".png, .jpg" in err
        assert list(tmp_path.iterdir()) == []              # no folder, no file

    def test_unwritable_output_found_before_work(self, corpus, tmp_path, capsys,
                                                 monkeypatch):
        d, good, _ = corpus
        (tmp_path / "afile").write_text("x")
        called = []
        monkeypatch.setattr(tio, "read_image", lambda *a, **k: called.append(1))
        rc = main("upscale", d, "-o", tmp_path / "afile" / "sub", "--scale", "2")
        err = capsys.readouterr().err
        assert rc == 1 and "cannot write into" in err and not called

    def test_nothing_clobbered_and_skip_existing(self, corpus, tmp_path, capsys):
        d, good, _ = corpus
        out = tmp_path / "out"
        out.mkdir()
        (out / "rgb_x2.png").write_bytes(b"precious")
        files = [good["rgb.png"], good["gray16.png"]]
        rc = main("upscale", *files, "-o", out, "--scale", "2", "--method", "nearest")
        assert rc == 1 and "output exists" in capsys.readouterr().err
        assert sorted(p.name for p in out.iterdir()) == ["rgb_x2.png"]
        rc = main("upscale", *files, "-o", out, "--scale", "2", "--method", "nearest",
                  "--skip-existing")
        assert rc == 0
        assert (out / "rgb_x2.png").read_bytes() == b"precious"
        assert (out / "gray16_x2.png").exists()
        rc = main("upscale", *files, "-o", out, "--scale", "2", "--skip-existing",
                  "--overwrite")
        assert rc == 1 and "contradict" in capsys.readouterr().err

    def test_file_output_for_many_inputs(self, corpus, tmp_path, capsys):
        d, good, _ = corpus
        rc = main("upscale", good["rgb.png"], good["one.png"], "-o", tmp_path / "x.png",
                  "--scale", "2")
        assert rc == 1 and "give a folder" in capsys.readouterr().err

    def test_same_target_twice(self, corpus, tmp_path, capsys):
        d, good, _ = corpus
        other = tmp_path / "o"
        other.mkdir()
        shutil.copy(good["one.png"], other / "one.png")
        rc = main("upscale", good["one.png"], other / "one.png", "-o", tmp_path / "out",
                  "--scale", "2")
        assert rc == 1 and "would both write" in capsys.readouterr().err

    @pytest.mark.parametrize("argv,message", [
        (["--tile", "-3"], "argument --tile: must be 0"),
        (["--tile", "5"], "argument --tile: must be 0"),
        (["--max-pixels", "0"], "argument --max-pixels:"),
        (["--engine", "numpy", "--device", "cuda"], "CPU only"),
        (["--device", "tpu"], "argument --device:"),
    ])
    def test_bad_options(self, corpus, tmp_path, capsys, argv, message):
        """Refused in one line: a value no run accepts as a usage error (exit 2), a
        combination the machine cannot run with exit 1."""
        d, good, _ = corpus
        try:
            rc = main("upscale", good["one.png"], "-o", tmp_path / "o.png", "--scale", "2",
                      *argv)
        except SystemExit as exc:
            rc = exc.code
        err = capsys.readouterr().err
        assert rc in (1, 2) and message in err and "Traceback" not in err
        assert not (tmp_path / "o.png").exists()

    def test_device_cpu(self, corpus, tmp_path):
        d, good, _ = corpus
        pytest.importorskip("torch")
        assert main("upscale", good["rgb.png"], "-o", tmp_path / "a.png", "--scale", "2",
                    "--device", "cpu") == 0
        assert main("upscale", good["rgb.png"], "-o", tmp_path / "b.png", "--scale", "2",
                    "--device", "auto", "--engine", "torch") == 0
        a, _ = tio.read_image(tmp_path / "a.png")
        b, _ = tio.read_image(tmp_path / "b.png")
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1      # engines agree


def _weights(tmp_path, mutate=None, entry=None):
    """Shipped x2 weights copied into tmp_path/w.npz, optionally changed, re-hashed."""
    src = infer.weights_path(2)
    arrays, meta = tio.load_weights(src)
    arrays = dict(arrays)
    if mutate:
        mutate(arrays)
    p = tmp_path / "w.npz"
    np.savez(p, **arrays)
    man = {"files": {"w.npz": {**meta, "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                               **(entry or {})}}}
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    return p


class TestWeights:
    @pytest.mark.parametrize("mutate,entry,message", [
        (lambda a: a.pop("head.weight"), None, "no array 'head.weight'"),
        (lambda a: a.__setitem__("head.bias", np.zeros(3, np.float32)), None,
         "'head.bias' has shape (3,)"),
        (lambda a: a.__setitem__("body.0.weight", a["body.0.weight"].astype(np.complex64)),
         None, "complex64"),
        (lambda a: a["body.2.weight"].__setitem__((0, 0, 0, 0), np.nan), None,
         "non-finite"),
        (None, {"sha256": 1234}, "64 lower-case hex"),
        (None, {"config": "x2"}, "no 'config' table"),
        (None, {"config": {"scale": 2, "wings": 3}}, "not an up-scaler config"),
        (None, {"config": {"scale": 3}}, "x3 model"),
    ], ids=["missing", "shape", "complex", "nan", "sha-int", "config-str", "config-key",
            "scale"])
    def test_exception(self, tmp_path, capsys, monkeypatch, mutate, entry, message):
        p = _weights(tmp_path, mutate, entry)
        img = tio.write_image(tmp_path / "a.png", np.zeros((8, 8), np.uint8))
        read = []
        monkeypatch.setattr(tio, "read_image", lambda *a, **k: read.append(1))
        rc = main("upscale", img, "--scale", "2", "--weights", p)
        err = capsys.readouterr().err
        assert rc == 1 and message in err and "Traceback" not in err
        assert not read and not (tmp_path / "a_x2.png").exists()

    def test_only_needed_members_read(self, tmp_path, monkeypatch):
        p = _weights(tmp_path, lambda a: a.__setitem__("extra", np.zeros((512, 512))))
        read = record_npz_reads(monkeypatch)
        model = infer.load_model(p, 2)
        assert "extra" not in read and set(read) == set(weight_shapes(model.cfg))


class TestCheckerboardCli:
    def test_out_not_overwritten(self, tmp_path, capsys):
        pytest.importorskip("matplotlib")
        out = tmp_path / "figs"
        out.mkdir()
        (out / "upsamplers.png").write_bytes(b"mine")
        rc = main("checkerboard", "--out", out)
        assert rc == 1 and "--overwrite" in capsys.readouterr().err
        assert (out / "upsamplers.png").read_bytes() == b"mine"
        assert not (out / "overlap_maps.png").exists()
        assert main("checkerboard", "--out", out, "--overwrite") == 0
        assert (out / "upsamplers.png").read_bytes()[:4] == b"\x89PNG"

    @pytest.mark.parametrize("content,message", [
        (b"\xff\xd8\xff\xe0JFIF", "not a .npy array file"),
        (b"PK\x03\x04", ".npz archive"),
        (b"\x93NUMPY\x01\x00", "not a .npy file of numbers"),
    ])
    def test_weight_plain_message(self, tmp_path, capsys, content, message):
        p = tmp_path / "foo.jpg"
        p.write_bytes(content)
        rc = main("checkerboard", "--weight", p)
        err = capsys.readouterr().err
        assert rc == 1 and message in err
        assert "allow_pickle" not in err and "Traceback" not in err


class TestSingleSources:
    @pytest.mark.parametrize("scale", [2, 3, 4])
    def test_cubic_skip_is_core_interpolation(self, scale):
        torch = pytest.importorskip("torch")
        from tconv import interpolate
        from tconv.apps.upscale.network import cubic_upsample_torch

        x = np.random.default_rng(scale).random((2, 1, 7, 9))
        for a in (-0.75, -0.5, -0.6):
            core = interpolate(x, scale_factor=scale, mode="bicubic", cubic_a=a)
            np.testing.assert_allclose(infer.bicubic_upsample(x, scale, a), core, atol=1e-15)
            got = cubic_upsample_torch(torch.from_numpy(x), scale, a).numpy()
            np.testing.assert_allclose(got, core, atol=1e-13)
        ref = torch.nn.functional.interpolate(torch.from_numpy(x), scale_factor=scale,
                                              mode="bicubic", align_corners=False).numpy()
        np.testing.assert_allclose(interpolate(x, scale_factor=scale, mode="bicubic"), ref,
                                   atol=1e-13)

    def test_cubic_a_keys_reference(self):
        # Keys (1981) kernel written out here, clamped indices: independent of the core
        from tconv import interpolate

        def keys(d, a):
            d = abs(d)
            if d <= 1:
                return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
            return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a if d < 2 else 0.0

        x = np.random.default_rng(0).random(6)
        s, a = 3, -0.5
        want = []
        for o in range(6 * s):
            src = (o + 0.5) / s - 0.5
            f = int(np.floor(src))
            want.append(sum(keys(src - j, a) * x[min(max(j, 0), 5)]
                            for j in range(f - 1, f + 3)))
        got = interpolate(np.broadcast_to(x, (1, 1, 1, 6)), scale_factor=(1, s),
                          mode="bicubic", cubic_a=a)[0, 0, 0]
        np.testing.assert_allclose(got, want, atol=1e-14)

    def test_cubic_a_exception(self):
        from tconv import interpolate

        x = np.ones((1, 1, 4, 4))
        with pytest.raises(ValueError, match="interpolate: cubic_a=-0.5 applies to"):
            interpolate(x, scale_factor=2, mode="bilinear", cubic_a=-0.5)
        with pytest.raises(TypeError, match="cubic_a"):
            interpolate(x, scale_factor=2, mode="bicubic", cubic_a=float("nan"))

    @pytest.mark.parametrize("head", ["transposed", "pixel_shuffle", "resize_conv"])
    @pytest.mark.parametrize("scale", [2, 3, 4])
    def test_weight_shapes_match_module(self, head, scale):
        torch = pytest.importorskip("torch")
        from tconv.apps.upscale.network import Upscaler

        cfg = UpscalerConfig(scale=scale, head=head, m=2)
        m = Upscaler(cfg)
        assert isinstance(m, torch.nn.Module) and type(m).__module__.endswith("network")
        assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == weight_shapes(cfg)

    def test_model_module_needs_no_torch(self):
        code = ("import sys, tconv.apps.upscale.model as m, tconv.apps.upscale.infer; "
                "m.weight_shapes(m.UpscalerConfig()); print('torch' in sys.modules)")
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
        assert res.stdout.strip() == "False", res.stderr

    def test_no_private_core_imports_in_app(self):
        import pathlib
        import re

        import tconv.apps.upscale as pkg

        folder = pathlib.Path(pkg.__file__).parent
        for f in (folder / n for n in ("model.py", "network.py", "infer.py", "batch.py",
                                        "evaluate.py")):
            text = f.read_text()
            assert "_algorithms" not in text, f.name
            assert not re.search(r"^\s*global\s", text, re.M), f.name


class TestTiling:
    def test_tiled_within_one_lsb(self):
        # seeded population: 8/16-bit, gray/RGB/RGBA, odd sizes, small tiles, x2/x3/x4
        rng = np.random.default_rng(11)
        models = {s: infer.load_model(None, s) for s in (2, 3, 4)}
        differing = total = 0
        for case in range(18):
            s = (2, 3, 4)[case % 3]
            dtype = (np.uint8, np.uint16)[case // 3 % 2]
            ch = (None, 3, 4)[case // 6]
            rows, cols = int(rng.integers(9, 30)), int(rng.integers(9, 30))
            peak = np.iinfo(dtype).max
            shape = (rows, cols) if ch is None else (rows, cols, ch)
            img = rng.integers(0, peak + 1, shape).astype(dtype)
            tile = int(rng.choice([8, 9, 13, 17]))
            for method in ("learned", "bicubic", "nearest"):
                whole = infer.upscale_array(img, infer.UpscaleOptions(
                    scale=s, method=method, tile=None), models[s])
                tiled = infer.upscale_array(img, infer.UpscaleOptions(
                    scale=s, method=method, tile=tile), models[s])
                diff = np.abs(whole.astype(np.int64) - tiled)
                assert diff.max() <= (0 if method == "nearest" else 1), (case, method)
                differing += int((diff > 0).sum())
                total += diff.size
        assert differing <= total * 1e-3, (differing, total)


def zeros_zlib(n_mib: int) -> bytes:
    """A zlib stream of ``n_mib`` MiB of zeros, built in milliseconds: one independently
    compressed MiB (full flush: no reference outside itself) repeated, a final empty block,
    and the Adler-32 of the whole."""
    zero = b"\0" * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(zero) + c.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(n_mib):
        adler = zlib.adler32(zero, adler)
    return b"\x78\xda" + block * n_mib + end + struct.pack(">I", adler)


def test_zeros_zlib_is_valid():
    d = zlib.decompressobj()
    assert d.decompress(zeros_zlib(3)) == b"\0" * (3 << 20) and d.eof


def test_folder_run_under_rlimit(tmp_path):
    # a 2 GiB bomb next to good files, in a child limited to 1 GiB of address space and 60 s
    # of CPU: the bomb is refused, the good file done, the run ends with exit 1 and no
    # traceback (an unbounded inflate died with MemoryError and ended the run)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a_bomb.png").write_bytes(png_raw(64, 64, 16, 2, zeros_zlib(2048)))
    tio.write_image(folder / "b_good.png", np.full((6, 5, 3), 9, np.uint8))
    code = textwrap.dedent(f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
        from tconv.cli import main
        sys.exit(main(["upscale", {str(folder)!r}, "-o", {str(tmp_path / "out")!r},
                       "--scale", "2"]))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 1, res.stderr
    assert "a_bomb.png" in res.stderr and "inflates past" in res.stderr
    assert "Traceback" not in res.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b_good_x2.png"]


def test_in_place_rerun_does_not_upscale_outputs(tmp_path, capsys):
    # `tconv upscale DIR` writes DIR/NAME_x2.png; a rerun must not take those as inputs
    tio.write_image(tmp_path / "a.png", np.full((4, 4), 50, np.uint8))
    assert main("upscale", tmp_path, "--scale", "2", "--method", "nearest") == 0
    assert main("upscale", tmp_path, "--scale", "2", "--method", "nearest",
                "--skip-existing") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_x2.png"]
