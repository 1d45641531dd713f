"""Blocks whose work is one large BLAS product run in order on the calling thread when BLAS
threads its products itself (``_parallel.for_each(..., blas_macs=...)``); smaller ones and
compiled kernels keep tconv's pool. Either way the result is the same to rounding: a product
issued from the pool is cut into pieces, and some BLAS kernels (OpenBLAS's AVX2 ones) round
a piece differently from the whole product. Each way is deterministic: which thread runs
which block never changes a bit."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import tconv
from tconv._algorithms import _parallel


@pytest.fixture
def two_threads():
    tconv.set_num_threads(2)
    yield
    tconv.set_num_threads(None)


def _threads_used(blas_macs: int, items: int = 4) -> set[tuple[str, bool]]:
    """The (thread name, running as a worker) pairs the items ran on."""
    seen: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def fn(_: int) -> None:
        with lock:
            seen.append((threading.current_thread().name, _parallel.in_worker()))

    _parallel.for_each(fn, list(range(items)), blas_macs=blas_macs)
    return set(seen)


def _on_workers(used: set[tuple[str, bool]]) -> bool:
    """Every item ran as a worker: on the calling thread or a thread of tconv's pool."""
    me = threading.current_thread().name
    return all(worker and (name == me or name.startswith("tconv")) for name, worker in used)


class TestForEach:
    def test_products_blas_threads_run_in_order(self, two_threads, monkeypatch):
        """An item issuing a product BLAS threads itself runs in order, the product whole
        -- from one multiply-add above what OpenBLAS keeps on the calling thread."""
        monkeypatch.setattr(_parallel, "blas_threads", lambda: 2)
        me = {(threading.current_thread().name, False)}
        for macs in (_parallel.BLAS_SINGLE_MACS + 1, _parallel.BLAS_THREADED_MACS,
                     10 * _parallel.BLAS_THREADED_MACS):
            assert _threads_used(macs, items=64) == me

    def test_vector_and_outer_products_use_the_pool(self, two_threads, monkeypatch):
        """Items whose products are matrix-vector (a side of one: a depthwise layer's
        gradients) or outer (one term: a broadcast multiply, no BLAS) share the pool
        whatever their size; matrix products BLAS threads run in order."""
        monkeypatch.setattr(_parallel, "blas_threads", lambda: 2)
        big = 64 * _parallel.BLAS_SINGLE_MACS
        for m, k, n in ((1, big, 2), (2, big, 1), (big, 1, 2), (1, 1, big)):
            assert _parallel.blas_product(m, k, n) == 0
            assert _on_workers(_threads_used(_parallel.blas_product(m, k, n), items=64))
        assert _parallel.blas_product(2, 3, 5) == 30
        macs = _parallel.blas_product(64, 4096, 256)
        assert _threads_used(macs, items=64) == {(threading.current_thread().name, False)}

    def test_single_thread_products_use_the_pool(self, two_threads, monkeypatch):
        monkeypatch.setattr(_parallel, "blas_threads", lambda: 2)
        for macs in (1, _parallel.BLAS_SINGLE_MACS):
            assert _on_workers(_threads_used(macs, items=64))

    def test_one_thread_blas_uses_the_pool(self, two_threads, monkeypatch):
        monkeypatch.setattr(_parallel, "blas_threads", lambda: 1)
        assert _on_workers(_threads_used(10 * _parallel.BLAS_THREADED_MACS, items=64))

    def test_no_hint_uses_the_pool(self, two_threads, monkeypatch):
        monkeypatch.setattr(_parallel, "blas_threads", lambda: 8)
        assert _on_workers(_threads_used(0, items=64))


class TestBlasThreads:
    """``blas_threads`` reads the variables BLAS reads at start-up, once per process (the
    tests clear that memory to read them again)."""

    @pytest.fixture(autouse=True)
    def _fresh(self):
        _parallel.blas_threads.cache_clear()
        yield
        _parallel.blas_threads.cache_clear()

    def _read(self) -> int:
        _parallel.blas_threads.cache_clear()
        return _parallel.blas_threads()

    def test_reads_the_start_up_variables(self, monkeypatch):
        import os

        if os.environ.get("OPENBLAS_NUM_THREADS"):
            pytest.skip("OPENBLAS_NUM_THREADS is set here; tests never change it")
        monkeypatch.setenv("MKL_NUM_THREADS", "3")
        assert self._read() == 3
        monkeypatch.delenv("MKL_NUM_THREADS")
        monkeypatch.setenv("OMP_NUM_THREADS", "5,2")
        assert self._read() == 5
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert self._read() == len(os.sched_getaffinity(0))

    def test_read_once_per_process(self, monkeypatch):
        import os

        if os.environ.get("OPENBLAS_NUM_THREADS"):
            pytest.skip("OPENBLAS_NUM_THREADS is set here; tests never change it")
        monkeypatch.setenv("MKL_NUM_THREADS", "3")
        assert self._read() == 3
        monkeypatch.setenv("MKL_NUM_THREADS", "6")   # BLAS would not see it either
        assert _parallel.blas_threads() == 3

    def test_ignores_malformed_values(self, monkeypatch):
        import os

        if os.environ.get("OPENBLAS_NUM_THREADS"):
            pytest.skip("OPENBLAS_NUM_THREADS is set here; tests never change it")
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        for bad in ("", "0", "-2", "two"):
            monkeypatch.setenv("MKL_NUM_THREADS", bad)
            assert self._read() == len(os.sched_getaffinity(0))


# layers of every algorithm whose blocks carry a BLAS product: channels-first and
# channels-last gemm, phase, and the backward's im2col products
LAYERS = [
    ((16, 64, 4, 4), (64, 32, 4, 4), 2, 1, np.float32),     # gemm, channels last
    ((8, 32, 8, 8), (32, 16, 4, 4), 2, 1, np.float64),
    ((2, 64, 16, 16), (64, 32, 4, 4), 2, 1, np.float32),    # phase
    ((4, 48, 32), (48, 24, 16), 8, 4, np.float32),          # 1-D k16 s8
    ((1, 8, 64, 64), (8, 2, 9, 9), 2, 4, np.float32),       # channels first, big kernel
    ((2, 32, 6, 6, 6), (32, 8, 2, 2, 2), 2, 0, np.float64),  # 3-D
]


@pytest.mark.parametrize("xs, ws, s, p, dt", LAYERS)
def test_in_order_equals_pool(xs, ws, s, p, dt, two_threads, monkeypatch):
    rng = np.random.default_rng(sum(xs) + sum(ws))
    x = rng.standard_normal(xs).astype(dt)
    w = rng.standard_normal(ws).astype(dt)
    y0 = tconv.conv_transpose(x, w, None, s, p)
    gy = rng.standard_normal(y0.shape).astype(dt)
    monkeypatch.setattr(_parallel, "BLAS_SINGLE_MACS", 0)       # every hinted block in order
    monkeypatch.setattr(_parallel, "BLAS_THREADED_MACS", 1)     # a block a group
    monkeypatch.setattr(_parallel, "blas_threads", lambda: 2)
    y_order = tconv.conv_transpose(x, w, None, s, p)
    g_order = tconv.conv_transpose_backward(gy, x, w, s, p)
    monkeypatch.setattr(_parallel, "blas_threads", lambda: 1)   # every block on the pool
    y_pool = tconv.conv_transpose(x, w, None, s, p)
    g_pool = tconv.conv_transpose_backward(gy, x, w, s, p)
    tol = 1e-5 if dt == np.float32 else 1e-12
    for a, b in zip((y_order, y0, *g_order), (y_pool, y_pool, *g_pool)):
        if a is None:
            assert b is None
            continue
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * float(np.abs(b).max()))
    # the pool's blocks go to whichever thread is free: the bits must not depend on it
    for _ in range(3):
        np.testing.assert_array_equal(tconv.conv_transpose(x, w, None, s, p), y_pool)
        for a, b in zip(tconv.conv_transpose_backward(gy, x, w, s, p), g_pool):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)


def _block_calls(x: np.ndarray, w: np.ndarray, s: int, p: int, backward: bool,
                 monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """``(items, threads)`` of every :func:`_parallel.for_each` call the layer makes."""
    calls: list[tuple[int, int]] = []
    original = _parallel.for_each

    def record(fn, items, parallel=True, min_items=None, blas_macs=0, workers=None):
        items = list(items)
        used = workers if workers is not None else _parallel.pool_workers(
            len(items), blas_macs, parallel, min_items)
        calls.append((len(items), used))
        return original(fn, items, parallel, min_items, blas_macs, workers)

    with monkeypatch.context() as m:
        m.setattr(_parallel, "for_each", record)
        y = tconv.conv_transpose(x, w, None, s, p)
        if backward:
            tconv.conv_transpose_backward(np.ones_like(y), x, w, s, p)
    return calls


@pytest.mark.parametrize("seed", range(6))
def test_blocks_in_order_are_not_cut(seed, monkeypatch):
    """Blocks whose products BLAS threads run in order; cutting them for a pool they do not
    use only makes smaller products and more calls. Over seeded dense layers (1-3-D, both
    dtypes, forward and backward, of every size from below to far above one threaded
    product), every call that runs its blocks in order on two tconv threads has as many
    blocks as on one thread, where nothing is cut for the pool."""
    monkeypatch.setattr(_parallel, "blas_threads", lambda: 2)
    rng = np.random.default_rng(seed)
    checked = 0
    for _ in range(12):
        nd = int(rng.integers(1, 4))
        s = int(rng.integers(1, 4))
        k = int(rng.integers(1, 2 * s + 2))
        side = int(rng.choice([4, 8, 16] if nd == 3 else [8, 16, 32, 64]))
        xs = (int(rng.choice([1, 2, 4, 8, 16])), int(rng.choice([8, 32, 128])),
              *(side,) * nd)
        ws = (xs[1], int(rng.choice([1, 3, 16, 64])), *(k,) * nd)
        dt = np.float64 if rng.random() < 0.25 else np.float32
        x = rng.standard_normal(xs).astype(dt)
        w = rng.standard_normal(ws).astype(dt)
        p = int(rng.integers(0, k))
        backward = bool(rng.random() < 0.5)
        monkeypatch.setattr(_parallel._RES, "threads", 1)
        one = _block_calls(x, w, s, p, backward, monkeypatch)
        monkeypatch.setattr(_parallel._RES, "threads", 2)
        two = _block_calls(x, w, s, p, backward, monkeypatch)
        if len(one) != len(two):       # a path chosen by the thread count: not comparable
            continue
        for (items1, _), (items2, used) in zip(one, two):
            if used == 1:
                checked += 1
                assert items2 == items1, (xs, ws, s, p, dt, backward, one, two)
    assert checked > 0
