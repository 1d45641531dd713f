"""Benchmark plumbing shared by every ``benchmarks/bench_*.py`` script.

Contract (see README.md here): warm-up calls, then ``repeat`` timed calls; we report the
median and the inter-quartile range; PyTorch is measured in the same run (in a separate
process, so the OpenMP and OpenBLAS thread pools never spin against each other); ratios
are tconv / torch (below 1 means tconv is faster); metadata names the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any


def timeit(fn: Callable[[], object], *, warmup: int = 2, repeat: int = 7,
           max_seconds: float = 20.0,
           clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median, IQR, min and count of ``repeat`` timed calls (in milliseconds) on ``clock``
    (wall time by default; ``time.process_time`` for process CPU time). ``max_seconds`` is
    wall time."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append((clock() - t0) * 1e3)
        if time.perf_counter() - start > max_seconds and len(times) >= 3:
            break
    q = statistics.quantiles(times, n=4) if len(times) >= 2 else [times[0]] * 3
    return {"median_ms": statistics.median(times), "iqr_ms": q[2] - q[0],
            "min_ms": min(times), "n": float(len(times))}


def metadata() -> dict[str, Any]:
    """Machine and library versions, for the results table."""
    import numpy as np

    info: dict[str, Any] = {
        "python": sys.version.split()[0], "numpy": np.__version__,
        "platform": platform.platform(), "cpus": os.cpu_count(),
        "processor": _cpu_name(), "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    # variables that steer the BLAS and thread pools (a machine may force OpenBLAS's kernels)
    info["env"] = {k: v for k, v in sorted(os.environ.items())
                   if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "TCONV_"))}
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        info["numba"] = None
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [{k: p.get(k) for k in ("internal_api", "version", "num_threads",
                                               "architecture")} for p in threadpool_info()]
    except ImportError:
        pass
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_json(path: str, payload: dict[str, Any]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2)
    os.replace(tmp, path)


#: seconds :func:`settle` waits: OpenBLAS's idle threads spin for about 2**28 cycles (its
#: default ``THREAD_TIMEOUT``) after a product, taking a core from what runs meanwhile
SETTLE_SECONDS = 0.15


def settle() -> None:
    """Wait until BLAS's threads woken by earlier calls have gone to sleep, before timing
    something else in the same process: a compiled pass timed right after a threaded BLAS
    product shares its cores with BLAS's spinning threads (up to 3x slower), which a
    benchmark of one layer called repeatedly never sees."""
    time.sleep(SETTLE_SECONDS)


def cpu_median_ms(fn: Callable[[], object], repeat: int = 3, warmup: int = 0) -> float:
    """The median process CPU time of ``repeat`` calls, in milliseconds (after ``warmup``)."""
    return timeit(fn, warmup=warmup, repeat=repeat, clock=time.process_time)["median_ms"]


def budget_timeit(fn: Callable[[], object], budget: float, *,
                  cpu: bool = False) -> dict[str, float]:
    """Warm-up (two calls: the first pays one-off compilation or cache loads), then calls for
    about ``budget`` seconds (at least 5, at most 50; 3 for calls longer than the budget),
    timed on wall time, or on process CPU time with ``cpu``."""
    fn()
    t0 = time.perf_counter()
    fn()
    once = time.perf_counter() - t0
    repeat = max(3 if once > budget else 5, min(50, int(budget / max(once, 1e-6))))
    return timeit(fn, warmup=0, repeat=repeat, max_seconds=4 * budget,
                  clock=time.process_time if cpu else time.perf_counter)


def geomean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


# -- paired-process runs: each library in its own fresh worker process, alternating order --

def add_paired_arguments(ap: argparse.ArgumentParser, unit: str) -> None:
    """The options every paired-process benchmark shares (``unit``: what one row times)."""
    ap.add_argument("--worker", choices=("torch", "tconv"), help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3, help="paired rounds (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="threads of both libraries")
    ap.add_argument("--budget", type=float, default=0.15,
                    help=f"seconds of timed calls per {unit} (default 0.15)")
    ap.add_argument("--cpu", action="store_true",
                    help="process CPU time with one thread everywhere (a shared machine's "
                         "proxy: load inflates it far less than wall time)")
    ap.add_argument("--no-numpy", dest="numpy", action="store_false",
                    help="skip the TCONV_NUMBA=0 column")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--from-json", help="print a saved run's table, measuring nothing")


def worker_argv(script: str, library: str, args: argparse.Namespace) -> list[str]:
    """The command line of one ``library`` worker process of ``script`` (the shared options)."""
    argv = [sys.executable, os.path.abspath(script), "--worker", library, "--threads",
            str(args.threads), "--budget", str(args.budget)]
    if args.cpu:
        argv.append("--cpu")
    return argv


def run_worker(argv: list[str], library: str, env: dict[str, str]) -> dict[str, Any]:
    """Run one worker process for ``library`` with ``env`` added; its last stdout line is JSON."""
    proc = subprocess.run(argv, env=dict(os.environ, **env), capture_output=True, text=True,
                          check=False)
    if proc.returncode:
        raise RuntimeError(f"worker {library} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def variants(args: argparse.Namespace) -> dict[str, tuple[str, dict[str, str]]]:
    """Column name -> (worker library, environment): torch, tconv and, unless ``--no-numpy``,
    tconv with ``TCONV_NUMBA=0``; both libraries on ``--threads`` threads."""
    threads = str(args.threads)
    base = {"TCONV_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
    if args.cpu:
        base |= {"OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = {"torch": ("torch", base), "tconv": ("tconv", base)}
    if args.numpy:
        out["numpy"] = ("tconv", dict(base, TCONV_NUMBA="0"))
    return out


def paired_rounds(args: argparse.Namespace,
                  spawn: Callable[[int, str, str, dict[str, str]], dict[str, Any]],
                  ) -> tuple[dict[str, tuple[str, dict[str, str]]], list[dict[str, Any]]]:
    """``args.rounds`` rounds of every variant, the order reversed every other round;
    ``spawn(round, name, library, env)`` runs one worker. Returns the variants and, per round,
    variant -> the worker's JSON."""
    cols = variants(args)
    rounds: list[dict[str, Any]] = []
    for r in range(args.rounds):
        names = list(cols) if r % 2 == 0 else list(reversed(cols))
        got = {}
        for name in names:
            lib, env = cols[name]
            got[name] = spawn(r, name, lib, env)
            print(f"round {r + 1}/{args.rounds}: {name} done", file=sys.stderr)
        rounds.append(got)
    return cols, rounds


def median_stats(runs: list[dict[str, float]], ref: list[dict[str, float]] | None = None,
                 ) -> dict[str, float]:
    """Over rounds: the median of the medians (``ms``), of the IQR as a share of the median
    (``iqr``) and, with ``ref`` (torch's timings of the same rounds), of the ratios."""
    out = {"ms": statistics.median(t["median_ms"] for t in runs),
           "iqr": statistics.median(t["iqr_ms"] / t["median_ms"] for t in runs)}
    if ref is not None:
        out["ratio"] = statistics.median(t["median_ms"] / r["median_ms"]
                                         for t, r in zip(runs, ref, strict=True))
    return out


def run_meta(args: argparse.Namespace, rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``meta`` of a paired run's payload."""
    return metadata() | {"threads": args.threads, "rounds": args.rounds,
                         "clock": "process CPU time" if args.cpu else "wall",
                         "torch_threads": rounds[0]["torch"]["_threads"],
                         "command": " ".join(sys.argv)}


def meta_line(meta: dict[str, Any]) -> str:
    """The machine line above a results table."""
    return (f"machine: {meta['processor']}, {meta['cpus']} CPUs; python {meta['python']}, "
            f"numpy {meta['numpy']}, numba {meta['numba']}; threads {meta['threads']}; "
            f"rounds {meta.get('rounds', '?')}; clock {meta.get('clock', 'wall')}; "
            f"OPENBLAS/TCONV env: {meta['env'] or 'none'}")


def paired_main(args: argparse.Namespace, worker: Callable[[argparse.Namespace], Any],
                run: Callable[[argparse.Namespace], dict[str, Any]],
                print_table: Callable[[dict[str, Any]], None]) -> int:
    """The tail of a paired benchmark's ``main``: be a worker, reprint a saved run, or
    measure, print and save."""
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    if args.from_json:
        with open(args.from_json) as f:
            print_table(json.load(f))
        return 0
    if args.cpu:
        args.threads = 1
    payload = run(args)
    print_table(payload)
    if args.json:
        write_json(args.json, payload)
    return 0
