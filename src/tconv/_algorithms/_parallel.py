"""tconv's process resources in one object: a thread pool, per-thread scratch buffers and
the caches of planned layers, each with an explicit limit.

NumPy releases the GIL inside large array operations (copies, adds, multiplies) and BLAS,
so independent blocks of a layer -- image ranges, channel ranges -- run in parallel on
plain Python threads. Each thread keeps its scratch buffers between calls: a freshly
allocated multi-MiB array costs a page fault per 4 KiB when first written, which measured
as a 2-5x slowdown of a matrix product writing into it.

What tconv owns, and nothing else (no BLAS thread count, no environment variable, no NumPy
setting is ever changed; concurrent calls from user threads share the pool safely):

* **threads**: :func:`set_num_threads` (``tconv.set_num_threads``), else the environment
  variable ``TCONV_NUM_THREADS``, else the CPUs this process may use. One pool, shared by
  ``conv_transpose``, the gradients and ``interpolate``; blocks submitted from a pool thread
  run on that thread (no nested pools).
* **scratch**: at most :data:`KEEP_BYTES` per buffer and :data:`SCRATCH_BYTES` in all
  threads together are kept between calls; larger requests are allocated and dropped.
  A thread's buffers go with the thread.
* **caches**: planned layers (index tables, phase plans, validated parameters) in
  least-recently-used caches holding at most :data:`CACHE_BYTES` of arrays in all. Cached
  arrays are read-only, so no caller can corrupt a later call.

:func:`release_memory` (``tconv.release_memory``) drops every kept buffer and cache entry.
"""

from __future__ import annotations

import contextvars
import functools
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

__all__ = ["num_threads", "get_num_threads", "set_num_threads", "for_each", "pool_workers",
           "blas_product", "in_order",
           "in_worker", "scratch", "cached", "release_memory", "memory_in_use"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: scratch kept per buffer between calls, at most (larger requests are not kept)
KEEP_BYTES = 64 << 20
#: scratch kept by all threads together, at most
SCRATCH_BYTES = 256 << 20
#: bytes of arrays held by all caches together, at most (least recently used go first)
CACHE_BYTES = 64 << 20
#: tasks :func:`for_each` submits per thread at most (items are grouped into runs)
TASKS_PER_THREAD = 4
#: the largest product (``M*N*K`` multiply-adds) OpenBLAS runs on the calling thread
#: (``SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD`` in its ``interface/gemm.c``); an item
#: of :func:`for_each` issuing a larger one runs in order (:func:`pool_workers`)
BLAS_SINGLE_MACS = 65536 * 4
#: multiply-adds of one group's BLAS product from which a small grouped layer no longer
#: takes several groups a block (:func:`blas_threaded`); below it a block's products are
#: small enough that many groups side by side cost less than a block each
BLAS_THREADED_MACS = 1 << 21


def getenv(name: str, default: str = "") -> str:
    """``os.environ.get(name, default)`` in one dict lookup where ``os.environ`` keeps its
    encoded names in a dict (CPython on POSIX): the mapping's own ``get`` runs several
    Python-level calls, a few microseconds that small layers pay on every call (the
    variables are read per call, so that a change inside the process takes effect)."""
    env = os.environ
    data = getattr(env, "_data", None)
    if os.name == "posix" and type(data) is dict:
        raw = data.get(name.encode())
        return default if raw is None else os.fsdecode(raw)
    return env.get(name, default)


class _Resources:
    """The pool, the registry of per-thread scratch stores and the registry of caches."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.threads: int | None = None             # set_num_threads; None: env or CPUs
        self.pool: ThreadPoolExecutor | None = None
        self.local = threading.local()
        self.stores: weakref.WeakSet[_Store] = weakref.WeakSet()
        self.scratch_bytes = [0]                    # shared cell, also read by finalizers
        self.caches: list[_Cache] = []

    def workers(self) -> int:
        if self.threads is not None:
            return self.threads
        env = getenv("TCONV_NUM_THREADS")
        if env.strip().isdigit() and int(env) > 0:
            return int(env)
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            return os.cpu_count() or 1

    def get_pool(self, workers: int) -> ThreadPoolExecutor:
        with self.lock:
            if self.pool is None or self.pool._max_workers != workers:  # noqa: SLF001
                # the old pool finishes what it runs and its threads exit
                old, self.pool = self.pool, ThreadPoolExecutor(workers,
                                                                thread_name_prefix="tconv")
                if old is not None:
                    old.shutdown(wait=False)
            return self.pool


class _Store(dict[tuple[str, np.dtype], np.ndarray]):
    """One thread's kept scratch buffers (a dict subclass, so that it can be weakly
    referenced by the registry and counted down when its thread ends)."""

    __hash__ = object.__hash__  # type: ignore[assignment]  # identity: one store a thread

    def __init__(self) -> None:
        super().__init__()
        self.nbytes = [0]                           # a cell, read by its finalizer

    def __eq__(self, other: object) -> bool:
        return self is other


def _uncount(cell: list[int], nbytes: list[int]) -> None:
    cell[0] -= nbytes[0]


_RES = _Resources()


def _forget_pool() -> None:
    # a forked child inherits the pool object but not its threads: start a new one there
    global _RES
    threads = _RES.threads
    caches = _RES.caches
    _RES = _Resources()
    _RES.threads, _RES.caches = threads, caches
    for cache in caches:
        cache.lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def num_threads() -> int:
    """Threads tconv uses: :func:`set_num_threads`, else ``TCONV_NUM_THREADS``, else the CPUs
    this process may use."""
    return _RES.workers()


def get_num_threads() -> int:
    """The number of threads tconv's own work uses (``tconv.get_num_threads``).

    Examples:
        >>> import tconv
        >>> tconv.set_num_threads(2)
        >>> tconv.get_num_threads()
        2
        >>> tconv.set_num_threads(None)      # back to TCONV_NUM_THREADS or the CPU count
    """
    return num_threads()


def set_num_threads(n: int | None) -> None:
    """Use ``n`` threads for tconv's own work (``None``: back to ``TCONV_NUM_THREADS`` or the
    CPU count). Changes tconv's pool only; BLAS keeps its own setting."""
    if n is not None and (not isinstance(n, (int, np.integer)) or isinstance(n, bool)):
        raise TypeError(f"set_num_threads: n={n!r} must be a positive int or None")
    if n is not None and n < 1:
        raise ValueError(f"set_num_threads: n={n} must be a positive int or None")
    _RES.threads = None if n is None else int(n)


def even_split(total: int, most: int, groups: int = 1, pool: bool = True) -> int:
    """Items per block for ``total`` items in blocks of at most ``most``: equal blocks, and
    -- where the items allow and the blocks run on the pool (``pool``) -- a number of
    blocks (times ``groups``, blocks that run alongside) that the threads share evenly.
    Cutting 64 images at most 21 a block gave blocks of 21, 21, 21 and 1 -- one thread did
    twice the other's work. Blocks that run in order (their products threaded by BLAS,
    :func:`in_order`) are not cut finer: that only makes smaller products."""
    most = max(1, min(total, most))
    k = -(-total // most)                                   # blocks needed
    threads = num_threads()
    if pool and total * groups >= threads:
        k = max(k, -(-k * groups // threads) * threads // groups)
    return max(1, -(-total // max(1, min(k, total))))


def blas_threaded(macs: int) -> bool:
    """A small grouped layer's group products of ``macs`` multiply-adds are large enough
    to run a block a group: at least :data:`BLAS_THREADED_MACS`, with a multi-threaded
    BLAS and tconv threads (below, a block takes several groups:
    :func:`tconv._algorithms.gemm._groups_together`)."""
    return num_threads() > 1 and macs >= BLAS_THREADED_MACS and blas_threads() > 1


def in_order(macs: int) -> bool:
    """Blocks issuing a product of ``macs`` multiply-adds run in order on the calling thread,
    BLAS threading each product (:func:`pool_workers`'s rule: above
    :data:`BLAS_SINGLE_MACS`, with tconv threads and a multi-threaded BLAS). Block sizing
    asks it of a block's product before the block is cut for the pool's threads: blocks
    that would run in order anyway gain nothing from the cut but smaller products and more
    calls."""
    return macs > BLAS_SINGLE_MACS and num_threads() > 1 and blas_threads() > 1


def blas_product(m: int, k: int, n: int) -> int:
    """Multiply-adds of an ``m x k`` by ``k x n`` product as :func:`pool_workers` counts
    them: ``m*k*n`` for a matrix product, 0 for an outer product (``k == 1``: a broadcast
    multiply in :func:`tconv._algorithms._matmul.matmul`, no BLAS) or a matrix-vector one
    (``m`` or ``n`` 1, a depthwise layer's gradients): BLAS's threads speed those up
    little, and blocks issuing them share the pool."""
    return m * k * n if min(m, k, n) > 1 else 0


def pool_workers(items: int, blas_macs: int = 0, parallel: bool = True,
                 min_items: int | None = None) -> int:
    """Threads :func:`for_each` runs ``items`` items on (1: in order on the calling thread).

    ``blas_macs``: multiply-adds of the largest BLAS product one item issues
    (:func:`blas_product`). Above
    :data:`BLAS_SINGLE_MACS` (a product BLAS threads itself), and when BLAS runs on more
    than one thread (:func:`blas_threads`), the items run in order and BLAS threads each
    product whole. Pool threads that each call a threaded BLAS ask for threads x BLAS
    threads on as many cores (OpenBLAS also serialises concurrent threaded products); cut
    into single-thread pieces for the pool instead
    (:func:`tconv._algorithms._matmul.matmul`), the same products ran up to three times as
    long on two pool threads as whole in order (benchmarks/RESULTS.md, "Code changes
    checked"). tconv never changes BLAS's thread count (a process-wide setting it does not
    own). Inside a pool thread: 1."""
    workers = num_threads() if parallel else 1
    if workers > 1 and in_order(blas_macs):
        workers = 1
    need = workers if min_items is None else max(2, min_items)
    if workers <= 1 or items < need or in_worker():
        return 1
    return workers


#: set while the calling thread runs its share of :func:`for_each`'s items
_WORKING = threading.local()


def in_worker() -> bool:
    """Whether this thread runs tconv's parallel work: a thread of tconv's pool, of another
    pool named ``tconv*`` that already splits the work among threads (the up-scaler's
    bands), or a caller of :func:`for_each` while it runs its share. Nested work runs in
    order on it, and its BLAS products are cut to one-thread pieces."""
    return getattr(_WORKING, "on", False) or threading.current_thread().name.startswith("tconv")


def for_each(fn: Callable[[T], object], items: Sequence[T], parallel: bool = True,
             min_items: int | None = None, blas_macs: int = 0,
             workers: int | None = None) -> None:
    """``fn(item)`` for every item: on ``workers`` threads (:func:`pool_workers`), the
    calling thread one of them, or in order on the calling thread when that is 1 (few
    items, large threaded BLAS products, or a call from inside a worker). ``workers``: a
    count the caller already got from :func:`pool_workers` for these items.

    Items go in runs of consecutive items (at most ``TASKS_PER_THREAD`` runs a thread: a
    run costs a lock and a queue pop, which a thousand small items -- one per image plane
    -- would pay a thousand times), which the calling thread and ``workers - 1`` pool
    threads take in turn until none is left. The caller starts at once instead of waiting
    on a woken thread, and a pool thread that has not started when the runs are done is
    not waited for. An exception from ``fn`` stops the runs not yet started and is raised
    after every started run ends. Pool threads run the items in a copy of the caller's
    context (``np.errstate`` holds there too)."""
    if workers is None:
        workers = pool_workers(len(items), blas_macs, parallel, min_items)
    if workers <= 1 or in_worker():
        for item in items:
            fn(item)
        return
    items = list(items)
    step = -(-len(items) // (TASKS_PER_THREAD * workers))
    runs = [items[i:i + step] for i in range(0, len(items), step)]
    take = iter(runs)
    lock = threading.Lock()
    failed: list[bool] = []                         # once an item raises, no run starts

    def drain() -> None:
        _WORKING.on = True
        try:
            while not failed:
                with lock:
                    run = next(take, None)
                if run is None:
                    return
                try:
                    for item in run:
                        fn(item)
                except BaseException:
                    failed.append(True)
                    raise
        finally:
            _WORKING.on = False

    pool = _RES.get_pool(workers - 1)
    # each pool thread runs in a copy of the caller's context: its NumPy error state
    # (np.errstate, a context variable) holds for the items there as on the caller
    futures = [pool.submit(contextvars.copy_context().run, drain)
               for _ in range(min(workers, len(runs)) - 1)]
    try:
        drain()
    finally:
        for future in futures:
            if not future.cancel():
                future.exception()              # wait: an item may still be running
    for future in futures:
        if not future.cancelled() and future.exception() is not None:
            raise future.exception()  # type: ignore[misc]


@functools.lru_cache(maxsize=1)
def blas_threads() -> int:
    """Threads a multi-threaded BLAS uses for a large product, as it reads them at start-up
    (never set here), read once per process: ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
    ``OMP_NUM_THREADS``, else the CPUs this process may use. A count changed later inside
    the process (a variable, or a BLAS call setting its threads) is not seen, as BLAS does
    not see it either: blocks then run in order with a one-thread BLAS, slower, never
    wrong."""
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        env = getenv(var).split(",")[0].strip()
        if env.isdigit() and int(env) > 0:
            return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def scratch(name: str, size: int, dtype: np.typing.DTypeLike) -> np.ndarray:
    """A flat buffer of at least ``size`` numbers owned by this thread (contents undefined).

    Two live buffers of one thread need two names. Kept for the next call when it holds at
    most :data:`KEEP_BYTES` and all threads' kept buffers stay under :data:`SCRATCH_BYTES`.
    """
    dtype = np.dtype(dtype)
    res = _RES
    store: _Store | None = getattr(res.local, "buffers", None)
    if store is None:
        store = res.local.buffers = _Store()
        res.stores.add(store)
        weakref.finalize(store, _uncount, res.scratch_bytes, store.nbytes)
    key = (name, dtype)
    buf = store.get(key)
    if buf is not None and buf.size >= size:
        return buf[:size]
    buf = np.empty(size, dtype=dtype)
    with res.lock:
        old = store.pop(key, None)
        freed = 0 if old is None else old.nbytes
        res.scratch_bytes[0] -= freed
        store.nbytes[0] -= freed
        if buf.nbytes <= KEEP_BYTES and res.scratch_bytes[0] + buf.nbytes <= SCRATCH_BYTES:
            store[key] = buf
            res.scratch_bytes[0] += buf.nbytes
            store.nbytes[0] += buf.nbytes
    return buf[:size]


def _freeze(value: Any) -> int:
    """Make the arrays in a cached value read-only (also inside tuples, lists and plain
    objects' attributes); return their bytes."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_freeze(v) for v in value)
    if isinstance(value, dict):
        return sum(_freeze(v) for v in value.values())
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        return sum(_freeze(getattr(value, f)) for f in value.__dataclass_fields__)
    return 0


class _Cache:
    """A least-recently-used cache of one function, at most ``maxsize`` entries, its arrays
    counted against :data:`CACHE_BYTES` (shared by all caches) and read-only."""

    def __init__(self, fn: Callable[..., Any], maxsize: int) -> None:
        self.fn, self.maxsize = fn, maxsize
        self.entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = self.misses = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key: Hashable = (args, tuple(sorted(kwargs.items()))) if kwargs else args
        # a hit takes no lock: the OrderedDict's get and move_to_end are each atomic under
        # the GIL, and an entry another thread dropped in between is only not moved
        hit = self.entries.get(key)
        if hit is not None:
            try:
                self.entries.move_to_end(key)
            except KeyError:
                pass
            self.hits += 1
            return hit[0]
        value = self.fn(*args, **kwargs)
        nbytes = _freeze(value)
        with self.lock:
            self.misses += 1
            if key not in self.entries:
                self.entries[key] = (value, nbytes)
                while len(self.entries) > self.maxsize:
                    self.entries.popitem(last=False)
        if nbytes:
            _trim_caches()
        return value

    def nbytes(self) -> int:
        with self.lock:
            return sum(b for _, b in self.entries.values())

    def cache_clear(self) -> None:
        with self.lock:
            self.entries.clear()


def _trim_caches() -> None:
    """Drop the oldest entries of the caches holding the most until all hold at most
    :data:`CACHE_BYTES`."""
    caches = list(_RES.caches)
    total = sum(c.nbytes() for c in caches)
    while total > CACHE_BYTES:
        biggest = max(caches, key=lambda c: c.nbytes())
        with biggest.lock:
            if not biggest.entries:
                break
            _, (_, nbytes) = biggest.entries.popitem(last=False)
        total -= nbytes


def cached(maxsize: int) -> Callable[[F], F]:
    """Decorator: remember ``maxsize`` results of a function of hashable arguments, their
    arrays read-only and counted against :data:`CACHE_BYTES`; cleared by
    :func:`release_memory`."""
    def wrap(fn: F) -> F:
        cache = _Cache(fn, maxsize)
        _RES.caches.append(cache)
        functools.update_wrapper(cache, fn)
        return cache  # type: ignore[return-value]
    return wrap


def release_memory() -> None:
    """Drop every kept scratch buffer (of every thread) and every cache entry.

    Arrays a running call still uses stay alive until it returns; the next call allocates
    and plans again."""
    res = _RES
    with res.lock:
        for store in list(res.stores):
            store.clear()
            store.nbytes[0] = 0
        res.scratch_bytes[0] = 0
    for cache in res.caches:
        cache.cache_clear()


def memory_in_use() -> dict[str, int]:
    """Bytes tconv keeps between calls: ``{"scratch": ..., "cache": ...}``."""
    return {"scratch": _RES.scratch_bytes[0], "cache": sum(c.nbytes() for c in _RES.caches)}
