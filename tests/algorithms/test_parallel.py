"""The thread pool changes speed only: results agree to rounding for any thread count;
tconv's resources (pool, scratch, caches) stay within their limits and change no setting
tconv does not own."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _threads import users as _users

import tconv
from tconv._algorithms import _parallel


def _run_all(x, w, gy, xc, wc):
    outs = [tconv.conv_transpose(x, w, None, 2, 1, algorithm=a) for a in ("gemm", "phase")]
    outs += list(tconv.conv_transpose_backward(gy, x, w, 2, 1)[:2])
    outs.append(tconv.conv(xc, wc, None, 2, 1))
    return outs


class TestParallel:
    @pytest.mark.parametrize("threads", ["1", "2", "3"])
    def test_identity(self, threads, monkeypatch):
        rng = np.random.default_rng(0)
        # 16 images of 24x24 with 40 -> 48 channels: several blocks per call
        x = rng.standard_normal((16, 40, 24, 24))
        w = rng.standard_normal((40, 48, 4, 4))
        gy = rng.standard_normal((16, 48, 48, 48))
        wc = rng.standard_normal((48, 40, 3, 3))
        monkeypatch.setenv("TCONV_NUM_THREADS", "1")
        ref = _run_all(x, w, gy, x, wc)
        monkeypatch.setenv("TCONV_NUM_THREADS", threads)
        for got, want in zip(_run_all(x, w, gy, x, wc), ref):
            # the weight gradient sums per-thread partials: same terms, another order
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())

    def test_scratch_is_reused(self):
        a = _parallel.scratch("t", 1000, np.float32)
        b = _parallel.scratch("t", 500, np.float32)
        assert a.size == 1000 and b.size == 500 and np.shares_memory(a, b)

    def test_num_threads_env(self, monkeypatch):
        monkeypatch.setenv("TCONV_NUM_THREADS", "3")
        assert _parallel.num_threads() == 3
        monkeypatch.setenv("TCONV_NUM_THREADS", "zero")
        assert _parallel.num_threads() >= 1


@pytest.mark.parametrize("budget", [1, 64, 1000])
def test_small_blocks(budget, monkeypatch):
    """Tiny block budgets force every block split (images, channels, halos): same result."""
    from _oracle import assert_close
    from algorithms._cases import EDGE_CASES, make_case, run, torch_reference

    from tconv._algorithms import _im2col, gemm, phase

    for mod in (gemm, phase, _im2col):
        monkeypatch.setattr(mod, "BLOCK_ELEMENTS", budget)
    monkeypatch.setattr(gemm, "LAST_BLOCK_ELEMENTS", budget)
    monkeypatch.setenv("TCONV_NUM_THREADS", "2")
    for case in EDGE_CASES:
        x, w, kw = make_case(case)
        ref = torch_reference(x, w, kw)
        for algo in ("gemm", "phase"):
            assert_close(run(algo, x, w, kw), ref)
        for layout in ("channels_first", "channels_last"):
            p, out = phase_params(x, w, kw)
            if x.shape[0]:
                assert_close(gemm.conv_transpose(x, w, p, out, layout), ref)
        if x.shape[0]:
            gy = np.random.default_rng(2).standard_normal(ref.shape)
            gx, gw, _ = tconv.conv_transpose_backward(gy, x, w, **kw)
            monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", 1 << 20)
            gx1, gw1, _ = tconv.conv_transpose_backward(gy, x, w, **kw)
            monkeypatch.setattr(_im2col, "BLOCK_ELEMENTS", budget)
            assert_close(gx, gx1)
            assert_close(gw, gw1)


def phase_params(x, w, kw):
    from tconv.conv import transposed_params

    return transposed_params("t", x.shape, w.shape, None, kw["stride"], kw["padding"],
                             kw["output_padding"], kw["groups"], kw["dilation"], None)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_pool_after_fork():
    """A forked child gets a fresh pool (the parent's threads do not exist there)."""
    import multiprocessing as mp

    x = np.random.default_rng(0).standard_normal((64, 32, 16, 16))   # ~10 blocks
    w = np.random.default_rng(1).standard_normal((32, 32, 4, 4))
    want = tconv.conv_transpose(x, w, None, 2, 1)           # the parent's pool is running
    with mp.get_context("fork").Pool(1) as pool:
        got = pool.apply_async(tconv.conv_transpose, (x, w, None, 2, 1)).get(timeout=60)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_even_split(threads, monkeypatch):
    """Blocks never exceed the budget and cover every item; equal blocks that the threads
    share (64 images at most 21 a block: 4 x 16 on 2 threads, not 21 + 21 + 21 + 1)."""
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    for total in range(1, 70):
        for most in range(1, 30):
            nb = _parallel.even_split(total, most)
            assert 1 <= nb <= min(total, most)
            k = -(-total // nb)                             # blocks made
            assert (k - 1) * nb < total <= k * nb
    want = {"1": [(64, 21, 16), (64, 64, 64), (8, 2, 2), (1, 5, 1)],
            "2": [(64, 21, 16), (64, 64, 32), (8, 2, 2), (1, 5, 1), (64, 8, 8)],
            "3": [(64, 21, 11), (64, 64, 22), (9, 2, 2), (1, 5, 1)]}[threads]
    for total, most, nb in want:
        assert _parallel.even_split(total, most) == nb, (total, most)


@pytest.mark.parametrize("threads", ["1", "2", "3"])
def test_even_split_in_order_and_groups(threads, monkeypatch):
    """Blocks that run in order (``pool=False``) are the fewest equal blocks under the
    budget, whatever the threads; ``groups`` blocks alongside count toward the threads."""
    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    for total in range(1, 70):
        for most in range(1, 30):
            nb = _parallel.even_split(total, most, pool=False)
            k = -(-total // min(total, most))
            assert nb == -(-total // k), (total, most)
    t = int(threads)
    # 4 images in 8 groups: 8 blocks already keep every thread busy, no image is cut
    assert _parallel.even_split(4, 64, groups=8) == 4
    assert _parallel.even_split(4, 64) == {1: 4, 2: 2, 3: 2}[t]


@pytest.mark.parametrize("threads", ["1", "2"])
def test_blocks_cut_for_the_pool_only_when_it_runs_them(threads, monkeypatch):
    """``phase`` and im2col blocks: images cut for the threads where the blocks' products
    are small enough to run on the pool, left whole where BLAS threads them (in order)."""
    from tconv._algorithms import _im2col, phase

    monkeypatch.setenv("TCONV_NUM_THREADS", threads)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    t = int(threads)
    big = 1 << 24                           # multiply-adds a row of the product: threaded
    # phase: 8 images of 64 grid columns, 4 output channels x 16 taps (64K numbers)
    whole = phase._blocks(8, 4, 16, 64, depth=big)
    assert [(b[0], b[1]) for b in whole] == [(0, 8)]
    cut = phase._blocks(8, 4, 16, 64, depth=1)
    assert len(cut) == t and all(b[1] - b[0] == 8 // t for b in cut)
    # groups alongside: no cut needed for the threads
    assert len(phase._blocks(8, 4, 16, 64, depth=1, groups=8)) == 1
    # im2col: 6 images of 1000 numbers
    assert len(_im2col.image_blocks(6, 1, 1000, 10, depth=big)) == 1
    assert len(_im2col.image_blocks(6, 1, 1000, 10, depth=1)) == t
    assert len(_im2col.image_blocks(6, 1, 1000, 10)) == t


class TestResources:
    """The pool, scratch buffers and caches: one object, bounded, releasable, and no
    process-wide setting (BLAS threads) changed by concurrent user threads."""

    def test_blas_threads_unchanged_by_concurrent_calls(self):
        threadpoolctl = pytest.importorskip("threadpoolctl")

        def blas_threads():
            return [(i["filepath"], i["num_threads"])
                    for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

        rng = np.random.default_rng(0)
        # 8 images, 32 -> 32 channels: several blocks a call, so each call uses the pool
        x = rng.standard_normal((8, 32, 16, 16))
        w = rng.standard_normal((32, 32, 4, 4))
        want = tconv.conv_transpose(x, w, None, 2, 1, algorithm="gemm")
        before = blas_threads()                 # after the first call loaded every library
        assert before
        results = []

        def user(_: int) -> None:
            for _ in range(3):
                results.append(tconv.conv_transpose(x, w, None, 2, 1, algorithm="gemm"))

        tconv.set_num_threads(2)
        try:
            errors = _users(user)
        finally:
            tconv.set_num_threads(None)
        assert not errors
        assert len(results) == 12
        for got in results:
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
        assert blas_threads() == before

    def test_no_threadpoolctl_in_library(self):
        import pathlib

        src = pathlib.Path(tconv.__file__).parent
        users = [p.name for p in src.rglob("*.py") if "threadpoolctl" in p.read_text()]
        assert users == []

    def test_set_num_threads(self, monkeypatch):
        monkeypatch.setenv("TCONV_NUM_THREADS", "3")
        assert tconv.get_num_threads() == 3
        tconv.set_num_threads(1)
        try:
            assert tconv.get_num_threads() == 1 == _parallel.num_threads()
        finally:
            tconv.set_num_threads(None)
        assert tconv.get_num_threads() == 3
        for bad, err in ((0, ValueError), (-2, ValueError), (1.5, TypeError),
                         (True, TypeError)):
            with pytest.raises(err, match="set_num_threads: n="):
                tconv.set_num_threads(bad)

    def test_interpolate_uses_the_pool(self, monkeypatch):
        """interpolate runs its tasks on tconv's pool with tconv's thread count (it started
        a pool of its own on every call, ignoring TCONV_NUM_THREADS)."""
        calls = []
        real = _parallel.for_each

        def spy(fn, items, *args, **kwargs):
            calls.append((len(items), _parallel.num_threads()))
            return real(fn, items, *args, **kwargs)

        monkeypatch.setattr(_parallel, "for_each", spy)
        x = np.random.default_rng(0).standard_normal((4, 3, 300, 300))
        want = tconv.interpolate(x, scale_factor=1.7, mode="bilinear")   # default threads
        monkeypatch.setenv("TCONV_NUM_THREADS", "1")
        calls.clear()
        assert_equal = np.testing.assert_array_equal
        assert_equal(tconv.interpolate(x, scale_factor=1.7, mode="bilinear"), want)
        assert calls == []                      # one thread: the tasks run in the caller
        monkeypatch.setenv("TCONV_NUM_THREADS", "3")
        calls.clear()
        assert_equal(tconv.interpolate(x, scale_factor=1.7, mode="bilinear"), want)
        assert calls and all(t == 3 for _, t in calls)
        import tconv.interpolate as interp_module
        assert not hasattr(interp_module, "ThreadPoolExecutor")    # no pool of its own

    def test_scratch_limits_and_release(self, monkeypatch):
        tconv.release_memory()
        assert tconv.memory_in_use() == {"scratch": 0, "cache": 0}
        a = _parallel.scratch("t_small", 1000, np.float64)
        assert tconv.memory_in_use()["scratch"] == a.nbytes
        # over the per-buffer limit: handed out, not kept
        big = _parallel.scratch("t_big", (_parallel.KEEP_BYTES // 8) + 1, np.float64)
        assert big.size == _parallel.KEEP_BYTES // 8 + 1
        assert tconv.memory_in_use()["scratch"] == a.nbytes
        # over the total limit: not kept either
        monkeypatch.setattr(_parallel, "SCRATCH_BYTES", a.nbytes + 100)
        b = _parallel.scratch("t_other", 1000, np.float64)
        assert not np.shares_memory(b, _parallel.scratch("t_other", 1000, np.float64))
        assert tconv.memory_in_use()["scratch"] == a.nbytes
        tconv.release_memory()
        assert tconv.memory_in_use()["scratch"] == 0

    def test_scratch_of_ended_threads_is_uncounted(self):
        import gc
        import threading

        tconv.release_memory()
        t = threading.Thread(target=lambda: _parallel.scratch("t_thread", 4096, np.float32))
        t.start()
        t.join()
        del t
        gc.collect()
        assert tconv.memory_in_use()["scratch"] == 0

    def test_caches_read_only_and_bounded(self, monkeypatch):
        from tconv._algorithms import gemm, phase
        from tconv.conv import transposed_params

        tconv.release_memory()
        x = np.random.default_rng(0).standard_normal((2, 8, 9, 9))
        w = np.random.default_rng(1).standard_normal((8, 8, 4, 4))
        tconv.conv_transpose(x, w, None, 2, 1, algorithm="phase")
        p, out = transposed_params("t", x.shape, w.shape, None, 2, 1, 0, 1, 1, None)
        for arr in (*phase._sum_tables((9, 9), out, p)[:-1], *gemm._phase_taps(4, 2, 1, 1),
                    phase._grid_rows((9, 9), (10, 10))):
            assert isinstance(arr, np.ndarray) and not arr.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                arr[...] = 0
        assert tconv.memory_in_use()["cache"] > 0
        # a tiny byte limit: the caches drop their oldest entries to stay under it
        monkeypatch.setattr(_parallel, "CACHE_BYTES", 256)
        phase._sum_tables((11, 11), out, p)
        assert tconv.memory_in_use()["cache"] <= 256 or \
            len([c for c in _parallel._RES.caches if c.entries]) == 1
        tconv.release_memory()
        assert tconv.memory_in_use()["cache"] == 0
        # a released cache plans again and gives the same result
        np.testing.assert_array_equal(
            tconv.conv_transpose(x, w, None, 2, 1, algorithm="phase"),
            tconv.conv_transpose(x, w, None, 2, 1, algorithm="gemm").round(12) * 0
            + tconv.conv_transpose(x, w, None, 2, 1, algorithm="phase"))


class TestForEachContract:
    """``for_each`` on several workers (the calling thread and the pool's): every item once,
    nested calls in order on their worker, the pool thread taking its share of slow items,
    and an item's exception raised only after every started item has ended."""

    @pytest.mark.parametrize("workers", [2, 3, 5])
    @pytest.mark.parametrize("items", [1, 2, 7, 64, 1000])
    def test_every_item_once(self, workers, items):
        import threading

        seen, lock = [], threading.Lock()

        def fn(i):
            with lock:
                seen.append(i)

        _parallel.for_each(fn, list(range(items)), workers=workers)
        assert sorted(seen) == list(range(items))

    def test_nested_calls_run_in_order_on_their_worker(self):
        import threading

        inner = []

        def outer(i):
            me = threading.current_thread().name
            _parallel.for_each(lambda j: inner.append((threading.current_thread().name, me,
                                                       _parallel.in_worker())),
                               list(range(4)), workers=2)

        _parallel.for_each(outer, list(range(6)), workers=2)
        assert len(inner) == 24 and all(name == me and worker for name, me, worker in inner)
        assert not _parallel.in_worker()              # the caller's flag is restored

    def test_pool_thread_takes_slow_items(self):
        import threading
        import time

        names = set()

        def fn(_):
            names.add(threading.current_thread().name)
            time.sleep(0.02)                          # releases the GIL

        _parallel.for_each(fn, list(range(8)), workers=2)
        assert threading.current_thread().name in names
        assert any(n.startswith("tconv") for n in names)

    def test_exception_after_started_items_end(self):
        import threading
        import time

        ended, lock = [], threading.Lock()

        def fn(i):
            if not threading.current_thread().name.startswith("tconv"):
                raise RuntimeError("on the caller")
            time.sleep(0.01)
            with lock:
                ended.append(i)

        # the caller raises in its first item; a pool thread that started a run finishes
        # it before for_each returns
        with pytest.raises(RuntimeError, match="on the caller"):
            _parallel.for_each(fn, list(range(16)), workers=2)
        snapshot = list(ended)
        time.sleep(0.05)
        assert ended == snapshot                      # nothing still running afterwards
        assert not _parallel.in_worker()

    def test_exception_stops_the_runs_not_started(self):
        import time

        started = []

        def fn(i):
            started.append(i)
            time.sleep(0.005)
            if i == 0:
                raise RuntimeError("first item")

        # 64 items in 8 runs of 8: the caller's first run raises at its first item; the
        # pool thread may finish the one run it started, and no other run starts
        with pytest.raises(RuntimeError, match="first item"):
            _parallel.for_each(fn, list(range(64)), workers=2)
        assert 0 in started and len(started) <= 16

    def test_pool_threads_run_in_the_callers_error_state(self):
        """Items on pool threads see the caller's ``np.errstate`` (a context variable a
        new thread would not inherit), and the pool threads' own state is left as it was."""
        import threading
        import time

        seen, lock = [], threading.Lock()

        def fn(_):
            time.sleep(0.005)                         # leaves runs for the pool thread
            with lock:
                seen.append((threading.current_thread().name, np.geterr()["invalid"],
                             np.geterr()["over"]))

        with np.errstate(invalid="ignore", over="raise"):
            _parallel.for_each(fn, list(range(16)), workers=2)
        assert any(n.startswith("tconv") for n, _, _ in seen)
        assert all(inv == "ignore" and over == "raise" for _, inv, over in seen)
        seen.clear()
        _parallel.for_each(fn, list(range(16)), workers=2)
        default = np.geterr()
        assert all(inv == default["invalid"] and over == default["over"]
                   for _, inv, over in seen)

    def test_pool_exception_raised(self):
        import threading
        import time

        def fn(i):
            if threading.current_thread().name.startswith("tconv"):
                raise ValueError("from the pool")
            time.sleep(0.02)                          # leaves runs for the pool thread

        with pytest.raises(ValueError, match="from the pool"):
            _parallel.for_each(fn, list(range(16)), workers=2)


def test_concurrent_user_threads_share_the_pool():
    """Several user threads calling tconv at once, each call's caller taking runs beside
    the shared pool's threads: every result equals the one computed alone (interpolate's
    compiled, row-copy and area passes; the backward's shared im2col)."""
    rng = np.random.default_rng(3)
    img = rng.standard_normal((2, 3, 300, 400)).astype(np.float32)
    maps = rng.standard_normal((4, 64, 40, 40)).astype(np.float32)
    x, w = rng.standard_normal((4, 16, 12, 12)), rng.standard_normal((16, 8, 4, 4))
    gy = rng.standard_normal((4, 8, 24, 24))
    calls = [lambda: tconv.interpolate(img, size=(111, 157), mode="bilinear"),
             lambda: tconv.interpolate(maps, scale_factor=2, mode="nearest"),
             lambda: tconv.interpolate(maps, size=(8, 8), mode="area"),
             lambda: tconv.conv_transpose_backward(gy, x, w, 2, 1)[1]]
    tconv.set_num_threads(3)
    try:
        want = [call() for call in calls]
        got: dict[int, list] = {i: [] for i in range(len(calls))}

        def user(k: int) -> None:
            for r in range(6):
                i = (k + r) % len(calls)
                got[i].append(calls[i]())

        errors = _users(user)
    finally:
        tconv.set_num_threads(None)
    assert not errors
    for i, results in got.items():
        assert results
        for r in results:
            # the weight gradient sums per-thread partials: same terms, another order
            np.testing.assert_allclose(r, want[i], rtol=0, atol=1e-12 * np.abs(want[i]).max())


class TestPerCallLookups:
    """The lookups every call makes: environment variables read in one dict lookup yet
    always current, cache hits without a lock under concurrent callers, and the layer
    parameters' remembered hash."""

    @pytest.mark.parametrize("value", ["3", "", "é-ü path", "0"])
    def test_getenv_follows_os_environ(self, monkeypatch, value):
        name = "TCONV_TEST_GETENV"
        monkeypatch.delenv(name, raising=False)
        assert _parallel.getenv(name) == "" and _parallel.getenv(name, "d") == "d"
        monkeypatch.setenv(name, value)
        assert _parallel.getenv(name, "d") == value == os.environ.get(name)
        monkeypatch.delenv(name)
        assert _parallel.getenv(name, "d") == "d"

    def test_getenv_without_the_encoded_dict(self, monkeypatch):
        # an os.environ that is a plain mapping (another platform, or replaced): its get
        monkeypatch.setattr(os, "environ", {"TCONV_TEST_GETENV": "7"})
        assert _parallel.getenv("TCONV_TEST_GETENV") == "7"
        assert _parallel.getenv("TCONV_TEST_MISSING", "x") == "x"

    def test_settings_follow_the_environment(self, monkeypatch):
        from tconv._algorithms import _cost, _native

        monkeypatch.setattr(_parallel._RES, "threads", None)     # no set_num_threads
        monkeypatch.setenv("TCONV_NUM_THREADS", "3")
        assert _parallel._RES.workers() == 3
        monkeypatch.setenv("TCONV_NUMBA", "0")
        assert not _native.available()
        monkeypatch.setenv("TCONV_COST_FILE", "/nonexistent/tconv-costs.json")
        assert _cost.constants() == _cost.Constants()

    def test_cache_hits_from_many_threads(self):
        import threading

        calls = []

        @_parallel.cached(maxsize=4)
        def square(v):
            calls.append(v)
            return np.full(3, v * v)

        errors = []

        def hammer(seed):
            rng = np.random.default_rng(seed)
            try:
                for v in rng.integers(0, 8, 2000):      # more keys than entries: evictions
                    assert square(int(v))[0] == v * v
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=hammer, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        _parallel._RES.caches.remove(square)
        assert not errors and len(square.entries) <= 4
        assert len(calls) > 8           # evicted keys were computed again

    def test_params_hash_is_kept_and_agrees_with_equality(self):
        import dataclasses

        from tconv._algorithms import _cost

        p = _cost.params((1, 4, 5, 5), (4, 2, 3, 3), 2, 1, 1, 2)
        q = dataclasses.replace(p)                  # an equal object, its own hash
        assert p == q and hash(p) == hash(q) and p is not q
        assert hash(p) == hash(dataclasses.astuple(p))      # the fields' tuple, as before
        r = dataclasses.replace(p, groups=1)
        assert r != p and hash(r) == hash(dataclasses.replace(q, groups=1))
        c = _cost.Constants()
        d = dataclasses.replace(c, scatter_max=c.scatter_max + 1)
        assert c == _cost.Constants() and hash(c) == hash(_cost.Constants())
        assert d != c and {c: 1}.get(d) is None
