"""conv_transpose: every tconv algorithm and ``auto`` against PyTorch, measured in one run.

Usage::

    python benchmarks/bench_conv_transpose.py                        # the whole suite
    python benchmarks/bench_conv_transpose.py --shapes a1,c2 --rounds 5 --json out.json
    python benchmarks/bench_conv_transpose.py --algorithms auto,gemm --no-backward

Method (the contract is benchmarks/README.md): for every shape and every round, PyTorch runs
in a fresh process and then tconv runs in another fresh process, so the OpenMP (torch) and
OpenBLAS (numpy) thread pools never spin against each other; each process does warm-up calls
and ``--repeat`` timed calls (``common.timeit``). A round's ratio is tconv's median / torch's
median of those two neighbouring processes; the table shows the median over rounds of the
per-round medians and ratios, and the spread as the median within-round IQR and the range of
the per-round medians. The matrix-product peak (float32 2048^3) is measured in its own
processes at the start and the end of the run, through NumPy and through tconv's own product
(``tconv._algorithms._matmul``: a compiled product where NumPy's BLAS lacks the machine's
AVX-512 kernels); the faster of the two is the peak. Peak memory is measured once per library in a
fresh process around one first call: the max-RSS delta (``getrusage``) for both libraries,
and ``tracemalloc`` (which sees every NumPy allocation) for tconv.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import metadata, timeit, write_json  # noqa: E402

#: The suite, as data: input (N, C_in, *S_in), weight (C_in, C_out/g, *K), geometry, the
#: target class ("compute": <= 1.25x torch and >= 70 % of the GEMM peak; "skinny": <= 0.5x
#: torch; "other": counts in the geometric mean only) and whether backward is timed.
SHAPES: dict[str, dict[str, Any]] = {
    "a1": dict(desc="DCGAN 512->256, 4^2->8^2, k4s2p1", x=(64, 512, 4, 4), w=(512, 256, 4, 4),
               stride=2, padding=1, output_padding=0, groups=1, kind="compute", backward=True),
    "a2": dict(desc="DCGAN 256->128, 8^2->16^2, k4s2p1", x=(64, 256, 8, 8),
               w=(256, 128, 4, 4), stride=2, padding=1, output_padding=0, groups=1,
               kind="compute", backward=False),
    "a3": dict(desc="DCGAN 128->64, 16^2->32^2, k4s2p1", x=(64, 128, 16, 16),
               w=(128, 64, 4, 4), stride=2, padding=1, output_padding=0, groups=1,
               kind="compute", backward=False),
    "a4": dict(desc="DCGAN 64->3, 32^2->64^2, k4s2p1", x=(64, 64, 32, 32), w=(64, 3, 4, 4),
               stride=2, padding=1, output_padding=0, groups=1, kind="skinny", backward=True),
    "b1": dict(desc="FSRCNN x3 56->1, 256^2->768^2, k9s3p4op2", x=(1, 56, 256, 256),
               w=(56, 1, 9, 9), stride=3, padding=4, output_padding=2, groups=1,
               kind="skinny", backward=False),
    "b2": dict(desc="FSRCNN x2 56->1, 256^2->512^2, k9s2p4op1", x=(1, 56, 256, 256),
               w=(56, 1, 9, 9), stride=2, padding=4, output_padding=1, groups=1,
               kind="skinny", backward=True),
    "c1": dict(desc="FCN x32 depthwise 21ch, 16^2->512^2, k64s32p16", x=(1, 21, 16, 16),
               w=(21, 1, 64, 64), stride=32, padding=16, output_padding=0, groups=21,
               kind="skinny", backward=False),
    "c2": dict(desc="FCN x2 depthwise 21ch, 64^2->128^2, k4s2p1", x=(1, 21, 64, 64),
               w=(21, 1, 4, 4), stride=2, padding=1, output_padding=0, groups=21,
               kind="skinny", backward=False),
    "d": dict(desc="U-Net 256->128, 32^2->64^2, k2s2", x=(8, 256, 32, 32), w=(256, 128, 2, 2),
              stride=2, padding=0, output_padding=0, groups=1, kind="compute", backward=True),
    "e1": dict(desc="1-D 64->64, 4096->8192, k4s2p1", x=(16, 64, 4096), w=(64, 64, 4),
               stride=2, padding=1, output_padding=0, groups=1, kind="other", backward=False),
    "e2": dict(desc="3-D 32->16, 16^3->32^3, k4s2p1", x=(2, 32, 16, 16, 16),
               w=(32, 16, 4, 4, 4), stride=2, padding=1, output_padding=0, groups=1,
               kind="compute", backward=False),
}

ALGORITHMS = ("auto", "gemm", "phase", "direct", "matrix", "scatter", "zero_insertion")
#: the slow references: timed in the first round only, with fewer calls
REFERENCES = ("matrix", "scatter", "zero_insertion")
#: an algorithm whose estimated time for one call is above this is skipped (and reported)
SKIP_SECONDS = 10.0


# --------------------------------------------------------------------------------------
# arithmetic shared by the driver and the workers (no numpy/torch import needed)


def full_macs(cfg: dict[str, Any]) -> int:
    """``N * C_in * C_out/g * prod(S_in) * prod(K)``: every tap of every input (the FLOP
    count behind GFLOP/s, as torch's profiler and the research note count)."""
    return math.prod(cfg["x"]) * math.prod(cfg["w"][1:])


def useful_macs(cfg: dict[str, Any]) -> int:
    """The full count minus the taps that fall outside the cropped output."""
    from tconv._algorithms import useful_macs as count

    p, out = _params(cfg)
    return count(tuple(cfg["x"]), tuple(cfg["w"]), p, out)


def _params(cfg: dict[str, Any]) -> tuple[Any, tuple[int, ...]]:
    from tconv.conv import transposed_params

    return transposed_params("bench", tuple(cfg["x"]), tuple(cfg["w"]), None, cfg["stride"],
                             cfg["padding"], cfg["output_padding"], cfg["groups"], 1, None)


def algorithm_macs(cfg: dict[str, Any], algo: str) -> int:
    """Multiply-adds algorithm ``algo`` performs (its module's ``macs``)."""
    from tconv._algorithms import macs

    p, out = _params(cfg)
    return macs(algo, tuple(cfg["x"]), tuple(cfg["w"]), p, out)


def estimate_seconds(cfg: dict[str, Any], algo: str) -> float:
    """A rough time for the slow reference algorithms (calibrated on this suite's first run
    on the 2-core development machine, under load).

    Zero insertion copies an im2col matrix of ``N * C_in * prod(K) * prod(S_out)`` numbers
    (~10 ns each, and 4 bytes each of memory: 10 GB for b1) before its product; the sparse
    matrix ~150 ns per nonzero of one image's matrix (building it dominates: b1 took 47 s);
    scatter ~40 us of Python per input position plus its einsum products (~0.5 G/s).
    """
    macs = algorithm_macs(cfg, algo)
    if algo == "zero_insertion":
        p, out = _params(cfg)
        im2col = cfg["x"][0] * cfg["x"][1] * math.prod(cfg["w"][2:]) * math.prod(out)
        return im2col * 10e-9 + macs / 5e9
    if algo == "matrix":
        return macs / cfg["x"][0] * 1.5e-7
    if algo == "scatter":
        return math.prod(cfg["x"][2:]) * 40e-6 + macs / 5e8
    return 0.0


# --------------------------------------------------------------------------------------
# workers: each runs in its own process and prints one JSON object


def _inputs(cfg: dict[str, Any], seed: int = 0) -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(cfg["x"], dtype=np.float32)
    w = rng.standard_normal(cfg["w"], dtype=np.float32) / math.sqrt(math.prod(cfg["w"][1:]))
    _, out = _params(cfg)
    gy = rng.standard_normal((cfg["x"][0], cfg["w"][1] * cfg["groups"], *out),
                             dtype=np.float32)
    return x, w, gy


def _repeat_for(seconds: float, repeat: int) -> int:
    """More timed calls for fast functions (at least ``repeat``, about 1 s in total)."""
    return max(repeat, min(50, int(1.0 / max(seconds, 1e-6))))


def worker_peak(args: argparse.Namespace) -> dict[str, Any]:
    """float32 2048^3 through NumPy (``--library numpy``) or through tconv's own product
    (``tconv``: the compiled one where it replaces BLAS, else NumPy's again)."""
    import numpy as np

    from tconv._algorithms._matmul import matmul

    a = np.random.default_rng(0).standard_normal((2048, 2048), dtype=np.float32)
    c = np.empty_like(a)
    product = matmul if args.library == "tconv" else np.matmul
    r = timeit(lambda: product(a, a, out=c), warmup=2, repeat=args.repeat)
    r["gflops"] = 2 * 2048**3 / (r["median_ms"] * 1e6)
    r["library"] = args.library or "numpy"
    return r


def worker_tconv(args: argparse.Namespace) -> dict[str, Any]:

    import tconv
    from tconv.conv import choose_algorithm
    from tconv.grad import transpose_input_grad, transpose_weight_grad

    cfg = SHAPES[args.shape]
    x, w, gy = _inputs(cfg)
    p, out = _params(cfg)
    geo = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"])
    res: dict[str, Any] = {"auto_choice": choose_algorithm(x.shape, w.shape, p,
                                                           dtype=x.dtype), "times": {}}
    for algo in args.algorithms:
        est = estimate_seconds(cfg, algo) if algo in ("matrix", "scatter",
                                                      "zero_insertion") else 0.0
        if est > SKIP_SECONDS:
            res["times"][algo] = {"skipped": True, "estimate_s": est}
            continue
        def fn(algo: str = algo) -> object:
            return tconv.conv_transpose(x, w, None, *geo, algorithm=algo)
        t0 = time.perf_counter()
        fn()
        first = time.perf_counter() - t0
        if first > SKIP_SECONDS:
            res["times"][algo] = {"median_ms": first * 1e3, "iqr_ms": 0.0, "min_ms": first,
                                  "n": 1.0}
            continue
        # the first call of a process pays one-off costs (numba loading its cached machine
        # code: 0.1-0.3 s), so a second call sizes the run: c2's 0.1 ms calls had got 7
        # timed calls, where torch's got 50
        t0 = time.perf_counter()
        fn()
        warm = time.perf_counter() - t0
        if warm > 0.5:                                      # slow: a few calls, no warm-up
            res["times"][algo] = timeit(fn, warmup=0, repeat=3, max_seconds=10.0)
        else:
            res["times"][algo] = timeit(fn, warmup=1, repeat=_repeat_for(warm, args.repeat),
                                        max_seconds=20.0)
    if args.backward and cfg["backward"]:
        # what conv_transpose_backward runs for each gradient (compiled loops or im2col)
        res["times"]["grad_input"] = timeit(lambda: transpose_input_grad(gy, x, w, p),
                                            warmup=1, repeat=args.repeat)
        res["times"]["grad_weight"] = timeit(lambda: transpose_weight_grad(gy, x, w, p),
                                             warmup=1, repeat=args.repeat)
    return res


def worker_torch(args: argparse.Namespace) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    cfg = SHAPES[args.shape]
    xn, wn, gyn = _inputs(cfg)
    x, w, gy = torch.from_numpy(xn), torch.from_numpy(wn), torch.from_numpy(gyn)
    nd = x.dim() - 2
    fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[nd - 1]
    geo = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"])
    res: dict[str, Any] = {"threads": torch.get_num_threads(), "times": {}}
    with torch.inference_mode():
        def fwd() -> object:
            return fn(x, w, None, *geo)
        t0 = time.perf_counter()
        fwd()
        first = time.perf_counter() - t0
        res["times"]["forward"] = timeit(fwd, warmup=2, repeat=_repeat_for(first, args.repeat))
        if args.backward and cfg["backward"]:
            s, pd, op = ([cfg[k]] * nd for k in ("stride", "padding", "output_padding"))
            g = cfg["groups"]
            def back(mask: list[bool]) -> object:
                return torch.ops.aten.convolution_backward(
                    gy, x, w, None, s, pd, [1] * nd, True, op, g, mask)
            res["times"]["grad_input"] = timeit(lambda: back([True, False, False]),
                                                warmup=2, repeat=args.repeat)
            res["times"]["grad_weight"] = timeit(lambda: back([False, True, False]),
                                                 warmup=2, repeat=args.repeat)
        # one OpenMP thread: the reference that survives a shared, busy machine
        torch.set_num_threads(1)
        res["times"]["forward_1thread"] = timeit(fwd, warmup=1,
                                                 repeat=_repeat_for(first, args.repeat))
    return res


def worker_cpu(args: argparse.Namespace) -> dict[str, Any]:
    """Process CPU time per forward call with one thread everywhere (set by the driver's
    environment): the work a call costs, which a busy machine inflates far less than
    wall-clock time (it still pays for cache and memory-bandwidth sharing)."""
    cfg = SHAPES[args.shape]
    x, w, _ = _inputs(cfg)
    geo = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"])
    if args.library == "torch":
        import torch
        import torch.nn.functional as F

        torch.set_num_threads(1)
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[x.ndim - 3]
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)

        def call() -> object:
            with torch.inference_mode():
                return fn(xt, wt, None, *geo)
    else:
        import tconv

        def call() -> object:
            return tconv.conv_transpose(x, w, None, *geo)
    call()
    times = []
    for _ in range(args.repeat):
        t0 = time.process_time()
        call()
        times.append((time.process_time() - t0) * 1e3)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "n": len(times)}


def worker_memory(args: argparse.Namespace) -> dict[str, Any]:
    """Peak memory of one first call in this fresh process (the output included)."""
    import resource
    import tracemalloc

    import numpy as np

    cfg = SHAPES[args.shape]
    x, w, _ = _inputs(cfg)
    geo = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["groups"])
    if args.library == "torch":
        import torch
        import torch.nn.functional as F

        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[x.ndim - 3]
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with torch.inference_mode():
            y = fn(xt, wt, None, *geo)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"rss_delta_mb": (after - before) / 1024, "output_mb": y.nbytes / 2**20}
    import tconv
    from tconv._algorithms import direct

    if direct.available():
        # load numba and the cached machine code first, as torch is imported above: the
        # libraries' own memory is not the layer's (a tiny call, no buffer of this shape)
        tconv.conv_transpose(np.ones((1, 1, 2), x.dtype), np.ones((1, 1, 2), x.dtype),
                             algorithm="direct")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    y = tconv.conv_transpose(x, w, None, *geo, algorithm=args.algorithm)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del y
    tracemalloc.start()
    y = tconv.conv_transpose(x, w, None, *geo, algorithm=args.algorithm)
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"rss_delta_mb": (after - before) / 1024, "tracemalloc_peak_mb": traced / 2**20,
            "output_mb": y.nbytes / 2**20}


# --------------------------------------------------------------------------------------
# driver


def _spawn(argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, os.path.abspath(__file__), *argv]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          env=None if env is None else {**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(argv)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _common_argv(args: argparse.Namespace, algorithms: list[str] | None = None) -> list[str]:
    algos = args.algorithms if algorithms is None else algorithms
    return ["--repeat", str(args.repeat), "--algorithms", ",".join(algos)] + \
        ([] if args.backward else ["--no-backward"])


def _summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    meds = [r["median_ms"] for r in rounds]
    return {"median_ms": statistics.median(meds),
            "iqr_ms": statistics.median(r["iqr_ms"] for r in rounds),
            "range_ms": [min(meds), max(meds)], "rounds": len(meds),
            "calls": int(sum(r["n"] for r in rounds))}


def run_suite(args: argparse.Namespace) -> dict[str, Any]:
    log = (lambda *a: print(*a, file=sys.stderr, flush=True)) if not args.quiet else \
        (lambda *a: None)
    payload: dict[str, Any] = {"metadata": metadata(), "args": vars(args).copy(),
                               "peak": [], "shapes": {}}
    payload["args"].pop("func", None)
    if args.torch:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            raise ImportError('the comparison needs PyTorch: pip install "tconv[torch]" '
                              "(or pass --no-torch)")
    payload["peak"] += _spawn_peaks()
    log("matrix-product peak: " + ", ".join(f"{p['library']} {p['gflops']:.0f}"
                                            for p in payload["peak"]) + " GFLOP/s")
    for name in args.shapes:
        cfg = SHAPES[name]
        row: dict[str, Any] = {"cfg": cfg, "full_macs": full_macs(cfg),
                               "useful_macs": useful_macs(cfg), "macs": {},
                               "torch": [], "tconv": []}
        for algo in ALGORITHMS[1:]:
            row["macs"][algo] = algorithm_macs(cfg, algo)
        for r in range(args.rounds):
            if args.torch:
                row["torch"].append(_spawn(["--worker", "torch", "--shape", name,
                                            *_common_argv(args)]))
            algos = [a for a in args.algorithms if r == 0 or a not in REFERENCES]
            row["tconv"].append(_spawn(["--worker", "tconv", "--shape", name,
                                        *_common_argv(args, algos)]))
            log(f"{name} round {r + 1}/{args.rounds}: " + ", ".join(
                f"{k} {v.get('median_ms', float('nan')):.2f}"
                for k, v in {**row["tconv"][-1]["times"],
                             **({"torch": row["torch"][-1]["times"]["forward"]}
                                if args.torch else {})}.items()))
        if args.memory:
            row["memory"] = {"tconv": _spawn(["--worker", "memory", "--shape", name,
                                              "--library", "tconv", "--algorithm", "auto"])}
            if args.torch:
                row["memory"]["torch"] = _spawn(["--worker", "memory", "--shape", name,
                                                 "--library", "torch"])
        payload["shapes"][name] = _summarise_row(row, args)
        if args.cpu_cost:
            one = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "TCONV_NUM_THREADS": "1"}
            cost = {lib: _spawn(["--worker", "cpu", "--shape", name, "--library", lib,
                                 "--repeat", "5"], env=one)
                    for lib in (("torch", "tconv") if args.torch else ("tconv",))}
            payload["shapes"][name]["cpu_cost"] = cost
    payload["peak"] += _spawn_peaks()
    payload.update(_peaks(payload["peak"]))
    _add_throughput(payload)
    return payload


def _spawn_peaks() -> list[dict[str, Any]]:
    return [_spawn(["--worker", "peak", "--repeat", "5", "--library", lib])
            for lib in ("numpy", "tconv")]


def _peaks(runs: list[dict[str, Any]]) -> dict[str, float]:
    """The run's matrix-product peak: the faster of NumPy's product and tconv's own (each
    the median of its start and end measurements), so that "% of peak" never credits tconv
    for replacing a slow BLAS."""
    by = {lib: statistics.median(p["gflops"] for p in runs if p.get("library", "numpy") == lib)
          for lib in {p.get("library", "numpy") for p in runs}}
    return {"peak_gflops": max(by.values()), "peak_numpy_gflops": by["numpy"],
            **({"peak_tconv_gflops": by["tconv"]} if "tconv" in by else {})}


def _summarise_row(row: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"desc": row["cfg"]["desc"], "kind": row["cfg"]["kind"],
                           "full_macs": row["full_macs"], "useful_macs": row["useful_macs"],
                           "macs": row["macs"],
                           "auto_choice": row["tconv"][0]["auto_choice"], "tconv": {},
                           "torch": {}, "ratio": {}}
    if "memory" in row:
        out["memory"] = row["memory"]
    keys = row["tconv"][0]["times"].keys()
    for key in keys:
        pairs = [(t["times"][key], tt) for t, tt in
                 zip(row["tconv"], row["torch"] or [None] * len(row["tconv"]))
                 if key in t["times"]]
        if pairs[0][0].get("skipped"):
            out["tconv"][key] = pairs[0][0]
            continue
        out["tconv"][key] = _summary([t for t, _ in pairs])
        torch_key = "forward" if key in ALGORITHMS else key
        if row["torch"] and torch_key in row["torch"][0]["times"]:
            ratios = [t["median_ms"] / tt["times"][torch_key]["median_ms"] for t, tt in pairs]
            out["ratio"][key] = statistics.median(ratios)
        if key == "auto" and row["torch"] and "forward_1thread" in row["torch"][0]["times"]:
            out["ratio_torch_1thread"] = statistics.median(
                t["median_ms"] / tt["times"]["forward_1thread"]["median_ms"] for t, tt in pairs)
    for key in (row["torch"][0]["times"] if row["torch"] else {}):
        out["torch"][key] = _summary([t["times"][key] for t in row["torch"]])
    return out


def _add_throughput(payload: dict[str, Any]) -> None:
    peak = payload["peak_gflops"]
    for row in payload["shapes"].values():
        flops = 2 * row["full_macs"]
        for lib in ("tconv", "torch"):
            for t in row[lib].values():
                if "median_ms" in t:
                    t["gflops"] = flops / (t["median_ms"] * 1e6)
                    t["pct_peak"] = 100 * t["gflops"] / peak
    fwd = [r["ratio"]["auto"] for r in payload["shapes"].values() if "auto" in r["ratio"]]
    bwd = [r["ratio"][k] for r in payload["shapes"].values() for k in ("grad_input",
                                                                       "grad_weight")
           if k in r["ratio"]]
    payload["geomean_forward_ratio"] = _geomean(fwd)
    payload["geomean_forward_ratio_torch_1thread"] = _geomean(
        [r["ratio_torch_1thread"] for r in payload["shapes"].values()
         if "ratio_torch_1thread" in r])
    payload["geomean_backward_ratio"] = _geomean(bwd)
    payload["targets"] = targets(payload)


#: the suite's targets (issue #5): tconv / torch time ratios, share of the peak, memory
RATIO_LIMITS = {"compute": 1.25, "skinny": 0.5}
PEAK_SHARE = 70.0
MEAN_LIMIT = 1.0


def targets(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target this run can judge: ``{"target", "measured", "limit", "met"}``.

    Forward and backward geometric means <= 1; compute-bound rows (a1-a3, d, e2) <= 1.25
    and >= 70 % of the run's matrix-product peak; skinny and depthwise rows (a4, b1, b2,
    c1, c2) <= 0.5; peak memory (RSS growth over one call) no higher than torch's. Targets
    without their measurements (no torch, a subset of shapes or algorithms) are left out.
    """
    out: list[dict[str, Any]] = []

    def add(target: str, measured: float, limit: float, at_most: bool = True) -> None:
        met = measured <= limit if at_most else measured >= limit
        out.append({"target": target, "measured": measured, "limit": limit,
                    "at_most": at_most, "met": met})

    for key, label in (("geomean_forward_ratio", "forward geometric mean"),
                       ("geomean_backward_ratio", "backward geometric mean")):
        if payload.get(key) is not None:
            add(label, payload[key], MEAN_LIMIT)
    for name, row in payload["shapes"].items():
        limit = RATIO_LIMITS.get(row["kind"])
        if limit is not None and "auto" in row["ratio"]:
            add(f"{name} tconv / torch", row["ratio"]["auto"], limit)
        auto = row["tconv"].get("auto", {})
        if row["kind"] == "compute" and "pct_peak" in auto:
            add(f"{name} % of peak", auto["pct_peak"], PEAK_SHARE, at_most=False)
        mem = row.get("memory", {})
        if "tconv" in mem and "torch" in mem:
            add(f"{name} peak memory MB", mem["tconv"]["rss_delta_mb"],
                mem["torch"]["rss_delta_mb"])
    return out


def _geomean(v: list[float]) -> float | None:
    return math.exp(sum(math.log(x) for x in v) / len(v)) if v else None


def print_table(payload: dict[str, Any], file: Any = sys.stdout) -> None:
    peak = payload["peak_gflops"]
    own = payload.get("peak_tconv_gflops")
    both = (f" = max(numpy {payload.get('peak_numpy_gflops', peak):.0f}, tconv's own product "
            f"{own:.0f})" if own is not None else " (numpy)")
    print(f"matrix-product peak (float32 2048^3, median of start/end): {peak:.0f} "
          f"GFLOP/s{both}", file=file)
    print("| shape | algorithm | tconv ms (IQR) | torch ms (IQR) | tconv/torch | GFLOP/s | "
          "% peak | MACs / useful |", file=file)
    print("|---|---|---|---|---|---|---|---|", file=file)
    for name, row in payload["shapes"].items():
        torch_f = row["torch"].get("forward")
        for key, t in row["tconv"].items():
            tk = "forward" if key in ALGORITHMS else key
            tt = row["torch"].get(tk)
            label = f"auto ({row['auto_choice']})" if key == "auto" else key
            macs = row["macs"].get(row["auto_choice"] if key == "auto" else key)
            waste = f"{macs / row['useful_macs']:.2f}" if macs else ""
            if t.get("skipped"):
                print(f"| {name} | {label} | skipped (est. {t['estimate_s']:.0f} s) | | | | "
                      f"| {waste} |", file=file)
                continue
            ts = f"{tt['median_ms']:.2f} ({tt['iqr_ms']:.2f})" if tt else ""
            ratio = f"{row['ratio'][key]:.2f}" if key in row["ratio"] else ""
            print(f"| {name} | {label} | {t['median_ms']:.2f} ({t['iqr_ms']:.2f}) | {ts} | "
                  f"{ratio} | {t['gflops']:.0f} | {t['pct_peak']:.0f} | {waste} |", file=file)
        if torch_f is not None:
            print(f"| {name} | torch forward | | {torch_f['median_ms']:.2f} "
                  f"({torch_f['iqr_ms']:.2f}) | | {torch_f['gflops']:.0f} | "
                  f"{torch_f['pct_peak']:.0f} | |", file=file)
        t1 = row["torch"].get("forward_1thread")
        if t1 is not None:
            print(f"| {name} | torch forward, 1 thread | | {t1['median_ms']:.2f} "
                  f"({t1['iqr_ms']:.2f}) | auto: {row['ratio_torch_1thread']:.2f} | "
                  f"{t1['gflops']:.0f} | {t1['pct_peak']:.0f} | |", file=file)
        if "memory" in row:
            m = row["memory"]
            tm = m["tconv"]
            line = (f"|  | peak memory MB | tconv: RSS +{tm['rss_delta_mb']:.0f}, tracemalloc "
                    f"{tm['tracemalloc_peak_mb']:.0f} (output {tm['output_mb']:.0f})")
            if "torch" in m:
                line += f" | torch: RSS +{m['torch']['rss_delta_mb']:.0f}"
            print(line + " | | | | |", file=file)
    costs = {n: r["cpu_cost"] for n, r in payload["shapes"].items() if "cpu_cost" in r}
    if costs:
        print("\n| shape | tconv auto CPU ms, 1 thread | torch CPU ms, 1 thread | ratio |",
              file=file)
        print("|---|---|---|---|", file=file)
        for name, c in costs.items():
            t = c["tconv"]["median_ms"]
            tt = c.get("torch", {}).get("median_ms")
            print(f"| {name} | {t:.1f} | {'' if tt is None else f'{tt:.1f}'} | "
                  f"{'' if tt is None else f'{t / tt:.2f}'} |", file=file)
    print("\n| shape | auto picks | fastest measured | auto / fastest |", file=file)
    print("|---|---|---|---|", file=file)
    for name, row in payload["shapes"].items():
        timed = {a: t["median_ms"] for a, t in row["tconv"].items()
                 if a in ALGORITHMS[1:] and "median_ms" in t}
        if timed and "auto" in row["tconv"]:
            best = min(timed, key=timed.__getitem__)
            print(f"| {name} | {row['auto_choice']} | {best} | "
                  f"{row['tconv']['auto']['median_ms'] / timed[best]:.2f} |", file=file)
    for label, key in (("forward (auto)", "geomean_forward_ratio"),
                       ("forward (auto) vs torch on 1 thread",
                        "geomean_forward_ratio_torch_1thread"),
                       ("backward", "geomean_backward_ratio")):
        if payload.get(key):
            print(f"geometric mean tconv/torch, {label}: {payload[key]:.2f}", file=file)
    goals = payload.get("targets") or []
    if goals:
        print("\n| target | measured | limit | met |", file=file)
        print("|---|---|---|---|", file=file)
        for g in goals:
            sign = "<=" if g["at_most"] else ">="
            print(f"| {g['target']} | {g['measured']:.2f} | {sign} {g['limit']:.2f} | "
                  f"{'yes' if g['met'] else '**no**'} |", file=file)
        print(f"targets met: {sum(g['met'] for g in goals)} of {len(goals)}", file=file)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     epilog="examples:\n"
                                            "  python benchmarks/bench_conv_transpose.py\n"
                                            "  python benchmarks/bench_conv_transpose.py "
                                            "--shapes a1,c2 --rounds 5 --json out.json",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return parser


def _csv(choices: tuple[str, ...] | list[str]) -> Any:
    def parse(text: str) -> list[str]:
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"{bad} not among {list(choices)}")
        return items
    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shapes", type=_csv(list(SHAPES)), default=list(SHAPES),
                        help=f"comma-separated subset of {','.join(SHAPES)} (default: all)")
    parser.add_argument("--algorithms", type=_csv(ALGORITHMS), default=list(ALGORITHMS),
                        help=f"comma-separated subset of {','.join(ALGORITHMS)}")
    parser.add_argument("--rounds", type=int, default=3,
                        help="torch/tconv process pairs per shape (default 3)")
    parser.add_argument("--repeat", type=int, default=7,
                        help="timed calls per process, at least (default 7)")
    parser.add_argument("--no-backward", dest="backward", action="store_false",
                        help="skip grad_input / grad_weight")
    parser.add_argument("--no-memory", dest="memory", action="store_false",
                        help="skip the peak-memory processes")
    parser.add_argument("--no-torch", dest="torch", action="store_false",
                        help="tconv only (no PyTorch installed)")
    parser.add_argument("--cpu-cost", action="store_true",
                        help="also measure single-thread process CPU time per forward call "
                             "(auto vs torch), robust to a busy machine")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument("--from-json", metavar="PATH",
                        help="measure nothing: print the tables and targets of a run saved "
                             "with --json")


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--worker":
        wp = argparse.ArgumentParser()
        wp.add_argument("--worker", required=True)
        wp.add_argument("--shape")
        wp.add_argument("--library")
        wp.add_argument("--algorithm", default="auto")
        wp.add_argument("--repeat", type=int, default=7)
        wp.add_argument("--algorithms", type=_csv(ALGORITHMS), default=list(ALGORITHMS))
        wp.add_argument("--no-backward", dest="backward", action="store_false")
        wargs = wp.parse_args(argv)
        fn = {"peak": worker_peak, "tconv": worker_tconv, "torch": worker_torch,
              "memory": worker_memory, "cpu": worker_cpu}[wargs.worker]
        print(json.dumps(fn(wargs)))
        return 0
    args = build_parser().parse_args(argv)
    if args.from_json:
        try:
            with open(args.from_json, encoding="utf-8") as f:
                saved = json.load(f)
            saved["targets"] = targets(saved)
            table = io.StringIO()
            print_table(saved, table)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
            print(f"--from-json {args.from_json}: not a saved run of this suite "
                  f"({type(err).__name__}: {err})", file=sys.stderr)
            return 2
        print(table.getvalue(), end="")
        return 0
    from tconv._algorithms import direct
    if "direct" in args.algorithms and not direct.available():
        args.algorithms.remove("direct")     # the compiled loops need numba (tconv[fast])
        print('note: "direct" skipped: numba is not installed (pip install "tconv[fast]")',
              file=sys.stderr)
    payload = run_suite(args)
    print_table(payload)
    if args.json:
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
