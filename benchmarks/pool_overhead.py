"""What one parallel call costs tconv's pool: ``_parallel.for_each`` (the calling thread takes
runs of items alongside the pool's threads) against a pool that runs every item on its own
threads while the caller waits, in one process, the two alternating.

Usage::

    python benchmarks/pool_overhead.py [--threads 2] [--rounds 5]

Rows: items that do nothing (the round trip alone), and items of a NumPy operation on
64K-value rows (GIL released) -- 6 and 64 of them. Medians of the per-round medians, in
microseconds; the last column is the waiting pool's time over ``for_each``'s.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np


def waiting_pool(pool: ThreadPoolExecutor, workers: int) -> Callable[..., None]:
    """``for_each`` as a pool that runs every run of items on its threads while the caller
    waits on each future (at most 4 runs a thread, as ``for_each`` cuts them)."""
    def run_all(fn: Callable[[int], object], items: Sequence[int]) -> None:
        step = -(-len(items) // (4 * workers))

        def each(run: Sequence[int]) -> None:
            for item in run:
                fn(item)

        futures = [pool.submit(each, items[i:i + step]) for i in range(0, len(items), step)]
        for future in futures:
            future.result()
    return run_all


def median_us(fn: Callable[[], object], repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="workers (default 2)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    args = ap.parse_args(argv)
    if args.threads < 2:
        raise SystemExit("pool_overhead: --threads must be at least 2")

    from tconv._algorithms import _parallel

    pool = ThreadPoolExecutor(args.threads, thread_name_prefix="waiting")
    old = waiting_pool(pool, args.threads)
    rows = np.random.default_rng(0).random((64, 1 << 16)).astype(np.float32)
    out = np.empty_like(rows)

    def nothing(_: int) -> None:
        return None

    def sqrt_row(i: int) -> None:
        np.sqrt(rows[i], out=out[i])

    cases = [("nothing", nothing, 6, 2000), ("nothing", nothing, 64, 2000),
             ("sqrt of a 64K row", sqrt_row, 6, 300), ("sqrt of a 64K row", sqrt_row, 64, 100)]
    print(f"threads {args.threads}, rounds {args.rounds}, "
          f"{threading.active_count()} threads alive at start")
    print("| items | item | for_each us | waiting pool us | waiting / for_each |")
    print("|---|---|---|---|---|")
    for name, fn, count, repeat in cases:
        items = list(range(count))
        new_t, old_t = [], []
        for _ in range(args.rounds):
            new_t.append(median_us(partial(_parallel.for_each, fn, items, workers=args.threads),
                                   repeat))
            old_t.append(median_us(partial(old, fn, items), repeat))
        a, b = float(np.median(new_t)), float(np.median(old_t))
        print(f"| {count} | {name} | {a:.1f} | {b:.1f} | {b / a:.2f} |")
    pool.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
