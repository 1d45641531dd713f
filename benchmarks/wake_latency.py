"""What waking an idle thread costs: the fixed cost behind small layers' pool calls.

``_parallel.for_each`` hands runs of items to pool threads that sleep between calls. This
times, after the pool thread has been idle for a gap (none, 0.5 ms, 5 ms -- a layer's
work between two calls), how long ``ThreadPoolExecutor.submit`` holds the calling thread
(it wakes the sleeping thread) and when the woken thread starts running, and the same for
a bare ``threading.Event``. Medians and 90th percentiles over 200 hand-offs, microseconds::

    python benchmarks/wake_latency.py

On a virtual machine an idle virtual CPU may be halted, and waking it goes through the
hypervisor: the longer the gap, the later the woken thread starts.
"""

from __future__ import annotations

import contextvars
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

GAPS = (0.0, 0.0005, 0.005)
HANDOFFS = 200


def pool_handoffs(gap: float) -> tuple[list[float], list[float]]:
    """Per hand-off: microseconds in ``submit`` and until the pool thread starts the item."""
    pool = ThreadPoolExecutor(1)
    pool.submit(time.perf_counter).result()
    held, start = [], []
    for _ in range(HANDOFFS):
        if gap:
            time.sleep(gap)
        t0 = time.perf_counter()
        future = pool.submit(contextvars.copy_context().run, time.perf_counter)
        t1 = time.perf_counter()
        began = future.result()
        held.append((t1 - t0) * 1e6)
        start.append((began - t0) * 1e6)
    pool.shutdown()
    return held, start


def event_handoffs(gap: float) -> tuple[list[float], list[float]]:
    """The same through a bare ``threading.Event`` and a thread waiting on it."""
    go, done, stop = threading.Event(), threading.Event(), threading.Event()
    began = [0.0]

    def worker() -> None:
        while True:
            go.wait()
            go.clear()
            if stop.is_set():
                return
            began[0] = time.perf_counter()
            done.set()

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    held, start = [], []
    for _ in range(HANDOFFS):
        if gap:
            time.sleep(gap)
        t0 = time.perf_counter()
        go.set()
        t1 = time.perf_counter()
        done.wait()
        done.clear()
        held.append((t1 - t0) * 1e6)
        start.append((began[0] - t0) * 1e6)
    stop.set()
    go.set()
    thread.join()
    return held, start


def main() -> None:
    print("| hand-off | idle gap | caller held (median, p90) | thread starts (median, p90) |")
    print("|---|---|---|---|")
    for name, fn in (("ThreadPoolExecutor.submit", pool_handoffs),
                     ("threading.Event.set", event_handoffs)):
        for gap in GAPS:
            held, start = fn(gap)
            print(f"| {name} | {gap * 1e3:.1f} ms | {np.median(held):.0f}, "
                  f"{np.percentile(held, 90):.0f} us | {np.median(start):.0f}, "
                  f"{np.percentile(start, 90):.0f} us |", flush=True)


if __name__ == "__main__":
    main()
