"""How long BLAS's threads hold a core after a product: tconv's pool work right after one.

After a product it threads, OpenBLAS's worker threads keep spinning on their cores for a
while before they sleep. Work that tconv's pool runs meanwhile shares a core with a
spinning thread. This script times one piece of pool work (a compiled loop split between
the calling thread and one pool thread) alone, right after a threaded product, and a pause
after one.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/blas_spin.py [--repeat 15]

Prints the median of ``--repeat`` timings of each (milliseconds).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import meta_line, metadata  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=15, help="timings of each (default 15)")
    ap.add_argument("--pause", type=float, default=0.3,
                    help="seconds between the product and the pool work in the last case")
    args = ap.parse_args(argv)
    import numba

    from tconv._algorithms import _parallel

    @numba.njit(nogil=True)
    def rows_sum(a: np.ndarray, r0: int, r1: int) -> float:  # pragma: no cover - compiled
        s = 0.0
        for i in range(r0, r1):
            for j in range(a.shape[1]):
                s += a[i, j] * 1.0001
        return s

    data = np.ones((2000, 20000), np.float32)
    big = np.ones((512, 512), np.float32)
    out = np.empty_like(big)

    def pool() -> None:
        _parallel.for_each(lambda r: rows_sum(data, r[0], r[1]), [(0, 1000), (1000, 2000)],
                           min_items=2)

    def after(pause: float) -> float:
        np.matmul(big, big, out=out)            # 134 M multiply-adds: BLAS threads it
        if pause:
            time.sleep(pause)
        t0 = time.perf_counter()
        pool()
        return time.perf_counter() - t0

    def median_ms(fn) -> float:
        fn()
        return float(np.median([fn() for _ in range(args.repeat)])) * 1e3

    def alone() -> float:
        t0 = time.perf_counter()
        pool()
        return time.perf_counter() - t0

    print(meta_line({**metadata(), "threads": _parallel.num_threads(),
                     "rounds": args.repeat, "clock": "wall"}))
    print(f"pool work alone:                     {median_ms(alone):8.2f} ms")
    print(f"pool work right after a product:     {median_ms(lambda: after(0.0)):8.2f} ms")
    print(f"pool work {args.pause:g} s after a product:     "
          f"{median_ms(lambda: after(args.pause)):8.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
