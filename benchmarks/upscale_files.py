"""Figures quoted in docs/guarantees.md ("Files and commands").

1. Decoding a 1024 x 1024 16-bit RGB PNG whose rows are all Paeth-filtered (the slowest PNG
   filter to undo), with ``tconv.io.read_image``: median of 5.
2. Tiled vs untiled ``tconv upscale`` over a seeded population (60 images: 8/16-bit,
   gray/RGB/RGBA, sizes 9-59, tiles 8-32, x2/x3/x4, the shipped models): the largest
   difference in LSB and how many output values differ.

    python benchmarks/upscale_files.py            # both
    python benchmarks/upscale_files.py --only png
"""

from __future__ import annotations

import argparse
import pathlib
import struct
import tempfile
import time
import zlib

import numpy as np


def paeth_png(a: np.ndarray) -> bytes:
    """16-bit RGB PNG of ``a`` with every row Paeth-filtered (PNG spec, section 9.4)."""
    rows, cols, ch = a.shape
    raw = a.astype(">u2").reshape(rows, -1).view(np.uint8).astype(np.int64)
    bpp, out, prev = ch * 2, [], np.zeros(raw.shape[1], np.int64)
    for r in range(rows):
        line = raw[r]
        left = np.concatenate([np.zeros(bpp, np.int64), line[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int64), prev[:-bpp]])
        p = left + prev - upleft
        pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
        pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        out.append(b"\x04" + ((line - pred) & 255).astype(np.uint8).tobytes())
        prev = line

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", cols, rows, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"".join(out))) + chunk(b"IEND", b""))


def bench_png() -> None:
    from tconv import io as tio

    a = np.random.default_rng(0).integers(0, 65536, (1024, 1024, 3)).astype(np.uint16)
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "paeth.png"
        p.write_bytes(paeth_png(a))
        times = []
        for _ in range(5):
            t = time.perf_counter()
            b, _ = tio.read_image(p)
            times.append(time.perf_counter() - t)
        assert np.array_equal(a, b)
    print(f"1024x1024 RGB16 Paeth PNG: median {np.median(times):.3f} s "
          f"(min {min(times):.3f}, max {max(times):.3f})")


def bench_tiling() -> None:
    from tconv.apps.upscale import infer

    rng = np.random.default_rng(0)
    models = {s: infer.load_model(None, s) for s in (2, 3, 4)}
    worst = differing = total = 0
    for case in range(60):
        s = int(rng.choice([2, 3, 4]))
        dtype = (np.uint8, np.uint16)[case % 2]
        ch = (None, 3, 4)[case % 3]
        rows, cols = int(rng.integers(9, 60)), int(rng.integers(9, 60))
        shape = (rows, cols) if ch is None else (rows, cols, ch)
        peak = np.iinfo(dtype).max
        img = rng.integers(0, peak + 1, shape).astype(dtype)
        if case % 4 == 0:                                   # smooth content too
            yy, xx = np.mgrid[:rows, :cols]
            base = ((np.sin(yy / 5) + np.cos(xx / 7)) * 0.25 + 0.5) * peak
            img = np.broadcast_to(base[..., None] if ch else base, shape).astype(dtype)
        tile = int(rng.choice([8, 9, 13, 17, 32]))
        whole = infer.upscale_array(img, infer.UpscaleOptions(scale=s, tile=None), models[s])
        tiled = infer.upscale_array(img, infer.UpscaleOptions(scale=s, tile=tile), models[s])
        d = np.abs(whole.astype(np.int64) - tiled)
        worst = max(worst, int(d.max()))
        differing += int((d > 0).sum())
        total += d.size
    print(f"tiled vs untiled, 60 images: max {worst} LSB, {differing} of {total:,} output "
          "values differ")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("png", "tiling"), default=None)
    args = ap.parse_args()
    if args.only in (None, "png"):
        bench_png()
    if args.only in (None, "tiling"):
        bench_tiling()
