"""Hardening of the NumPy API: every argument a user can give either computes what PyTorch
computes or is refused at once, clearly, before any allocation or planning loop.

* ``TestPropertyGuard``: the standing guard. A bounded, derandomised hypothesis search over
  valid *and* invalid arguments of every public NumPy entry point, each case run in a worker
  process under a memory limit (``RLIMIT_AS``) and a time limit. A case passes when tconv's
  result equals torch's (float64), or both reject (tconv with ValueError/TypeError whose
  message starts with the function's name and names an argument), or tconv refuses a size
  above its documented limit (``tconv.MAX_ELEMENTS``, lowered in the worker so that the
  limit is reached cheaply). ``pytest -s`` prints the counts.
* The other classes pin each defect found by fuzzing to a test that failed before its fix.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import time
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tconv

torch = pytest.importorskip("torch")

# ------------------------------------------------------------------------------------------
# The worker: one process, torch and tconv imported, a memory limit, cases sent one by one
# ------------------------------------------------------------------------------------------

#: memory a case may add to the worker's address space (RLIMIT_AS above its size at start)
HEADROOM_BYTES = 1536 << 20
#: seconds one case may take (numba compiles a kernel on its first use in the worker)
CASE_SECONDS = 30.0
#: the size limit inside the worker: 2**22 numbers (32 MiB of float64) keeps every case cheap
WORKER_MAX_ELEMENTS = 1 << 22

#: the public NumPy entry points the guard covers, and the names of their arguments
ENTRY_POINTS = ("conv", "conv_transpose", "conv_backward", "conv_transpose_backward",
                "conv_matrix", "interpolate", "resample_matrix", "conv_output_size",
                "conv_transpose_output_size", "output_padding_for")


def _arrays(case: dict[str, Any]) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    return {k: rng.standard_normal(shape) for k, shape in case["arrays"].items()}


def _torch_fn(name: str, nd: int) -> Any:
    F = torch.nn.functional
    return {"conv": getattr(F, f"conv{nd}d"),
            "conv_transpose": getattr(F, f"conv_transpose{nd}d")}[name]


def _meta(shape: Any) -> Any:
    return torch.empty(shape, device="meta", dtype=torch.float64)


def _run_torch(case: dict[str, Any], arrs: dict[str, np.ndarray]) -> Any:
    """torch's answer to the case (a tuple of arrays), or raise what torch raises."""
    fn, nd, kw = case["fn"], case["nd"], dict(case["kwargs"])
    t = {k: torch.from_numpy(v) for k, v in arrs.items()}
    F = torch.nn.functional
    if fn in ("conv", "conv_transpose"):
        return (_torch_fn(fn, nd)(t["input"], t["weight"], t.get("bias"), **kw).numpy(),)
    if fn in ("conv_backward", "conv_transpose_backward"):
        x = t["x"].clone().requires_grad_(True)
        w = t["weight"].clone().requires_grad_(True)
        y = _torch_fn(fn[:-len("_backward")], nd)(x, w, None, **kw)
        gy = t["grad_out"]
        if tuple(gy.shape) != tuple(y.shape):
            raise ValueError("grad_out shape")        # torch: "Mismatch in shape"
        y.backward(gy)
        batch_dims = (0, *range(2, y.ndim)) if x.ndim == w.ndim else tuple(range(1, y.ndim))
        return (x.grad.numpy(), w.grad.numpy(), gy.sum(dim=batch_dims).numpy())
    if fn == "interpolate":
        return (F.interpolate(t["input"], **kw).numpy(),)
    if fn == "conv_matrix":
        w = t["weight"]
        size = kw.pop("input_shape")
        c_in = w.shape[1] * kw.get("groups", 1)
        if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
            size = (size,) * (w.ndim - 2)
        n = c_in * int(np.prod(size))
        eye = torch.eye(n, dtype=torch.float64).reshape(n, c_in, *size)
        y = _torch_fn("conv", w.ndim - 2)(eye, w, None, **kw)
        return (y.reshape(n, -1).T.numpy(),)
    if fn == "resample_matrix":
        n_in, n_out = kw.pop("n_in"), kw.pop("n_out")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                   for v in (n_in, n_out)):
            raise ValueError("torch resamples positive integer lengths only")
        mode = kw.pop("mode")
        eye = torch.eye(n_in, dtype=torch.float64)
        if mode in ("bicubic",) or kw.get("antialias"):
            mode = {"linear": "bilinear", "bilinear": "bilinear"}.get(mode, mode)
            r = F.interpolate(eye.reshape(n_in, 1, 1, n_in), size=(1, n_out), mode=mode,
                              **kw)[:, 0, 0, :]
        else:
            mode = {"bilinear": "linear", "trilinear": "linear"}.get(mode, mode)
            r = F.interpolate(eye.reshape(n_in, 1, n_in), size=n_out, mode=mode, **kw)[:, 0]
        return (r.T.numpy(),)
    size, k = kw.pop("input_size"), kw.pop("kernel_size")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    dims = len(size)
    if isinstance(k, (int, np.integer)) and not isinstance(k, bool):
        k = (k,) * dims
    if len(k) != dims:
        raise ValueError("torch's layers take one kernel size a spatial dim")
    # real tensors: torch's meta kernels skip some checks (output_padding < stride)
    x = torch.zeros((1, 1, *size), dtype=torch.float64)
    w = torch.zeros((1, 1, *k), dtype=torch.float64)
    if fn == "conv_output_size":
        return (np.array(_torch_fn("conv", dims)(x, w, **kw).shape[2:]),)
    if fn == "conv_transpose_output_size":
        return (np.array(_torch_fn("conv_transpose", dims)(x, w, **kw).shape[2:]),)
    # output_padding_for: torch validates the layer with a forward, then solves (as
    # ConvTranspose*d.forward(x, output_size) does)
    want = kw.pop("output_size")
    _torch_fn("conv_transpose", dims)(x, w, **kw)
    s, p, d = (kw.get(n, dflt) for n, dflt in (("stride", 1), ("padding", 0), ("dilation", 1)))
    def expand(v: Any) -> list[Any]:
        return [v] * dims if isinstance(v, (int, np.integer)) else list(v)

    want = [want] if isinstance(want, (int, np.integer)) else list(want)
    module = getattr(torch.nn, f"ConvTranspose{dims}d")
    return (np.array(module._output_padding(None, x, want, expand(s), expand(p), list(k),
                                            dims, expand(d))),)


def _run_tconv(case: dict[str, Any], arrs: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    fn = getattr(tconv, case["fn"])
    kw = dict(case["kwargs"])
    if case["fn"] in ("conv", "conv_transpose", "interpolate"):
        out = fn(*(arrs[k] for k in case["arrays"]), **kw)
    elif case["fn"] in ("conv_backward", "conv_transpose_backward"):
        out = fn(arrs["grad_out"], arrs["x"], arrs["weight"], **kw)
    elif case["fn"] == "conv_matrix":
        out = fn(arrs["weight"], sparse=False, **kw)
    elif case["fn"] == "resample_matrix":
        out = fn(**kw)
    else:                                        # a shape helper: one tuple of sizes
        return (np.asarray(fn(**kw)),)
    return tuple(np.asarray(o) for o in (out if isinstance(out, tuple) else (out,)))


def _fit_grad_out(case: dict[str, Any], arrs: dict[str, np.ndarray]) -> None:
    """Give a backward case a grad_out of the forward output's shape (when the forward
    exists and the case did not ask for a wrong shape)."""
    if case["fn"] not in ("conv_backward", "conv_transpose_backward") or case["bad_grad"]:
        return
    try:
        y = _torch_fn(case["fn"][:-len("_backward")], case["nd"])(
            _meta(arrs["x"].shape), _meta(arrs["weight"].shape), None, **case["kwargs"])
    except Exception:
        return
    if np.prod(tuple(y.shape), dtype=object) <= WORKER_MAX_ELEMENTS:
        arrs["grad_out"] = np.random.default_rng(case["seed"] + 1).standard_normal(
            tuple(y.shape))


def _outcome(run: Any) -> tuple[str, Any]:
    try:
        return "ok", run()
    except Exception as exc:          # any exception: classified by the parent
        return "err", (type(exc).__name__, str(exc))


def _evaluate(case: dict[str, Any]) -> dict[str, Any]:
    arrs = _arrays(case)
    _fit_grad_out(case, arrs)
    t0 = time.perf_counter()
    mine = _outcome(lambda: _run_tconv(case, arrs))
    seconds = time.perf_counter() - t0
    theirs = _outcome(lambda: _run_torch(case, arrs))
    result: dict[str, Any] = {"tconv": mine[0], "torch": theirs[0], "seconds": seconds}
    if mine[0] == "err":
        result["tconv_error"] = mine[1]
    if theirs[0] == "err":
        result["torch_error"] = theirs[1]
    if mine[0] == theirs[0] == "ok":
        problems = []
        if len(mine[1]) != len(theirs[1]):
            problems.append(f"{len(mine[1])} results, torch {len(theirs[1])}")
        for a, b in zip(mine[1], theirs[1]):
            if a.shape != b.shape:
                problems.append(f"shape {a.shape}, torch {b.shape}")
            elif not np.allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, float(
                    np.abs(b).max(initial=0)))):
                problems.append(f"values differ by {np.abs(a - b).max():.3g}")
        result["problems"] = problems
    return result


def _worker_main(conn: Any) -> None:
    """Loop: receive a case, evaluate it, send the verdict -- under RLIMIT_AS."""
    import resource

    import tconv._checks

    torch.set_num_threads(1)
    tconv.set_num_threads(1)
    tconv._checks.MAX_ELEMENTS = WORKER_MAX_ELEMENTS
    # the first calls load libraries and compile kernels: before the limit
    tconv.conv_transpose(np.ones((1, 2, 3, 3)), np.ones((2, 2, 3, 3)), stride=2)
    tconv.interpolate(np.ones((1, 1, 4, 4)), scale_factor=2, mode="bilinear")
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + HEADROOM_BYTES, vm + HEADROOM_BYTES))
    conn.send("ready")
    while True:
        case = conn.recv()
        if case is None:
            return
        try:
            conn.send(_evaluate(case))
        except MemoryError:
            conn.send({"tconv": "memory", "torch": "?", "seconds": 0.0})


class _Worker:
    def __init__(self) -> None:
        self.ctx = mp.get_context("spawn")
        self.proc: Any = None
        self.start()

    def start(self) -> None:
        self.conn, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker_main, args=(child,), daemon=True)
        self.proc.start()
        if not self.conn.poll(120) or self.conn.recv() != "ready":
            raise RuntimeError("the hardening worker did not start")

    def run(self, case: dict[str, Any]) -> dict[str, Any]:
        self.conn.send(case)
        if self.conn.poll(CASE_SECONDS):
            try:
                return self.conn.recv()
            except EOFError:
                pass
            verdict = {"tconv": "died", "torch": "?", "seconds": 0.0}
        else:
            verdict = {"tconv": "timeout", "torch": "?", "seconds": CASE_SECONDS}
        self.proc.kill()
        self.proc.join()
        self.start()
        return verdict

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            self.conn.send(None)
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()


@pytest.fixture(scope="module")
def worker():
    if not hasattr(os, "fork") or not os.path.exists("/proc/self/status"):
        pytest.skip("the guard's memory limit needs Linux (RLIMIT_AS, /proc)")
    w = _Worker()
    yield w
    w.close()


# ------------------------------------------------------------------------------------------
# Strategies: valid values mostly, and every kind of invalid one
# ------------------------------------------------------------------------------------------

#: huge values: each implies an output above any limit, or is beyond int64
HUGE = (10**9, 2**31, 2**40, 2**62, 2**63, 10**12)
#: values of a wrong type or sign
WRONG = (0, -1, 2.0, True, "2", None, 9.0)


@st.composite
def int_arg(draw: Any, nd: int, lo: int, hi: int, wrong: bool = True) -> Any:
    """An int-like argument: an int, a tuple of ``nd``, NumPy integers, or (sometimes) a
    wrong-typed, negative, huge or wrong-length value."""
    kind = draw(st.sampled_from(["int"] * 4 + ["tuple"] * 3 + ["numpy", "one"] +
                                (["wrong", "huge", "length"] if wrong else [])))
    if kind == "int":
        return draw(st.integers(lo, hi))
    if kind == "tuple":
        return tuple(draw(st.integers(lo, hi)) for _ in range(nd))
    if kind == "numpy":
        return tuple(np.int64(draw(st.integers(lo, hi))) for _ in range(nd))
    if kind == "one":
        return (draw(st.integers(lo, hi)),)
    if kind == "wrong":
        return draw(st.sampled_from(WRONG))
    if kind == "huge":
        v = draw(st.sampled_from(HUGE))
        return v if draw(st.booleans()) else (v,) * nd
    return tuple(draw(st.integers(lo, hi)) for _ in range(nd + draw(st.sampled_from([-1, 1]))))


@st.composite
def conv_case(draw: Any, fn: str) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    transposed = "transpose" in fn
    groups = draw(st.sampled_from([1, 1, 1, 2]))
    cig, cog = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n = draw(st.integers(1, 2))
    top = {1: 8, 2: 6, 3: 4}[nd]
    size = tuple(draw(st.integers(1, top)) for _ in range(nd))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    c_in, c_out = cig * groups, cog * groups
    x_shape = (n, c_in, *size)
    w_shape = (c_in, cog, *kernel) if transposed else (c_out, cig, *kernel)
    bad_shape = draw(st.integers(0, 9))
    if bad_shape == 0:
        x_shape = (n, c_in + 1, *size)           # channels that do not match the weight
    elif bad_shape == 1:
        x_shape = x_shape[:-1] if nd > 1 else (n, c_in, *size, 2)   # wrong rank
    elif bad_shape == 2 and draw(st.booleans()):
        x_shape = x_shape[1:]                   # unbatched: valid
    kwargs: dict[str, Any] = {}
    if draw(st.booleans()):
        kwargs["stride"] = draw(int_arg(nd, 1, 3))
    if draw(st.booleans()):
        if not transposed and draw(st.integers(0, 4)) == 0:
            kwargs["padding"] = draw(st.sampled_from(["same", "valid", "bogus"]))
        else:
            kwargs["padding"] = draw(int_arg(nd, 0, 2))
    if draw(st.booleans()):
        kwargs["dilation"] = draw(int_arg(nd, 1, 2))
    if transposed and draw(st.booleans()):
        kwargs["output_padding"] = draw(int_arg(nd, 0, 2))
    if draw(st.integers(0, 3)) == 0:
        kwargs["groups"] = draw(st.sampled_from([groups, 0, -1, 2.0, True, 3, 10**12]))
    elif groups != 1:
        kwargs["groups"] = groups
    arrays: dict[str, tuple[int, ...]] = {}
    bad_grad = False
    if fn in ("conv", "conv_transpose"):
        arrays = {"input": x_shape, "weight": w_shape}
        if draw(st.booleans()):
            arrays["bias"] = (c_out + draw(st.sampled_from([0, 0, 0, 1])),)
    elif fn in ("conv_backward", "conv_transpose_backward"):
        bad_grad = draw(st.integers(0, 5)) == 0
        arrays = {"grad_out": (1, 1, 2) if bad_grad else (1,), "x": x_shape,
                  "weight": w_shape}
    else:  # conv_matrix: small inputs only (the dense matrix is compared)
        arrays = {"weight": w_shape}
        kwargs["input_shape"] = tuple(min(v, 4) for v in size) if draw(st.integers(0, 5)) \
            else draw(int_arg(nd, 1, 4))
    return {"fn": fn, "nd": nd, "arrays": arrays, "kwargs": kwargs, "bad_grad": bad_grad,
            "seed": draw(st.integers(0, 2**16))}


@st.composite
def interpolate_case(draw: Any) -> dict[str, Any]:
    nd = draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area",
                                 {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]]
                                + (["bicubic"] * 2 if nd == 2 else [])))
    top = {1: 9, 2: 7, 3: 4}[nd]
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)),
             *(draw(st.integers(1, top)) for _ in range(nd)))
    kwargs: dict[str, Any] = {"mode": mode}
    if draw(st.integers(0, 3)):
        kwargs["size"] = draw(int_arg(nd, 1, 2 * top))
    else:
        f = draw(st.sampled_from([0.5, 1.5, 2, 3, 2.25, 0.7, 1e-9, -1.0, float("inf"),
                                  1e12, "2", 10**9]))
        kwargs["scale_factor"] = f if draw(st.booleans()) else (f,) * nd
        if draw(st.booleans()):
            kwargs["recompute_scale_factor"] = draw(st.sampled_from([True, False, 1]))
    if mode in ("linear", "bilinear", "trilinear", "bicubic") and draw(st.booleans()):
        kwargs["align_corners"] = draw(st.sampled_from([True, False, 0]))
    if nd == 2 and mode in ("bilinear", "bicubic") and draw(st.integers(0, 3)) == 0:
        kwargs["antialias"] = True
    return {"fn": "interpolate", "nd": nd, "arrays": {"input": shape}, "kwargs": kwargs,
            "bad_grad": False, "seed": draw(st.integers(0, 2**16))}


@st.composite
def resample_case(draw: Any) -> dict[str, Any]:
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "area", "linear", "bicubic"]))
    kwargs: dict[str, Any] = {"n_in": draw(st.one_of(st.integers(1, 9), st.sampled_from(
        [0, -2, 2.0, True, 2**40]))), "n_out": draw(st.integers(1, 12)), "mode": mode}
    if mode in ("linear", "bicubic") and draw(st.booleans()):
        kwargs["align_corners"] = draw(st.booleans())
    if mode in ("linear", "bicubic") and draw(st.integers(0, 3)) == 0:
        kwargs["antialias"] = True
    return {"fn": "resample_matrix", "nd": 1, "arrays": {}, "kwargs": kwargs,
            "bad_grad": False, "seed": 0}


@st.composite
def shape_case(draw: Any) -> dict[str, Any]:
    fn = draw(st.sampled_from(["conv_output_size", "conv_transpose_output_size",
                               "output_padding_for"]))
    nd = draw(st.integers(1, 3))
    kwargs: dict[str, Any] = {
        "input_size": draw(int_arg(nd, 1, 9)) if nd > 1 or draw(st.booleans())
        else draw(st.integers(1, 9)),
        "kernel_size": draw(int_arg(nd, 1, 4)),
    }
    for name, lo, hi in (("stride", 1, 3), ("padding", 0, 2), ("dilation", 1, 2)):
        if draw(st.booleans()):
            kwargs[name] = draw(int_arg(nd, lo, hi))
    if fn == "conv_transpose_output_size" and draw(st.booleans()):
        kwargs["output_padding"] = draw(int_arg(nd, 0, 2))
    if fn == "output_padding_for":
        kwargs["output_size"] = draw(int_arg(nd, 1, 20))
    return {"fn": fn, "nd": nd, "arrays": {}, "kwargs": kwargs, "bad_grad": False,
            "seed": 0}


# ------------------------------------------------------------------------------------------
# The verdict of one case
# ------------------------------------------------------------------------------------------

#: torch's words for running out of the worker's memory (a computed size, not a refusal)
TORCH_OUT_OF_MEMORY = ("can't allocate memory", "DefaultCPUAllocator", "out of memory",
                       "std::bad_alloc", "Storage size calculation overflowed")

COUNTS: Counter[str] = Counter()


def _names(fn: str) -> set[str]:
    import inspect

    return set(inspect.signature(getattr(tconv, fn)).parameters)


def _known_stricter(case: dict[str, Any], msg: str) -> bool:
    """The documented places where tconv refuses what torch computes (docs/guarantees.md):
    an empty ``area`` output, which torch's adaptive pooling returns as an empty array
    while every other mode (and tconv) refuses an empty output size."""
    return (case["fn"] == "interpolate" and case["kwargs"].get("mode") == "area"
            and "empty output size" in msg)


def judge(case: dict[str, Any], verdict: dict[str, Any]) -> None:
    fn = case["fn"]
    COUNTS["generated"] += 1
    COUNTS[f"generated {fn}"] += 1
    where = f"{fn}(arrays={case['arrays']}, kwargs={case['kwargs']})"
    assert verdict["tconv"] in ("ok", "err"), f"{where}: tconv {verdict['tconv']}"
    if verdict["tconv"] == "err":
        kind, msg = verdict["tconv_error"]
        assert kind in ("ValueError", "TypeError"), f"{where}: {kind}: {msg}"
        assert msg.startswith(f"{fn}:"), f"{where}: message does not name {fn}: {msg}"
        named = [n for n in _names(fn) | {"input", "weight", "bias", "grad_out"}
                 if re.search(rf"\b{n}\b", msg)]
        assert named, f"{where}: the message names no argument: {msg}"
        if "tconv.MAX_ELEMENTS" in msg:
            COUNTS["rejected by the size limit"] += 1
            return
        if verdict["torch"] == "ok" and _known_stricter(case, msg):
            COUNTS["rejected by tconv only (documented)"] += 1
            return
        assert verdict["torch"] == "err", \
            f"{where}: tconv rejects ({msg}) where torch computes"
        COUNTS["rejected by both"] += 1
        return
    if verdict["torch"] == "err":
        kind, msg = verdict["torch_error"]
        assert any(s in msg for s in TORCH_OUT_OF_MEMORY), \
            f"{where}: tconv computes where torch raises {kind}: {msg[:300]}"
        COUNTS["torch out of memory, tconv computed"] += 1
        return
    assert verdict["problems"] == [], f"{where}: {verdict['problems']}"
    assert verdict["seconds"] < 5, f"{where}: {verdict['seconds']:.1f} s"
    COUNTS["matched torch"] += 1


GUARD = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                 suppress_health_check=list(HealthCheck))


class TestPropertyGuard:
    """Valid and invalid arguments of every public NumPy entry point against torch."""

    @pytest.mark.parametrize("fn", ["conv", "conv_transpose", "conv_backward",
                                    "conv_transpose_backward", "conv_matrix"])
    def test_conv_family(self, fn, worker):
        @GUARD
        @given(case=conv_case(fn))
        def check(case):
            judge(case, worker.run(case))
        check()
        assert COUNTS[f"generated {fn}"] > 0

    def test_interpolate(self, worker):
        @settings(GUARD, max_examples=60)
        @given(case=interpolate_case())
        def check(case):
            judge(case, worker.run(case))
        check()
        assert COUNTS["generated interpolate"] > 0

    def test_resample_matrix(self, worker):
        @settings(GUARD, max_examples=30)
        @given(case=resample_case())
        def check(case):
            judge(case, worker.run(case))
        check()
        assert COUNTS["generated resample_matrix"] > 0

    def test_shape_helpers(self, worker):
        @settings(GUARD, max_examples=60)
        @given(case=shape_case())
        def check(case):
            judge(case, worker.run(case))
        check()
        for fn in ENTRY_POINTS[-3:]:
            assert COUNTS[f"generated {fn}"] > 0, fn

    def test_counts(self, capsys):
        """``pytest -s`` shows the counts of the guard's tests that ran in this process
        (each of them checks that it drew cases of its entry points)."""
        if not COUNTS:
            pytest.skip("run with the guard's other tests")
        with capsys.disabled():
            print("\nhardening guard:", dict(sorted(COUNTS.items())))


# ------------------------------------------------------------------------------------------
# The defects the fuzzing found, one test each (each failed before its fix)
# ------------------------------------------------------------------------------------------

def _fast_refusal(call: Any, exc: type, *needles: str, seconds: float = 1.0) -> str:
    """``call()`` raises ``exc`` within ``seconds``, its message holding every needle."""
    t0 = time.perf_counter()
    with pytest.raises(exc) as info:
        call()
    took = time.perf_counter() - t0
    assert took < seconds, f"refused after {took:.2f} s"
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    return str(info.value)


def _torch_rejects(call: Any) -> None:
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        call()


class TestSizeLimits:
    """Sizes that cannot be computed are refused before any allocation or planning loop,
    naming the argument, the size it implies and the limit -- where PyTorch raises too."""

    x2, w2 = np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3))

    @pytest.mark.parametrize("stride", [10**9, 10**12, 2**62])
    def test_conv_transpose_stride(self, stride):
        msg = _fast_refusal(lambda: tconv.conv_transpose(self.x2, self.w2, stride=stride),
                            ValueError, f"stride={stride}", "tconv.MAX_ELEMENTS",
                            str(tconv.MAX_ELEMENTS))
        assert re.search(r"shape \(1, 1, [\d.e+]+, [\d.e+]+\)", msg)
        F = torch.nn.functional
        _torch_rejects(lambda: F.conv_transpose2d(torch.ones(1, 1, 2, 2),
                                                  torch.ones(1, 1, 3, 3), stride=stride))

    def test_conv_transpose_3d_stride(self):
        _fast_refusal(lambda: tconv.conv_transpose(np.ones((1, 1, 2, 2, 2)),
                                                   np.ones((1, 1, 3, 3, 3)), stride=10**4),
                      ValueError, "stride=10000", "tconv.MAX_ELEMENTS")

    def test_beyond_int64(self):
        for fn, args in ((tconv.conv_transpose, (self.x2, self.w2)),
                         (tconv.conv, (np.ones((1, 1, 5, 5)), self.w2))):
            _fast_refusal(lambda fn=fn, args=args: fn(*args, stride=2**63), ValueError,
                          f"stride={2**63}", "64-bit")
        _torch_rejects(lambda: torch.nn.functional.conv2d(
            torch.ones(1, 1, 5, 5), torch.ones(1, 1, 3, 3), stride=2**63))

    def test_conv_padding(self):
        _fast_refusal(lambda: tconv.conv(np.ones((1, 1, 5)), np.ones((1, 1, 3)),
                                         padding=10**12),
                      ValueError, f"padding={10**12}", "padded input", "tconv.MAX_ELEMENTS")
        _fast_refusal(lambda: tconv.conv_backward(np.ones((1, 1, 3)), np.ones((1, 1, 5)),
                                                  np.ones((1, 1, 3)), padding=10**12),
                      ValueError, f"padding={10**12}")

    def test_interpolate_size(self):
        _fast_refusal(lambda: tconv.interpolate(np.ones((1, 1, 2, 2)), size=(2**40, 2**40)),
                      ValueError, "size=", "tconv.MAX_ELEMENTS")
        _fast_refusal(lambda: tconv.interpolate(np.ones((1, 1, 4)), scale_factor=1e300),
                      ValueError, "scale_factor=", "tconv.MAX_ELEMENTS")

    def test_matrices(self):
        _fast_refusal(lambda: tconv.conv_matrix(np.ones((1, 1, 3, 3)), (2000, 2000),
                                                sparse=False),
                      ValueError, "input_shape=(2000, 2000)", "dense matrix")
        _fast_refusal(lambda: tconv.resample_matrix(2**20, 2**20), ValueError, "n_in=",
                      "tconv.MAX_ELEMENTS")

    @pytest.mark.parametrize("call, needle", [
        (lambda: tconv.kernels.interpolation_kernel("bilinear", 10**9), "scale="),
        (lambda: tconv.kernels.interpolation_phases("bicubic", 10**9), "scale="),
        (lambda: tconv.kernels.bilinear_kernel(10**9), "kernel_size="),
        (lambda: tconv.kernels.init_weight((10**6, 10**6, 3, 3)), "shape="),
        (lambda: tconv.checkerboard.overlap_map(3, 10**9), "stride="),
        (lambda: tconv.checkerboard.overlap_ratio(3, 10**9), "stride="),
        (lambda: tconv.checkerboard.phase_sums(np.ones((1, 1, 3, 3)), 10**9), "stride="),
        (lambda: tconv.checkerboard.upsampler_responses(np.ones((4, 4)), stride=10**9),
         "stride="),
        (lambda: tconv.kernels.subpixel_form(np.ones((1, 1, 3, 3)), stride=10**9), "stride=")])
    def test_kernels_and_checkerboard(self, call, needle):
        """The kernel and checkerboard helpers: a MemoryError or an endless loop before."""
        _fast_refusal(call, ValueError, needle, "tconv.MAX_ELEMENTS")

    def test_output_size_within_limit_still_computes(self):
        # a one-position input dim: the stride changes nothing (torch 2.13 overflows it to
        # "stride should be greater than zero"), the output is that of stride 1
        x, w = np.arange(2.0).reshape(1, 1, 1, 2), np.arange(4.0).reshape(1, 1, 2, 2)
        for algorithm in ("auto", "phase", "gemm", "scatter"):
            np.testing.assert_array_equal(
                tconv.conv_transpose(x, w, stride=(2**40, 1), algorithm=algorithm),
                tconv.conv_transpose(x, w, stride=1))


class TestPlanningBounded:
    """Planning walks the phases that hold taps, never all ``stride`` of them: a 1-D layer
    of stride 10**6 (an output of 2 million numbers) plans and runs in well under a second
    with every algorithm (it looped over 10**6 phases in Python)."""

    @pytest.mark.parametrize("algorithm", ["auto", "phase", "gemm", "scatter"])
    def test_large_stride(self, algorithm):
        x, w = np.arange(1.0, 3.0).reshape(1, 1, 2), np.arange(1.0, 4.0).reshape(1, 1, 3)
        t0 = time.perf_counter()
        y = tconv.conv_transpose(x, w, stride=10**6, algorithm=algorithm)
        assert time.perf_counter() - t0 < 3.0
        assert y.shape == (1, 1, 10**6 + 3)
        np.testing.assert_array_equal(y[0, 0, :3], [1, 2, 3])
        np.testing.assert_array_equal(y[0, 0, 10**6:], [2, 4, 6])
        assert not y[0, 0, 3:10**6].any()

    def test_depthwise_large_stride(self):
        x = np.ones((1, 2, 2, 2))
        w = np.ones((2, 1, 3, 3))
        t0 = time.perf_counter()
        y = tconv.conv_transpose(x, w, stride=(1, 10**5), groups=2, algorithm="phase")
        assert time.perf_counter() - t0 < 3.0
        assert y.shape == (1, 2, 4, 10**5 + 3) and y.sum() == 2 * 4 * 9


class TestIntLikes:
    """NumPy integers are ints; floats, bools and strings are refused with a TypeError that
    names the argument (``output_size=9.0`` said "object of type 'float' has no len()")."""

    def test_output_size(self):
        x, w = np.ones((1, 1, 4)), np.ones((1, 1, 3))
        want = tconv.conv_transpose(x, w, stride=2, output_size=10)
        np.testing.assert_array_equal(
            tconv.conv_transpose(x, w, stride=2, output_size=np.int64(10)), want)
        np.testing.assert_array_equal(
            tconv.conv_transpose(x, w, stride=2, output_size=(np.int32(10),)), want)
        for bad in (9.0, True, "10", (10.0,), object()):
            _fast_refusal(lambda bad=bad: tconv.conv_transpose(x, w, stride=2,
                                                               output_size=bad),
                          TypeError, "conv_transpose: output_size=")
        _fast_refusal(lambda: tconv.conv_transpose_backward(
            np.ones((1, 1, 10)), x, w, stride=2, output_size=9.0), TypeError,
            "conv_transpose_backward: output_size=")

    @pytest.mark.parametrize("fn, args", [
        ("conv_output_size", dict(kernel_size=3)),
        ("conv_transpose_output_size", dict(kernel_size=3)),
        ("output_padding_for", dict(kernel_size=3, output_size=7))])
    def test_shape_helpers(self, fn, args):
        f = getattr(tconv, fn)
        assert f(input_size=np.int64(5), **args) == f(input_size=5, **args)
        assert f(input_size=(np.int16(5),), **args) == f(input_size=5, **args)
        for bad in (5.0, True, "5", [5.0]):
            _fast_refusal(lambda bad=bad: f(input_size=bad, **args), TypeError,
                          f"{fn}: input_size=")
        _fast_refusal(lambda: f(input_size=-5, **args), ValueError, f"{fn}: input_size=")

    @pytest.mark.parametrize("name", ["stride", "padding", "dilation", "output_padding",
                                      "groups"])
    def test_conv_transpose_args(self, name):
        x, w = np.ones((1, 2, 4, 4)), np.ones((2, 1, 3, 3))
        base = {"stride": 2, "padding": 1, "dilation": 1, "output_padding": 1, "groups": 2}
        want = tconv.conv_transpose(x, w, **base)
        np.testing.assert_array_equal(
            tconv.conv_transpose(x, w, **{**base, name: np.int64(base[name])}), want)
        for bad in (float(base[name]), True):
            _fast_refusal(lambda bad=bad: tconv.conv_transpose(x, w, **{**base, name: bad}),
                          TypeError, f"conv_transpose: {name}=")
            _torch_rejects(lambda bad=bad: torch.nn.functional.conv_transpose2d(
                torch.ones(1, 2, 4, 4), torch.ones(2, 1, 3, 3), **{**base, name: bad}))


class TestNonFinite:
    """inf and nan reach the outputs PyTorch's arithmetic sends them to."""

    def test_issue_example(self):
        got = tconv.interpolate(np.array([[[1.0, np.inf, 3.0]]]), size=3, mode="linear")
        np.testing.assert_array_equal(got, [[[1.0, np.nan, 3.0]]])

    @pytest.mark.parametrize("mode, nd", [("linear", 1), ("bilinear", 2), ("trilinear", 3),
                                          ("bicubic", 2), ("nearest", 2), ("area", 2),
                                          ("nearest-exact", 1)])
    def test_same_size_axes(self, mode, nd):
        """An axis resized to its own length is ATen's x*1 + x*0 in linear modes (inf ->
        nan), an exact copy otherwise -- alone or beside a resized axis."""
        rng = np.random.default_rng(nd)
        F = torch.nn.functional
        for trial in range(12):
            size = tuple(int(v) for v in rng.integers(2, 5, nd))
            x = rng.standard_normal((1, 2, *size))
            x.ravel()[rng.integers(0, x.size, 2)] = rng.choice([np.inf, -np.inf, np.nan], 2)
            out = tuple(s if rng.random() < 0.6 else int(rng.integers(1, 8)) for s in size)
            kw = {"align_corners": bool(trial % 2)} if mode in (
                "linear", "bilinear", "trilinear", "bicubic") else {}
            want = F.interpolate(torch.from_numpy(x), size=out, mode=mode, **kw).numpy()
            got = tconv.interpolate(x, size=out, mode=mode, **kw)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            np.testing.assert_array_equal(got[np.isinf(want)], want[np.isinf(want)])

    def test_antialias_same_size_axis_is_a_copy(self):
        x = np.arange(30.0).reshape(1, 1, 5, 6)
        x[0, 0, 2, 3] = np.inf
        want = torch.nn.functional.interpolate(torch.from_numpy(x), size=(5, 3),
                                               mode="bilinear", antialias=True).numpy()
        got = tconv.interpolate(x, size=(5, 3), mode="bilinear", antialias=True)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)])

    @pytest.mark.parametrize("algorithm", tconv.ALGORITHMS)
    def test_broadcast_input(self, algorithm):
        """A zero-stride (broadcast) input gives what its copy gives: ``inf*0 + inf*-1`` is
        nan, as in torch (scatter's einsum summed the weights first: ``inf*(0 - 1)`` is
        -inf)."""
        if algorithm == "direct":
            pytest.importorskip("numba")
        rows = np.array([[-2.0, 0.0, 1.0], [-np.inf, np.inf, -np.inf]]).reshape(1, 1, 2, 3)
        x = np.broadcast_to(rows, (1, 2, 2, 3))             # the channel stride is 0
        w = np.broadcast_to(np.array([0.0, -1.0]).reshape(2, 1, 1, 1), (2, 3, 1, 1))
        want = torch.nn.functional.conv_transpose2d(
            torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(
                np.ascontiguousarray(w))).numpy()
        assert np.isnan(want[0, :, 1]).all()
        with np.errstate(invalid="ignore"):
            got = tconv.conv_transpose(x, w, algorithm=algorithm)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[~np.isnan(want)], want[~np.isnan(want)])
