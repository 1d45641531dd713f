"""What a call costs around its arithmetic: ``conv_transpose`` (or, ``--backward``,
``conv_transpose_backward``) on seeded small layers, planned (a repeated call of float32/64
arrays with plain arguments reuses its checked plan) against checked on every call (the
plan lookup switched off), and torch in the same process.

Usage::

    python benchmarks/call_overhead.py --count 30 --seed 1
    python benchmarks/call_overhead.py --count 30 --seed 1 --backward

Method: the layers are ``small_layers.population`` (every kind: dense, grouped, depthwise,
thin-output, 1x1; 1-3-D; float32, one in five float64) whose ``gemm`` product holds
``--lo`` to ``--hi`` numbers (default 512-32,768: calls of 10-200 us, where fixed costs
show). Each side is the median of its calls over ``--budget`` seconds, the three sides
alternating for ``--rounds`` rounds, each side's best round kept; 2 threads. The table
prints each layer's times in microseconds and ratios; the last lines the geometric means.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_constants import _median_ms  # noqa: E402
from common import geomean  # noqa: E402
from small_layers import population  # noqa: E402


def _calls(tconv: Any, torch: Any, f: Any, gy: Any, x: Any, w: Any, gyt: Any, xt: Any,
           wt: Any, geo: tuple, backward: bool) -> tuple[Callable[[], object],
                                                      Callable[[], object]]:
    """tconv's call and torch's of one layer, forward or backward."""
    if backward:
        xt.requires_grad_(True)
        wt.requires_grad_(True)
        return (lambda: tconv.conv_transpose_backward(gy, x, w, *geo),
                lambda: torch.autograd.grad(f(xt, wt, None, *geo), (xt, wt), gyt))
    return (lambda: tconv.conv_transpose(x, w, None, *geo),
            lambda: f(xt, wt, None, *geo))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=30, help="layers (default 30)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lo", type=int, default=1 << 9, help="least product numbers")
    ap.add_argument("--hi", type=int, default=1 << 15, help="most product numbers")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget", type=float, default=0.1, help="seconds per side and round")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--backward", action="store_true")
    args = ap.parse_args(argv)
    import numpy as np
    import torch

    import tconv

    tconv.set_num_threads(args.threads)
    torch.set_num_threads(args.threads)
    module = importlib.import_module("tconv.grad" if args.backward else "tconv.conv")
    key_name = "_backward_key" if args.backward else "_call_key"
    real_key = getattr(module, key_name)
    checked_key = lambda *a, **k: None  # noqa: E731 - the plan lookup off
    tf = {1: torch.nn.functional.conv_transpose1d, 2: torch.nn.functional.conv_transpose2d,
          3: torch.nn.functional.conv_transpose3d}
    rows: list[tuple[float, float, float]] = []
    op = "conv_transpose_backward" if args.backward else "conv_transpose"
    print(f"{op}: {args.count} layers of seed {args.seed}, {args.threads} threads; times in us")
    print("| layer | planned | checked | torch | planned/checked | planned/torch |")
    print("|---|---|---|---|---|---|")
    for i, lay in enumerate(population(args.count, args.seed, args.lo, args.hi)):
        rng = np.random.default_rng(i)
        x = rng.standard_normal(lay["x"]).astype(lay["dtype"])
        w = rng.standard_normal(lay["w"]).astype(lay["dtype"])
        geo = (lay["stride"], lay["padding"], 0, lay["groups"])
        y = tconv.conv_transpose(x, w, None, *geo)
        gy = rng.standard_normal(y.shape).astype(x.dtype)
        xt, wt, gyt = (torch.from_numpy(a) for a in (x, w, gy))
        ours, theirs = _calls(tconv, torch, tf[x.ndim - 2], gy, x, w, gyt, xt, wt, geo,
                              args.backward)
        best = {"planned": 1e9, "checked": 1e9, "torch": 1e9}
        for _ in range(args.rounds):
            for side in best:
                setattr(module, key_name, checked_key if side == "checked" else real_key)
                ms = _median_ms(theirs if side == "torch" else ours, args.budget)
                best[side] = min(best[side], ms)
        setattr(module, key_name, real_key)
        p, c, t = (1e3 * best[s] for s in ("planned", "checked", "torch"))
        rows.append((p, c, t))
        print(f"| x{lay['x']} w{lay['w']} s{lay['stride']} g{lay['groups']} {lay['dtype']} "
              f"| {p:.1f} | {c:.1f} | {t:.1f} | {p / c:.2f} | {p / t:.2f} |", flush=True)
    print(f"\nplanned / checked: geometric mean {geomean([p / c for p, c, _ in rows]):.3f}; "
          f"planned / torch {geomean([p / t for p, _, t in rows]):.3f}, "
          f"checked / torch {geomean([c / t for _, c, t in rows]):.3f}")
    print(f"median call: planned {sorted(r[0] for r in rows)[len(rows) // 2]:.1f} us, "
          f"checked {sorted(r[1] for r in rows)[len(rows) // 2]:.1f} us, "
          f"torch {sorted(r[2] for r in rows)[len(rows) // 2]:.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
