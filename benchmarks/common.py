"""Benchmark plumbing shared by every ``benchmarks/bench_*.py`` script.

Contract (see README.md here): warm-up calls, then ``repeat`` timed calls; we report the
median and the inter-quartile range; PyTorch is measured in the same run (in a separate
process, so the OpenMP and OpenBLAS thread pools never spin against each other); ratios
are tconv / torch (below 1 means tconv is faster); metadata names the machine.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def timeit(fn: Callable[[], object], *, warmup: int = 2, repeat: int = 7,
           max_seconds: float = 20.0) -> dict[str, float]:
    """Median, IQR, min and count of ``repeat`` timed calls (in milliseconds)."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
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
