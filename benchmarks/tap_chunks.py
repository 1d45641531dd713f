"""Strided tap writes in cache-sized chunks: the measurement behind ``tconv.conv.CHUNK_BYTES``.

A layer whose every output is one term (a kernel within its stride: depthwise k2 s2, 1x1
products spread by 2x2 taps) writes each kernel tap as one strided NumPy multiply or copy
into the output. Each tap touches a share of every output cache line; once the output is
larger than the last-level cache, every tap's pass goes to memory. This times the taps of
a k2 s2 depthwise layer written whole and in chunks of images and channels, one thread,
process CPU time (median of 5)::

    python benchmarks/tap_chunks.py

Columns: the layer, its output size, the time written whole, then per chunk size (bytes of
output a chunk holds) the time in chunks.
"""

from __future__ import annotations

import itertools
import time

import numpy as np

SHAPES = [(8, 32, 16, 16, 16), (1, 32, 16, 16, 16), (1, 256, 16, 16), (8, 64, 32, 32),
          (16, 128, 64, 64), (4, 64, 64, 64)]
CHUNKS = [1 << 18, 1 << 20, 1 << 22, 1 << 24]


def cpu_ms(fn, repeat: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return float(np.median(times)) * 1e3


def measure(shape: tuple[int, ...], dtype: type, rng: np.random.Generator) -> str:
    """One layer's row: its taps written whole, then in chunks of each size."""
    n, c, *size = shape
    nd = len(size)
    x = rng.standard_normal(shape).astype(dtype)
    w = rng.standard_normal((c, *(2,) * nd)).astype(dtype)
    y = np.empty((n, c, *(2 * s for s in size)), dtype=dtype)
    taps = list(itertools.product(range(2), repeat=nd))

    def write(n0: int, n1: int, c0: int, c1: int) -> None:
        for t in taps:
            dst = y[(slice(n0, n1), slice(c0, c1), *(slice(a, None, 2) for a in t))]
            np.multiply(x[n0:n1, c0:c1], w[(slice(c0, c1), *t)].reshape(
                c1 - c0, *(1,) * nd), out=dst)

    def chunked(nb: int, cb: int) -> None:
        for n0 in range(0, n, nb):
            for c0 in range(0, c, cb):
                write(n0, min(n, n0 + nb), c0, min(c, c0 + cb))

    plane = y[0, 0].nbytes
    row = [f"{np.dtype(dtype).name:8s} {str(shape):22s} out {y.nbytes / 2**20:6.1f} MiB",
           f"whole {cpu_ms(lambda: write(0, n, 0, c)):7.2f} ms"]
    for chunk in CHUNKS:
        planes = max(1, chunk // plane)
        cb = min(c, planes)
        nb = max(1, min(n, planes // c)) if cb == c else 1
        row.append(f"{chunk >> 10:6d} KiB {cpu_ms(lambda nb=nb, cb=cb: chunked(nb, cb)):7.2f}")
    return "  ".join(row)


def main() -> None:
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for shape in SHAPES:
            print(measure(shape, dtype, rng), flush=True)


if __name__ == "__main__":
    main()
