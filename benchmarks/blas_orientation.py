"""Which way round a weight gradient's matrix product runs: ``a @ b.T`` (``m x n``) or its
transpose ``b @ a.T`` (``n x m``), both operands C-contiguous rows of one long reduction (a
weight gradient: ``x @ im2col(grad_out).T``). tconv runs the taller output
(``tconv._algorithms._matmul.tall``); this script measures that rule.

Usage::

    python benchmarks/blas_orientation.py --products 40 --seed 1          # raw products
    python benchmarks/blas_orientation.py --backward --sweep 40 --seed 7  # whole backward

``--products N``: N seeded product shapes (``m`` input channels, ``n`` output channels
times kernel taps, the reduction ``k`` positions), each orientation timed alternately
(``--rounds`` pairs); prints flipped / written per shape and the geometric means for
``n > m`` (where tconv flips) and ``n <= m`` (where it does not).

``--backward``: ``conv_transpose_backward`` of the zoo's layers and a seeded sweep, with
``_matmul.TALL_PRODUCTS`` on (A, the default) and off (B), alternating in one process
(as ``ab_constants.py``); prints B / A per layer whose weight-gradient product is flipped.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_constants import _call, _median_ms, add_ab_args  # noqa: E402
from common import geomean, write_json  # noqa: E402
from zoo_conv_transpose import ZOO, geometry, sweep  # noqa: E402


def _paired(fa: Callable[[], object], fb: Callable[[], object], rounds: int) -> float:
    """The median over ``rounds`` of (time of ``fb``) / (time of ``fa``), called in turn."""
    fa()
    fb()
    ratios = []
    for _ in range(rounds):
        t = time.perf_counter()
        fa()
        a = time.perf_counter() - t
        t = time.perf_counter()
        fb()
        ratios.append((time.perf_counter() - t) / a)
    ratios.sort()
    return ratios[len(ratios) // 2]


def products(count: int, seed: int, rounds: int, dtype: str) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    while len(rows) < count:
        m = int(rng.choice([3, 8, 16, 32, 48, 64, 96, 128, 256, 512]))
        n = int(rng.choice([1, 3, 8, 16, 32, 64, 128, 256])) * int(
            rng.choice([1, 4, 9, 16, 27, 64]))
        k = int(rng.choice([64, 256, 1024, 2304, 4096, 8192, 16384]))
        if not 1e5 <= m * n * k <= 4e8:
            continue
        a = rng.random((m, k)).astype(dtype)
        b = rng.random((n, k)).astype(dtype)
        out_w, out_t = np.empty((m, n), dtype), np.empty((n, m), dtype)
        r = _paired(lambda a=a, b=b, o=out_w: np.matmul(a, b.T, out=o),
                    lambda a=a, b=b, o=out_t: np.matmul(b, a.T, out=o), rounds)
        rows.append({"m": m, "n": n, "k": k, "flipped_over_written": r})
        print(f"m={m:4d} n={n:5d} k={k:6d}  flipped / written {r:5.2f}", flush=True)
    taller = [r["flipped_over_written"] for r in rows if r["n"] > r["m"]]
    other = [r["flipped_over_written"] for r in rows if r["n"] <= r["m"]]
    summary = {"n>m geomean": geomean(taller), "n>m count": len(taller),
               "n<=m geomean": geomean(other), "n<=m count": len(other)}
    print(f"flipped / written: n > m {summary['n>m geomean']:.3f} over {len(taller)}, "
          f"n <= m {summary['n<=m geomean']:.3f} over {len(other)}")
    return {"rows": rows, "summary": summary}


def _flipped(layer: dict[str, Any]) -> bool:
    """Whether the layer's backward runs an im2col weight-gradient product that
    ``TALL_PRODUCTS`` flips."""
    import numpy as np

    import tconv
    from tconv._algorithms._matmul import tall

    d = tconv.explain_algorithm(tuple(layer["x"]), tuple(layer["w"]), *geometry(layer),
                                dtype=np.dtype(layer["dtype"]))
    f = d.features
    if f.cig == 1 and f.cog == 1:
        return False
    im2col = d.shared_im2col or not d.weight_sums
    return im2col and tall(f.cig, f.cog * math.prod(f.kernel), math.prod(f.size))


def backward(args: argparse.Namespace) -> dict[str, Any]:
    from tconv._algorithms import _matmul

    layers = [*([] if args.no_zoo else ZOO), *sweep(args.sweep, args.seed)]
    rows = []
    try:
        for lay in layers:
            if not _flipped(lay):
                continue
            call = _call(lay, True)
            times: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(args.rounds):
                for side in (True, False):
                    _matmul.TALL_PRODUCTS = side
                    times[side].append(_median_ms(call, args.budget))
                _matmul.TALL_PRODUCTS = True
            a, b = min(times[True]), min(times[False])
            rows.append({"name": lay["name"], "a_ms": a, "b_ms": b, "ratio": b / a})
            print(f"{lay['name']:24s} flipped {a:9.3f} ms  written {b:9.3f} ms  "
                  f"written / flipped {b / a:5.2f}", flush=True)
    finally:
        _matmul.TALL_PRODUCTS = True
    summary = {"geomean": geomean([r["ratio"] for r in rows]), "layers": len(rows)}
    print(f"written / flipped geometric mean {summary['geomean']:.3f} over "
          f"{summary['layers']} layers")
    return {"rows": rows, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--products", type=int, default=0, help="seeded product shapes")
    mode.add_argument("--backward", action="store_true",
                      help="conv_transpose_backward of the zoo and a sweep, flip on / off")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                    help="the products' dtype (--products)")
    add_ab_args(ap, rounds=5)            # --seed also seeds the product shapes
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.budget <= 0 or args.sweep < 0 or args.products < 0:
        ap.error("--rounds must be >= 1, --budget > 0, --sweep and --products >= 0")
    payload = (products(args.products, args.seed, args.rounds, args.dtype) if args.products
               else backward(args))
    if args.json:
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
