"""Matrix products: NumPy's BLAS against tconv's compiled float32 product, same run.

Every conv_transpose algorithm spends most of its time in products like these
(``tconv._algorithms._matmul.matmul``). Each library runs in its own fresh process, the two
alternating for ``--rounds`` rounds, because OpenBLAS's threads keep spinning after a call
and slow down whatever runs next in the same process. ``--threads 1`` runs both on one
thread (as inside tconv's thread pool); the default uses all cores (one product split over
the pool, BLAS with its own threads).

The products are the ones the benchmark suite's layers call (``--products suite``, with the
layer each comes from) or a grid of thin ones (``--products grid``: M rows, K terms, N =
8192) that sets where the compiled product pays (``_matmul.NATIVE_MIN_SIDE``). The compiled
product is timed itself (``TCONV_GEMM=native``, the size rules switched off), also where
tconv's dispatch would keep NumPy's.

    python benchmarks/bench_matmul.py
    python benchmarks/bench_matmul.py --products grid --threads 1 --json grid.json
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import metadata, timeit, write_json  # noqa: E402

#: (label, M, K, N, layout of A, layout of B): "C" rows contiguous, "F" columns contiguous
SUITE = (
    ("a1 forward", 128, 512, 4096, "C", "C"),
    ("a2 forward", 256, 256, 2048, "C", "C"),
    ("a3 forward (phase)", 1024, 128, 903, "F", "C"),
    ("d forward", 512, 256, 2048, "F", "C"),
    ("a1 grad_input", 512, 4096, 256, "C", "C"),
    ("a1 grad_weight", 512, 512, 4096, "C", "F"),
    ("d grad_input", 256, 512, 2048, "C", "C"),
    ("e1 forward (phase)", 252, 64, 4099, "F", "C"),
    ("square", 2048, 2048, 2048, "C", "C"),
)
GRID = tuple((f"M={m} K={k}", m, k, 8192, "C", "C") for m in (48, 64, 96, 128, 256)
             for k in (32, 64, 128, 512))


def worker(args: argparse.Namespace) -> dict[str, Any]:
    import numpy as np

    from tconv._algorithms import _matmul
    from tconv._algorithms._matmul import matmul

    if args.library == "tconv":
        # the compiled product itself, also where tconv's size rules would keep NumPy's
        for name in ("NATIVE_MIN_MACS", "NATIVE_MIN_SIDE", "NATIVE_MIN_TERMS",
                     "NATIVE_MIN_SIDE_SPLIT", "NATIVE_MIN_TERMS_SPLIT"):
            setattr(_matmul, name, 0)
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {}
    for label, m, k, n, la, lb in dict(suite=SUITE, grid=GRID)[args.products]:
        a = np.asarray(rng.standard_normal((m, k), dtype=np.float32), order=la)
        b = np.asarray(rng.standard_normal((k, n), dtype=np.float32), order=lb)
        c = np.empty((m, n), np.float32)
        product = matmul if args.library == "tconv" else np.matmul
        r = timeit(functools.partial(product, a, b, out=c), warmup=2, repeat=args.repeat,
                   max_seconds=5.0)
        r["gflops"] = 2 * m * n * k / (r["median_ms"] * 1e6)
        out[label] = r
    return out


def _spawn(library: str, args: argparse.Namespace) -> dict[str, Any]:
    env = dict(os.environ)
    if library == "tconv":
        env["TCONV_GEMM"] = "native"
    else:
        env["TCONV_GEMM"] = "blas"
    if args.threads == 1:
        env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", TCONV_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", "--library", library, "--products",
           args.products, "--repeat", str(args.repeat)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--products", choices=("suite", "grid"), default="suite")
    ap.add_argument("--threads", type=int, choices=(0, 1), default=0,
                    help="1: both libraries on one thread; 0 (default): all cores")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--json", help="write the measurements here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--library", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    runs: dict[str, list[dict[str, Any]]] = {"numpy": [], "tconv": []}
    for r in range(args.rounds):
        for lib in ("numpy", "tconv"):
            runs[lib].append(_spawn(lib, args))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    meta = metadata()
    print(f"# {meta['processor']}, {meta['cpus']} CPUs, numpy {meta['numpy']}, "
          f"BLAS {meta.get('blas')}, env {meta['env']}")
    print(f"# threads: {'1' if args.threads == 1 else 'all'}; {args.rounds} rounds, each "
          "library in its own process; GFLOP/s of the median call, range over rounds")
    print("| product | M x K x N (A, B) | numpy GFLOP/s | tconv GFLOP/s | tconv / numpy time |")
    print("|---|---|---|---|---|")
    rows = {}
    products = dict(suite=SUITE, grid=GRID)[args.products]
    for label, m, k, n, la, lb in products:
        g = {lib: [run[label]["gflops"] for run in runs[lib]] for lib in runs}
        med = {lib: statistics.median(v) for lib, v in g.items()}
        ratio = statistics.median(t["median_ms"] / u["median_ms"] for t, u in
                                  zip((run[label] for run in runs["tconv"]),
                                      (run[label] for run in runs["numpy"])))
        rows[label] = {"m": m, "k": k, "n": n, "layout": la + lb, "gflops": g,
                       "ratio": ratio}
        print(f"| {label} | {m} x {k} x {n} ({la}, {lb}) | {med['numpy']:.0f} "
              f"({min(g['numpy']):.0f}-{max(g['numpy']):.0f}) | {med['tconv']:.0f} "
              f"({min(g['tconv']):.0f}-{max(g['tconv']):.0f}) | {ratio:.2f} |")
    if args.json:
        write_json(args.json, {"metadata": meta, "args": vars(args), "products": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
