"""BLAS's own threads against tconv's pool: a product issued whole or in single-thread pieces.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/blas_pieces.py

For each product size, the time of one product (microseconds, best of 5 runs of 50) issued
(1) on the calling thread, whole (BLAS threads it from ``BLAS_SINGLE_MACS`` multiply-adds
on) and in pieces of at most ``BLAS_SINGLE_MACS`` (``tconv._algorithms._matmul``), and
(2) from two threads at once, as two threads of tconv's pool do, whole and in pieces.
This is the measurement behind ``_matmul.matmul`` cutting products issued from the pool
(whole elsewhere) and behind ``_parallel.pool_workers`` running a block in order when its
product is larger than ``BLAS_SINGLE_MACS``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import meta_line, metadata  # noqa: E402

SIZES = [(128, 64, 64), (256, 64, 64), (512, 128, 16), (128, 128, 64), (64, 256, 128),
         (256, 256, 64), (256, 256, 256)]


def _time(fn, repeat: int = 50, rounds: int = 5) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - t0) / repeat)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from tconv._algorithms import _matmul

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    pool = ThreadPoolExecutor(2)
    print(meta_line(metadata() | {"threads": 2, "rounds": 5}))
    print("| M x K x N | multiply-adds | whole, 1 caller | pieces, 1 caller "
          "| whole, 2 callers | pieces, 2 callers |")
    print("|---|---|---|---|---|---|")
    for m, k, n in SIZES:
        a = [rng.standard_normal((m, k)).astype(args.dtype) for _ in range(2)]
        b = [rng.standard_normal((k, n)).astype(args.dtype) for _ in range(2)]
        out = [np.empty((m, n), dtype=args.dtype) for _ in range(2)]

        def whole(i: int = 0, a=a, b=b, out=out) -> None:
            np.matmul(a[i], b[i], out=out[i])

        def pieces(i: int = 0, a=a, b=b, out=out) -> None:
            _matmul._in_pieces(a[i], b[i], out[i])

        def both(fn):
            def run() -> None:
                futures = [pool.submit(fn, i) for i in range(2)]
                for f in futures:
                    f.result()
            return run

        cells = [_time(whole), _time(pieces), _time(both(whole)), _time(both(pieces))]
        print(f"| {m} x {k} x {n} | {m * k * n:,} | "
              + " | ".join(f"{c:,.0f} us" for c in cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
