"""Planned ``conv_transpose`` calls: a call of float32/64 arrays with plain arguments reuses
the checked plan of its shapes, dtype and arguments (``conv._planned_call``); every other
call is checked as it comes. Both give the same numbers and the same errors; what the
plan depends on (the cost model's constants, the compiled kernels) is part of its key.

Also the small layers' col2im: the compiled scatter (``scatter_add``) against NumPy's
``bincount``, number for number.
"""

from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from _cost_state import fresh_decisions, without_scatter
from _threads import users

import tconv
from tconv._algorithms import _native, gemm

from ._oracle import assert_close
from .test_small_calls import _geometry, _layers, _torch_conv_t

torch = pytest.importorskip("torch")
C = importlib.import_module("tconv.conv")
CONV_T = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
          3: torch.nn.functional.conv_transpose3d}
needs_numba = pytest.mark.skipif(not _native._installed(), reason="numba not installed")

LAYERS = _layers(120, seed=31)
ALGORITHMS = ("auto", "auto", "auto", "gemm", "phase", "direct", "scatter")


@pytest.fixture
def fresh(monkeypatch):
    """No kernel given up, ``TCONV_NUMBA`` unset, no remembered decision or plan."""
    yield from fresh_decisions(monkeypatch, "TCONV_NUMBA")


def _unplanned(monkeypatch):
    monkeypatch.setattr(C, "_call_key", lambda *args: None)


def _call(x, w, b, layer, algorithm="auto"):
    return tconv.conv_transpose(x, w, b, *_geometry(layer), algorithm=algorithm)


class TestPlannedCalls:
    def test_same_numbers_as_unplanned(self, dtype, fresh, monkeypatch):
        # a seeded population (1-3-D, groups, dilation, output_padding, bias or none,
        # batched or not, every algorithm): planned calls, twice, equal the checked path
        # bit for bit, and the oracle
        rng = np.random.default_rng(5)
        cases = []
        for i, layer in enumerate(LAYERS):
            x = rng.standard_normal(layer["x"]).astype(dtype)
            w = rng.standard_normal(layer["w"]).astype(dtype)
            b = rng.standard_normal(layer["w"][1] * layer["groups"]).astype(dtype) \
                if i % 3 == 0 else None
            if i % 4 == 1 and x.shape[0] == 1:
                x = x[0]                                    # unbatched
            cases.append((x, w, b, layer, ALGORITHMS[i % len(ALGORITHMS)]))
        before = C._planned_call.hits
        planned = [[_call(*case) for case in cases] for _ in range(2)]
        assert C._planned_call.hits - before >= len(cases)     # the second round: all hits
        _unplanned(monkeypatch)
        hits = C._planned_call.hits
        for case, first, second in zip(cases, *planned):
            want = _call(*case)
            assert first.dtype == want.dtype == dtype and first.shape == want.shape
            np.testing.assert_array_equal(first, want)
            np.testing.assert_array_equal(second, want)
            x, w, b, layer, _ = case
            xb = x if x.ndim == w.ndim else x[None]
            ref = _torch_conv_t(xb.astype(np.float64), w.astype(np.float64), layer)
            if b is not None:
                ref = ref + b.astype(np.float64).reshape(1, -1, *([1] * (ref.ndim - 2)))
            assert_close(first, ref if x.ndim == w.ndim else ref[0], dtype)
        assert C._planned_call.hits == hits                 # the checked path planned none

    def test_one_plan_per_call_signature(self, fresh):
        rng = np.random.default_rng(1)
        x, w = rng.standard_normal((2, 6, 5, 5)), rng.standard_normal((6, 4, 3, 3))
        C._planned_call.cache_clear()
        tconv.conv_transpose(x, w, None, 2, 1)
        plan = next(iter(C._planned_call.entries.values()))[0]
        for _ in range(3):
            tconv.conv_transpose(x, w, None, 2, 1)
        assert len(C._planned_call.entries) == 1
        assert next(iter(C._planned_call.entries.values()))[0] is plan
        assert plan.out == (9, 9) and plan.batched and plan.dtype == np.float64
        # another stride, dtype, bias or algorithm: another plan
        tconv.conv_transpose(x, w, None, 1, 1)
        tconv.conv_transpose(x.astype(np.float32), w.astype(np.float32), None, 2, 1)
        tconv.conv_transpose(x, w, np.ones(4), 2, 1)
        tconv.conv_transpose(x, w, None, 2, 1, algorithm="phase")
        assert len(C._planned_call.entries) == 5
        with pytest.raises(AttributeError):
            plan.route = "impl"                            # frozen

    @pytest.mark.parametrize("kind", ["np_int_stride", "bool_groups", "list_stride",
                                      "float16", "int_input", "bias_float32", "subclass",
                                      "swapped_bytes", "list_input"])
    def test_unplain_calls_are_checked_each_time(self, kind, fresh):
        # arguments a plan cannot stand for never reach one: they raise as before or give
        # torch's numbers
        rng = np.random.default_rng(2)
        x, w = rng.standard_normal((2, 4, 3, 3)), rng.standard_normal((4, 3, 2, 2))
        b, kw = None, {"stride": 2}
        if kind == "np_int_stride":
            kw = {"stride": np.int64(2)}
        elif kind == "bool_groups":
            kw = {"stride": 2, "groups": True}
        elif kind == "list_stride":
            kw = {"stride": [2, 2]}
        elif kind == "float16":
            x, w = x.astype(np.float16), w.astype(np.float16)
        elif kind == "int_input":
            x = np.round(x * 3).astype(np.int64)
        elif kind == "bias_float32":
            b = np.ones(3, np.float32)
        elif kind == "subclass":
            x = x.view(type("Sub", (np.ndarray,), {}))
        elif kind == "swapped_bytes":
            x = x.astype(x.dtype.newbyteorder())
        elif kind == "list_input":
            x = x.tolist()
        C._planned_call.cache_clear()
        assert C._call_key(x, w, b, kw.get("stride", 1), 0, 0, kw.get("groups", 1), 1, None,
                           "auto") is None
        if kind == "bias_float32":
            with pytest.raises(TypeError, match="share one dtype"):
                tconv.conv_transpose(x, w, b, **kw)
            return
        if kind == "bool_groups":
            with pytest.raises(TypeError, match="groups"):
                tconv.conv_transpose(x, w, b, **kw)
            return
        y = tconv.conv_transpose(x, w, b, **kw)
        assert not C._planned_call.entries
        xf = np.asarray(x, dtype=np.float64)
        ref = _torch_conv_t(xf, w.astype(np.float64), {"stride": 2, "padding": 0,
                                                         "output_padding": 0, "groups": 1,
                                                         "dilation": 1})
        if kind == "float16":                            # computed in float32
            assert y.dtype == np.float16
            np.testing.assert_allclose(y, ref, rtol=2e-2, atol=2e-2)
        else:
            assert y.dtype == np.float64
            assert_close(y, ref)

    @pytest.mark.parametrize("args, exc, match", [
        ({"stride": 0}, ValueError, "stride"),
        ({"stride": (2, 2, 2)}, ValueError, "stride"),
        ({"output_padding": 2, "stride": 2}, ValueError, "output_padding"),
        ({"groups": 3}, ValueError, "groups"),
        ({"padding": "middle"}, ValueError, "padding"),
        ({"algorithm": "fastest"}, ValueError, "algorithm"),
        ({"output_size": (50, 50)}, ValueError, "output size"),
        ({"dilation": -1}, ValueError, "dilation"),
    ])
    def test_invalid_calls_raise_every_time(self, args, exc, match, fresh):
        rng = np.random.default_rng(3)
        x, w = rng.standard_normal((1, 4, 3, 3)), rng.standard_normal((4, 2, 2, 2))
        C._planned_call.cache_clear()
        for _ in range(3):
            with pytest.raises(exc, match=match):
                tconv.conv_transpose(x, w, **args)
        assert not C._planned_call.entries               # nothing remembered

    def test_rank_errors_name_the_shapes(self, fresh):
        rng = np.random.default_rng(4)
        w = rng.standard_normal((4, 2, 2, 2))
        for shape in ((4, 3), (1, 1, 4, 3, 3), (4,)):
            with pytest.raises(ValueError, match=str(shape).replace("(", r"\(")
                               .replace(")", r"\)")):
                tconv.conv_transpose(np.zeros(shape), w)
        with pytest.raises(ValueError, match="weight of shape"):
            tconv.conv_transpose(np.zeros((1, 4, 3)), np.zeros((4, 2)))

    def test_unbatched_and_empty_batch(self, dtype, fresh):
        rng = np.random.default_rng(6)
        x = rng.standard_normal((4, 5)).astype(dtype)
        w = rng.standard_normal((4, 3, 3)).astype(dtype)
        for _ in range(2):
            y = tconv.conv_transpose(x, w, None, 2)
            assert y.shape == (3, 11) and y.dtype == dtype
            np.testing.assert_array_equal(y, tconv.conv_transpose(x[None], w, None, 2)[0])
            e = tconv.conv_transpose(np.zeros((0, 4, 5), dtype), w, np.ones(3, dtype), 2)
            assert e.shape == (0, 3, 11) and e.dtype == dtype

    def test_results_are_fresh_and_inputs_untouched(self, fresh):
        rng = np.random.default_rng(7)
        x, w = rng.standard_normal((2, 6, 4, 4)), rng.standard_normal((6, 3, 3, 3))
        x0, w0 = x.copy(), w.copy()
        y1 = tconv.conv_transpose(x, w, None, 2)
        keep = y1.copy()
        y1[...] = 3.0
        y2 = tconv.conv_transpose(x, w, None, 2)
        np.testing.assert_array_equal(y2, keep)
        assert y2.flags.writeable and not np.shares_memory(y1, y2)
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(w, w0)

    @needs_numba
    def test_numba_switched_off_after_a_plan(self, fresh, monkeypatch):
        # TCONV_NUMBA=0 set after a layer was planned with the kernels: the next call plans
        # again without them, and no kernel runs
        rng = np.random.default_rng(8)
        x = rng.standard_normal((2, 8, 9, 7)).astype(np.float32)
        w = rng.standard_normal((8, 5, 4, 4)).astype(np.float32)
        without_scatter(monkeypatch)
        misses = C._planned_call.misses
        want = tconv.conv_transpose(x, w, None, 2, 1)
        assert C._planned_call.misses == misses + 1

        def no_kernels():
            raise AssertionError("a compiled kernel ran with TCONV_NUMBA=0")

        monkeypatch.setenv("TCONV_NUMBA", "0")
        monkeypatch.setattr(_native, "kernels", no_kernels)
        np.testing.assert_allclose(tconv.conv_transpose(x, w, None, 2, 1), want, rtol=1e-5,
                                   atol=1e-4)
        assert C._planned_call.misses == misses + 2          # planned again

    def test_constants_changed_after_a_plan(self, fresh, cost_file, monkeypatch):
        # the cost model's constants are part of the key: a small layer takes the bincount
        # path, then (scatter bound 0) the general one -- a spy counts the former
        rng = np.random.default_rng(9)
        x, w = rng.standard_normal((1, 8, 4, 4)), rng.standard_normal((8, 4, 3, 3))
        calls = []
        real = gemm._scatter_sum
        monkeypatch.setattr(gemm, "_scatter_sum", lambda *a: calls.append(1) or real(*a))
        want = tconv.conv_transpose(x, w, None, 2)
        assert calls == [1]
        cost_file(scatter_max=0, numpy_scatter_max=0)
        np.testing.assert_allclose(tconv.conv_transpose(x, w, None, 2), want, atol=1e-12)
        assert calls == [1]

    def test_patched_rules_take_effect_after_clear_decisions(self, fresh, monkeypatch):
        # tests (and anyone patching the cost model in process) clear decisions and plans
        # together
        from tconv._algorithms import _cost

        rng = np.random.default_rng(10)
        x, w = rng.standard_normal((1, 8, 4, 4)), rng.standard_normal((8, 4, 3, 3))
        tconv.conv_transpose(x, w, None, 2)
        assert C._planned_call.entries
        _cost.clear_decisions()
        assert not C._planned_call.entries


class TestPlannedBackward:
    def test_same_numbers_as_unplanned(self, dtype, fresh, monkeypatch):
        # the population of the forward's test, batched and unbatched: planned backward
        # calls, twice, equal the checked path bit for bit and agree with torch's autograd
        grad = importlib.import_module("tconv.grad")
        rng = np.random.default_rng(17)
        cases = []
        for i, layer in enumerate(LAYERS):
            x = rng.standard_normal(layer["x"]).astype(dtype)
            w = rng.standard_normal(layer["w"]).astype(dtype)
            gy = rng.standard_normal(_call(x, w, None, layer).shape).astype(dtype)
            if i % 4 == 1 and x.shape[0] == 1:
                x, gy = x[0], gy[0]                          # unbatched
            cases.append((gy, x, w, layer))
        before = grad._planned_backward.hits
        planned = [[tconv.conv_transpose_backward(gy, x, w, *_geometry(layer))
                    for gy, x, w, layer in cases] for _ in range(2)]
        assert grad._planned_backward.hits - before >= len(cases)
        monkeypatch.setattr(grad, "_backward_key", lambda *args: None)
        for (gy, x, w, layer), first, second in zip(cases, *planned):
            want = tconv.conv_transpose_backward(gy, x, w, *_geometry(layer))
            for a, b, c in zip(first, second, want):
                assert a.dtype == c.dtype == dtype and a.shape == c.shape
                np.testing.assert_array_equal(a, c)
                np.testing.assert_array_equal(b, c)
        for gy, x, w, layer in cases[:30]:
            xt = torch.from_numpy(x.astype(np.float64)).requires_grad_(True)
            wt = torch.from_numpy(w.astype(np.float64)).requires_grad_(True)
            yt = CONV_T[w.ndim - 2](xt, wt, None, *_geometry(layer))
            ref = torch.autograd.grad(yt, (xt, wt), torch.from_numpy(gy.astype(np.float64)))
            got = tconv.conv_transpose_backward(gy, x, w, *_geometry(layer))
            for a, r in zip(got[:2], ref):
                assert_close(a, r.numpy(), dtype)

    def test_wrong_grad_out_raises_every_time(self, fresh):
        grad = importlib.import_module("tconv.grad")
        rng = np.random.default_rng(18)
        x, w = rng.standard_normal((2, 4, 3, 3)), rng.standard_normal((4, 2, 3, 3))
        grad._planned_backward.cache_clear()
        for shape, shown in (((2, 2, 7, 6), r"\(2, 2, 7, 6\)"), ((2, 3, 7, 7), "3, 7, 7")):
            for _ in range(2):
                with pytest.raises(ValueError, match=shown):
                    tconv.conv_transpose_backward(np.zeros(shape), x, w, 2, 0)
        with pytest.raises(ValueError, match=r"grad_out of shape \(2, 7, 6\)"):
            tconv.conv_transpose_backward(np.zeros((2, 7, 6)), x[0], w, 2, 0)
        assert not grad._planned_backward.entries


def test_concurrent_first_calls(fresh):
    """User threads making the first calls of the same layers at once (plans made side by
    side, the forward and the backward): every result equals the one computed alone."""
    rng = np.random.default_rng(16)
    cases = []
    for layer in LAYERS[:24]:
        x = rng.standard_normal(layer["x"]).astype(np.float32)
        w = rng.standard_normal(layer["w"]).astype(np.float32)
        gy = rng.standard_normal(_call(x, w, None, layer).shape).astype(np.float32)
        cases.append((x, w, gy, layer))
    want = [(_call(x, w, None, layer),
             tconv.conv_transpose_backward(gy, x, w, *_geometry(layer)))
            for x, w, gy, layer in cases]
    C._planned_call.cache_clear()
    importlib.import_module("tconv.grad")._planned_backward.cache_clear()
    got: list[list] = [[] for _ in cases]

    def user(k: int) -> None:
        for r in range(len(cases)):
            i = (k * 5 + r) % len(cases)
            x, w, gy, layer = cases[i]
            got[i].append((_call(x, w, None, layer),
                           tconv.conv_transpose_backward(gy, x, w, *_geometry(layer))))

    assert not users(user)
    for (y0, grads0), results in zip(want, got):
        assert len(results) == 4
        for y, grads in results:
            np.testing.assert_allclose(y, y0, rtol=1e-6, atol=1e-6)
            for a, b in zip(grads, grads0):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def _scatter_layers(count: int, seed: int) -> list[dict]:
    """Small layers of every rank, grouped and dense, whose product the bincount path takes
    on either install (at most 32,768 numbers)."""
    out: list[dict] = []
    for layer in _layers(count * 3, seed):
        n, c_in, *size = layer["x"]
        numbers = n * layer["w"][1] * layer["groups"] * int(np.prod(layer["w"][2:])) * \
            int(np.prod(size))
        if numbers <= 32768:
            out.append(layer)
        if len(out) == count:
            break
    assert len(out) == count
    return out


@needs_numba
class TestCompiledScatter:
    @pytest.mark.parametrize("nonfinite", [False, True], ids=["finite", "inf_nan"])
    def test_bincount_numbers(self, dtype, nonfinite, fresh, monkeypatch):
        # the compiled scatter and bincount sum the same numbers in the same order: equal
        # bit for bit (NaN where NaN), and against torch
        rng = np.random.default_rng(11)
        ran = []
        real = _native.kernels()["scatter_add"]
        monkeypatch.setitem(_native._KERNELS, "scatter_add",
                            lambda *a: ran.append(1) or real(*a))
        for layer in _scatter_layers(60, 12):
            x = rng.standard_normal(layer["x"]).astype(dtype)
            w = rng.standard_normal(layer["w"]).astype(dtype)
            if nonfinite:
                flat = x.reshape(-1)
                flat[rng.integers(0, flat.size, 2)] = [np.inf, np.nan]
            p = C._cost.params(layer["x"], layer["w"], *_geometry(layer))
            out = p.transposed_size(layer["x"][2:])
            before = len(ran)
            got = gemm._scatter_sum(x, w, p, out)
            assert len(ran) == before + 1
            with monkeypatch.context() as m:
                m.setenv("TCONV_NUMBA", "0")
                want = gemm._scatter_sum(x, w, p, out)
            assert got.dtype == want.dtype == dtype
            np.testing.assert_array_equal(got, want)
            if not nonfinite:
                assert_close(got, _torch_conv_t(x.astype(np.float64), w.astype(np.float64),
                                                layer), dtype)

    def test_auto_takes_it(self, fresh, monkeypatch):
        # auto's small layers reach the compiled scatter (a spy), their results torch's
        ran = []
        real = _native.kernels()["scatter_add"]
        monkeypatch.setitem(_native._KERNELS, "scatter_add",
                            lambda *a: ran.append(1) or real(*a))
        rng = np.random.default_rng(13)
        layers = _scatter_layers(40, 14)
        for layer in layers:
            x = rng.standard_normal(layer["x"])
            w = rng.standard_normal(layer["w"])
            assert_close(tconv.conv_transpose(x, w, None, *_geometry(layer)),
                         _torch_conv_t(x, w, layer))
        assert len(ran) >= len(layers) // 2

    def test_compile_failure_falls_back_to_bincount(self, fresh, monkeypatch):
        from numba.core.errors import TypingError

        def broken(*args):
            raise TypingError("forced compile failure")

        monkeypatch.setitem(_native._KERNELS, "scatter_add", broken)
        rng = np.random.default_rng(15)
        x, w = rng.standard_normal((2, 6, 3, 3)), rng.standard_normal((6, 4, 3, 3))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = tconv.conv_transpose(x, w, None, 2)
            tconv.conv_transpose(x, w, None, 2)
        assert len([c for c in caught if issubclass(c.category, RuntimeWarning)]) == 1
        assert not _native.available()
        assert_close(y, _torch_conv_t(x, w, {"stride": 2, "padding": 0, "output_padding": 0,
                                              "groups": 1, "dilation": 1}))
