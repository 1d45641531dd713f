"""How much of a layer's time is its matrix products (one library, one process).

Runs ``tconv.conv_transpose`` (or a gradient) ``--calls`` times and sums, over all threads,
the time spent inside ``tconv._algorithms._matmul.matmul`` -- the products -- against the
wall time of the calls. A product called in a pool worker counts its own time; one called
from outside the pool (split over all threads) counts its wall time once per thread. The
products' share of the wall time is then (thread-summed product time / threads) / wall
time; the rest is packing outside the products, im2col / col2im, shifted sums and copies
into the output.

``--parts`` also times the passes around the products, summed over the threads the same
way: phase's grid copy (compiled ``grid_copy``, or NumPy's ``on_grid``) and its tap sums
(compiled ``phase_sums``), gemm's compiled col2im, the weights' packing, and direct's
compiled products (``igemm``, ``igemm_tiles``, ``igemm_segs``: not matrix products, so not
"products" above); plus the CPU time of a call. ``--numpy-sums`` runs phase's NumPy path
(``phase.COMPILED_SUMS``), ``--no-tiles`` direct's numba loops instead of its register
blocks (``direct.TILED``), ``--no-segments`` its register blocks over the flat grid
instead of row segments (``direct.SEGMENTS``). The first calls (numba loading its cached
code) are not timed.

    python benchmarks/profile_products.py --shape a3 --algorithm phase
    python benchmarks/profile_products.py --shape a3 --algorithm phase --parts [--numpy-sums]
    python benchmarks/profile_products.py --shape a1 --op grad_weight
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import threading
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_conv_transpose import SHAPES, _params  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--algorithm", default="auto", help="forward algorithm (default auto)")
    ap.add_argument("--op", choices=("forward", "grad_input", "grad_weight"),
                    default="forward")
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--parts", action="store_true",
                    help="also time the passes around the products")
    ap.add_argument("--numpy-sums", action="store_true",
                    help="phase's NumPy grid copy and tap sums instead of the compiled ones")
    ap.add_argument("--no-tiles", action="store_true",
                    help="direct's numba loops instead of its register blocks")
    ap.add_argument("--no-segments", action="store_true",
                    help="direct's register blocks over the flat grid (igemm_tiles), not over "
                         "row segments (igemm_segs)")
    args = ap.parse_args(argv)

    import numpy as np

    import tconv
    from tconv import grad
    from tconv._algorithms import _im2col, _matmul, _parallel, gemm, phase

    spent: dict[str, float] = collections.defaultdict(float)
    lock = threading.Lock()

    def part(name: str, fn: Any) -> Any:
        """``fn``, its time added to ``spent[name]``: a call from outside the pool runs split
        over all its threads, so its wall time counts once per thread; one called in a pool
        worker runs on that thread."""
        def run(*a: Any, **k: Any) -> Any:
            share = 1 if threading.current_thread().name.startswith("tconv") \
                else _parallel.num_threads()
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                with lock:
                    spent[name] += share * (time.perf_counter() - t0)
        return run

    timed = part("products", _matmul.matmul)
    for module in (gemm, phase, _im2col, grad):
        module.matmul = timed  # type: ignore[attr-defined]
    if args.numpy_sums:
        phase.COMPILED_SUMS = False  # type: ignore[attr-defined]
    if args.no_tiles or args.no_segments:
        from tconv._algorithms import direct

        if args.no_tiles:
            direct.TILED = False  # type: ignore[attr-defined]
        direct.SEGMENTS = False  # type: ignore[attr-defined]
    if args.parts:
        from tconv._algorithms import _native

        phase.on_grid = part("grid copy (NumPy)", phase.on_grid)  # type: ignore[attr-defined]
        if _native.available():
            kernels = _native.kernels()
            for name in ("grid_copy", "phase_sums", "col2im2d", "col2im3d", "col2im_last2d",
                         "col2im_last3d", "igemm",
                         "igemm_tiles", "igemm_segs"):
                if name in kernels:                 # (older commits lack some of them)
                    kernels[name] = part(name, kernels[name])

    cfg = SHAPES[args.shape]
    p, _ = _params(cfg)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(cfg["x"], dtype=np.float32)
    w = rng.standard_normal(cfg["w"], dtype=np.float32)
    kw = {k: cfg[k] for k in ("stride", "padding", "output_padding", "groups")}
    y = tconv.conv_transpose(x, w, **kw)
    if args.op == "forward":
        def fn() -> Any:
            return tconv.conv_transpose(x, w, **kw, algorithm=args.algorithm)
    elif args.op == "grad_input":
        def fn() -> Any:
            return grad.transpose_input_grad(y, x, w, p)
    else:
        def fn() -> Any:
            return grad.transpose_weight_grad(y, x, w, p)
    fn()
    fn()
    spent.clear()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.calls):
        fn()
    wall = (time.perf_counter() - t0) / args.calls
    cpu = (time.process_time() - c0) / args.calls
    prod = spent["products"] / args.calls
    threads = _parallel.num_threads()
    print(f"{args.shape} {args.op} ({args.algorithm}): {wall * 1e3:.2f} ms a call; products "
          f"{prod * 1e3:.2f} thread-ms a call over {threads} threads, "
          f"{100 * prod / threads / wall:.0f} % of the wall time")
    if args.parts:
        rest = ", ".join(f"{name} {v / args.calls * 1e3:.2f}" for name, v in spent.items()
                         if name != "products")
        print(f"  CPU {cpu * 1e3:.2f} ms a call; other parts, thread-ms a call: {rest or 'none'}")
    return 0



if __name__ == "__main__":
    sys.exit(main())
