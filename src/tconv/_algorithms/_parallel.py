"""Blocks of work on a small thread pool, and per-thread scratch buffers.

NumPy releases the GIL inside large array operations (copies, adds, multiplies) and BLAS,
so independent blocks of a layer -- image ranges, channel ranges -- run in parallel on
plain Python threads. Each thread keeps its scratch buffers between calls: a freshly
allocated multi-MiB array costs a page fault per 4 KiB when first written, which measured
as a 2-5x slowdown of a matrix product writing into it.

While the pool runs blocks, BLAS is held to one thread per call (through ``threadpoolctl``,
the optional extra ``tconv[fast]``; without it BLAS keeps its own threads): each worker
then runs its products on its own core with no BLAS-internal barrier per call. On a busy
machine those barriers cost a scheduler time slice per product (a 3-D layer of 12 block
products: 30 ms -> 400 ms measured); on a quiet one, one big product per worker runs as
fast as one two-thread product.

``TCONV_NUM_THREADS`` sets the number of threads (default: the CPUs this process may use).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

__all__ = ["num_threads", "for_each", "scratch"]

T = TypeVar("T")

#: scratch kept per thread between calls, at most (larger requests are not kept)
KEEP_BYTES = 64 << 20

_LOCAL = threading.local()
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def num_threads() -> int:
    env = os.environ.get("TCONV_NUM_THREADS", "")
    if env.strip().isdigit() and int(env) > 0:
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def even_split(total: int, most: int, groups: int = 1) -> int:
    """Items per block for ``total`` items in blocks of at most ``most``: equal blocks, and
    -- where the items allow -- a number of blocks (times ``groups``, blocks that run
    alongside) that the threads share evenly. Cutting 64 images at most 21 a block gave
    blocks of 21, 21, 21 and 1 -- one thread did twice the other's work (a4)."""
    most = max(1, min(total, most))
    k = -(-total // most)                                   # blocks needed
    threads = num_threads()
    if total * groups >= threads:
        k = max(k, -(-k * groups // threads) * threads // groups)
    return max(1, -(-total // max(1, min(k, total))))


def _forget_pool() -> None:
    # a forked child inherits the pool object but not its threads: start a new one there
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool(workers: int) -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers != workers:  # noqa: SLF001
            _POOL = ThreadPoolExecutor(workers, thread_name_prefix="tconv")
        return _POOL


def _blas_limiter() -> Any:
    """A cached ``threadpoolctl.ThreadpoolController``, or None without the extra."""
    global _CONTROLLER
    if _CONTROLLER is False:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER = None
        else:
            _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


_CONTROLLER: Any = False


def for_each(fn: Callable[[T], object], items: Sequence[T], parallel: bool = True,
             limit_blas: bool = True) -> None:
    """``fn(item)`` for every item; on the pool (BLAS on one thread per worker, unless
    ``limit_blas`` is False: the items call no BLAS) when there are at least as many items
    as threads."""
    workers = num_threads() if parallel else 1
    if (workers <= 1 or len(items) < workers
            or threading.current_thread().name.startswith("tconv")):
        for item in items:
            fn(item)
        return
    controller = _blas_limiter() if limit_blas else None
    limit = controller.limit(limits=1, user_api="blas") if controller is not None \
        else contextlib.nullcontext()
    with limit:
        for future in [_pool(workers).submit(fn, item) for item in items]:
            future.result()


def scratch(name: str, size: int, dtype: np.typing.DTypeLike) -> np.ndarray:
    """A flat buffer of at least ``size`` numbers owned by this thread (contents undefined).

    Two live buffers of one thread need two names.
    """
    dtype = np.dtype(dtype)
    store = getattr(_LOCAL, "buffers", None)
    if store is None:
        store = _LOCAL.buffers = {}
    buf = store.get((name, dtype))
    if buf is None or buf.size < size:
        buf = np.empty(size, dtype=dtype)
        if buf.nbytes <= KEEP_BYTES:
            store[(name, dtype)] = buf
    return buf[:size]
