"""Where a zoo layer's time goes: each forward algorithm, torch's forward and gradients, and
the pieces of tconv's backward, in process CPU time on one thread (robust on a shared machine).

Usage::

    TCONV_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        python benchmarks/profile_zoo.py srgan_tc_x2,dcgan28_out

Each figure is the median of 3 calls after one warm-up call (milliseconds). ``gx``/``gw``:
input and weight gradients; ``compiled``: the compiled loops (``direct.grad_input``,
``direct.grad_weight``), ``numpy``: im2col and BLAS.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import cpu_median_ms  # noqa: E402
from zoo_conv_transpose import ZOO, output_size, sweep  # noqa: E402


def cpu_ms(fn: Callable[[], object], repeat: int = 3) -> float:
    """The median process CPU time of ``repeat`` calls after one warm-up, in milliseconds."""
    return cpu_median_ms(fn, repeat, warmup=1)


def profile_layer(lay: dict) -> str:
    import numpy as np
    import torch

    import tconv
    from tconv._algorithms import _cost, direct

    rng = np.random.default_rng(0)
    dt = np.dtype(lay["dtype"])
    x = rng.standard_normal(lay["x"]).astype(dt)
    w = rng.standard_normal(lay["w"]).astype(dt)
    g = lay["groups"]
    geo = (lay["stride"], lay["padding"], lay["output_padding"], g, lay["dilation"])
    gy = rng.standard_normal((x.shape[0], w.shape[1] * g, *output_size(lay))).astype(dt)
    p = _cost.params(x.shape, w.shape, *geo)
    size = tuple(x.shape[2:])
    row = {f"fwd {a}": cpu_ms(lambda a=a: tconv.conv_transpose(x, w, None, *geo, algorithm=a))
           for a in ("gemm", "phase", "direct")}
    xt, wt, gt = (torch.from_numpy(a) for a in (x, w, gy))
    nd = x.ndim - 2
    s, pd, d, op = ([lay[k]] * nd for k in ("stride", "padding", "dilation", "output_padding"))

    def back(mask: list[bool]) -> object:
        return torch.ops.aten.convolution_backward(gt, xt, wt, [wt.shape[1] * g], s, pd, d,
                                                   True, op, g, mask)
    with torch.inference_mode():
        row["torch fwd"] = cpu_ms(lambda: torch.ops.aten.convolution(xt, wt, None, s, pd, d,
                                                                     True, op, g))
        row["torch gx"] = cpu_ms(lambda: back([True, False, False]))
        row["torch gw"] = cpu_ms(lambda: back([False, True, True]))
    row["tconv bwd"] = cpu_ms(lambda: tconv.conv_transpose_backward(gy, x, w, *geo))
    row["gx numpy"] = cpu_ms(lambda: direct._numpy_grad_input(gy, w, p, size))
    row["gw numpy"] = cpu_ms(lambda: direct._numpy_grad_weight(x, gy, w.shape, p))
    if _cost.compiled_loops(x.shape, w.shape, p, backward=True):
        row["gx compiled"] = cpu_ms(lambda: direct.grad_input(gy, w, p, size))
        row["gw compiled"] = cpu_ms(lambda: direct.grad_weight(x, gy, w.shape, p))
    auto = tconv.explain_algorithm(x.shape, w.shape, *geo, dtype=dt).algorithm
    return f"{lay['name']} (auto: {auto}): " + ", ".join(f"{k} {v:.2f}"
                                                       for k, v in row.items())


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("layers", nargs="?", default="srgan_tc_x2",
                    help="comma-separated zoo or sweep layer names (default srgan_tc_x2)")
    args = ap.parse_args(argv)
    layers = {lay["name"]: lay for lay in ZOO + sweep(20)}
    names = args.layers.split(",")
    unknown = [n for n in names if n not in layers]
    if unknown:
        ap.error(f"unknown layers: {', '.join(unknown)} (bench_zoo.py --list names them)")
    import torch

    torch.set_num_threads(1)
    for name in names:
        print(profile_layer(layers[name]), flush=True)
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
