"""How far the matrix products alone are from PyTorch's whole backward ops (the #5 floor).

tconv's backward for fat layers (a1, d) and the a4 weight gradient is im2col + NumPy matrix
products (OpenBLAS). This script times, each library in its own process and each op
``--rounds`` times:

* ``product``: only the matrix product(s) that op needs, as one ``np.matmul`` call with
  BLAS on all cores -- no im2col, no output layout -- the least our formulation can cost on
  this BLAS;
* ``tconv``: the whole op (``tconv.grad.transpose_input_grad`` / ``transpose_weight_grad``);
* ``torch``: ``aten.convolution_backward`` for the same op.

``product / torch`` above 1 means that no im2col or layout work can bring the op to
PyTorch's time with these BLAS kernels (see ``OPENBLAS_CORETYPE`` in the printed header).

Since the eighth stop, tconv multiplies with its own compiled product where NumPy's BLAS
lacks the processor's AVX-512 kernels, and its backward convs read their windows in place
(``tconv._algorithms._matmul``); this script still times NumPy's product -- the floor that
motivated that change. ``bench_matmul.py`` compares the two products.

    python benchmarks/blas_floor.py
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/blas_floor.py
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from bench_conv_transpose import SHAPES, _inputs, _params  # noqa: E402
from common import timeit  # noqa: E402

#: (shape, op): the backward terms whose product is the bulk of the work
OPS = (("a1", "grad_input"), ("a1", "grad_weight"), ("d", "grad_input"), ("d", "grad_weight"),
       ("a4", "grad_weight"))


def _operands(shape: str, op: str):
    """The matmul operands of the op in tconv's formulation (random, right shapes)."""
    import numpy as np

    cfg = SHAPES[shape]
    n, c_in = cfg["x"][:2]
    cog, taps = cfg["w"][1], math.prod(cfg["w"][2:])
    pos_in = n * math.prod(cfg["x"][2:])
    rng = np.random.default_rng(0)
    if op == "grad_input":          # W (C_in, C_out*K) @ cols(gy) (C_out*K, N*S_in)
        shapes = [(c_in, cog * taps), (cog * taps, pos_in)]
    elif shape == "a4":             # per image: x_n (C_in, S_in) @ cols_n (S_in, C_out*K)
        s_in = math.prod(cfg["x"][2:])
        shapes = [(n, c_in, s_in), (n, s_in, cog * taps)]
    else:                           # x (C_in, N*S_in) @ cols(gy).T (N*S_in, C_out*K)
        shapes = [(c_in, pos_in), (pos_in, cog * taps)]
    return [rng.standard_normal(s, dtype=np.float32) for s in shapes]


def worker(lib: str, shape: str, op: str, repeat: int) -> dict:
    cfg = SHAPES[shape]
    x, w, gy = _inputs(cfg)
    if lib == "product":
        import numpy as np

        a, b = _operands(shape, op)
        return timeit(lambda: np.matmul(a, b), repeat=repeat)
    if lib == "tconv":
        from tconv import grad

        p, _ = _params(cfg)
        fn = grad.transpose_input_grad if op == "grad_input" else grad.transpose_weight_grad
        return timeit(lambda: fn(gy, x, w, p), repeat=repeat)
    import torch

    xt, wt, gt = (torch.from_numpy(v) for v in (x, w, gy))
    nd = xt.dim() - 2
    s, pd, opd = ([cfg[k]] * nd for k in ("stride", "padding", "output_padding"))
    mask = [op == "grad_input", op == "grad_weight", False]
    with torch.inference_mode():
        return timeit(lambda: torch.ops.aten.convolution_backward(
            gt, xt, wt, None, s, pd, [1] * nd, True, opd, cfg["groups"], mask), repeat=repeat)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--worker", nargs=3, metavar=("LIB", "SHAPE", "OP"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker, args.repeat)))
        return 0
    print(f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, "
          f"{os.cpu_count()} CPUs; medians over {args.rounds} rounds, ms\n")
    print("| op | product alone | tconv | torch | product / torch | tconv / torch |")
    print("|---|---|---|---|---|---|")
    for shape, op in OPS:
        got: dict[str, list[float]] = {"product": [], "tconv": [], "torch": []}
        for _ in range(args.rounds):
            for lib in got:
                r = subprocess.run([sys.executable, __file__, "--repeat", str(args.repeat),
                                    "--worker", lib, shape, op], capture_output=True,
                                   text=True, check=True)
                got[lib].append(json.loads(r.stdout.strip().splitlines()[-1])["median_ms"])
        m = {k: statistics.median(v) for k, v in got.items()}
        print(f"| {shape} {op} | {m['product']:.2f} | {m['tconv']:.2f} | {m['torch']:.2f} | "
              f"{m['product'] / m['torch']:.2f} | {m['tconv'] / m['torch']:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
