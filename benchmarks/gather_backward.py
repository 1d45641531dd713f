"""The small-layer backward (``gather_max``): both gradients from one gather of ``grad_out``'s
windows against the paths the cost model runs without it, on a seeded population of small
layers of every kind, by the size of the layer's ``gemm`` product.

Usage::

    python benchmarks/gather_backward.py --count 80 --seed 0
    TCONV_NUMBA=0 python benchmarks/gather_backward.py --count 80 --seed 0   # numpy_gather_max

Method: every layer (1-3-D; dense, grouped, depthwise, thin-output and 1x1 kinds; float32,
one in five float64) is drawn so that its product, ``N * C_out * prod(K) * prod(S_in)``
numbers, lies log-uniformly between ``--lo`` and ``--hi``. ``conv_transpose_backward`` runs
with the gather path forced (the bound set above every layer) and with it off (the bound 0:
what the other rules pick), alternating in one process, ``--rounds`` pairs, each side the
median of its calls after a pause that lets the other side's BLAS threads sleep. The table
groups the layers by product size: the geometric mean of gather / other and how many layers
the gather path runs faster, per bin; the last line scores the rule in force
(``gather_max``, or ``numpy_gather_max`` with ``TCONV_NUMBA=0``, and ``gather_group_macs``):
the time of its pick over the other paths', against always gathering and against the faster
side of every layer.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import random
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_constants import _median_ms  # noqa: E402
from common import geomean  # noqa: E402


def population(count: int, seed: int, lo: int, hi: int) -> list[dict[str, Any]]:
    """``count`` seeded valid layers whose product holds ``lo``-``hi`` numbers."""
    rng = random.Random(seed)
    layers: list[dict[str, Any]] = []
    while len(layers) < count:
        want = math.exp(rng.uniform(math.log(lo), math.log(hi)))
        nd = rng.choice((1, 2, 2, 3))
        s = rng.choice((1, 2, 2, 3, 4))
        k = max(1, rng.choice((s, 2 * s, 3, 4, 2 * s + 1, 1)) if nd < 3 else
                rng.choice((1, 2, 3, 4)))
        kind = rng.choice(("dense", "grouped", "depthwise", "thin", "dense"))
        if kind == "depthwise":
            g, cig, cog = rng.choice((4, 8, 16, 32, 64, 128, 256, 512)), 1, 1
        elif kind == "grouped":
            g, cig, cog = rng.choice((2, 4, 8, 16, 32)), rng.choice((1, 2, 4, 8, 16, 32, 64)), \
                rng.choice((1, 2, 4, 8, 16, 32))
        elif kind == "thin":
            g, cig, cog = 1, rng.choice((8, 16, 32, 64, 128, 256, 512)), rng.choice((1, 3))
        else:
            g, cig, cog = 1, rng.choice((4, 8, 16, 32, 64, 128, 256, 512)), \
                rng.choice((4, 8, 16, 32, 64, 128))
        n = rng.choice((1, 2, 4, 8, 16))
        # the input side that brings the product nearest the wanted size
        per_position = n * g * cog * k ** nd
        side = max(1, round((want / per_position) ** (1 / nd)))
        pad = rng.randint(0, (k - 1) // 2)
        out = (side - 1) * s - 2 * pad + k
        numbers = per_position * side ** nd
        if out < 1 or not lo <= numbers <= hi:
            continue
        layers.append(dict(x=(n, g * cig, *(side,) * nd), w=(g * cig, cog, *(k,) * nd),
                           stride=s, padding=pad, groups=g, kind=kind, numbers=numbers,
                           dtype="float64" if rng.random() < 0.2 else "float32"))
    return layers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=60, help="layers (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lo", type=int, default=1 << 10, help="least product numbers")
    ap.add_argument("--hi", type=int, default=1 << 21, help="most product numbers")
    ap.add_argument("--rounds", type=int, default=2, help="A/B pairs per layer")
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per side and round")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    import numpy as np

    import tconv
    from tconv._algorithms import _cost, _native

    tconv.set_num_threads(args.threads)
    base = _cost.constants()
    sides = {"gather": dataclasses.replace(base, gather_max=1 << 62, numpy_gather_max=1 << 62,
                                           gather_group_macs=1 << 62),
             "other": dataclasses.replace(base, gather_max=0, numpy_gather_max=0)}
    real = _cost.constants
    rows: list[tuple[int, float]] = []
    picked: list[float] = []            # time of the rule in force's pick / other's
    print(f"compiled kernels: {'yes' if _native.available() else 'no'}, "
          f"{args.threads} threads")
    try:
        for i, lay in enumerate(population(args.count, args.seed, args.lo, args.hi)):
            rng = np.random.default_rng(i)
            x = rng.standard_normal(lay["x"]).astype(lay["dtype"])
            w = rng.standard_normal(lay["w"]).astype(lay["dtype"])
            kw = dict(stride=lay["stride"], padding=lay["padding"], groups=lay["groups"])
            gy = rng.standard_normal(tconv.conv_transpose(x, w, **kw).shape).astype(x.dtype)
            best: dict[str, float] = {}

            def backward(gy: Any = gy, x: Any = x, w: Any = w, kw: Any = kw) -> object:
                return tconv.conv_transpose_backward(gy, x, w, **kw)

            for _ in range(args.rounds):
                for name, consts in sides.items():
                    _cost.constants = lambda c=consts: c  # type: ignore[assignment]
                    _cost._decide.cache_clear()
                    ms = _median_ms(backward, args.budget)
                    best[name] = min(best.get(name, ms), ms)
            ratio = best["gather"] / best["other"]
            macs = lay["numbers"] * lay["x"][1] // lay["groups"]
            p = _cost.params(lay["x"], lay["w"], lay["stride"], lay["padding"], 0,
                             lay["groups"])
            rows.append((lay["numbers"], ratio))
            picked.append(ratio if _cost.gather_gradients(lay["x"], lay["w"], p, base)
                          else 1.0)
            print(f"{lay['kind']:9s} x{lay['x']} w{lay['w']} s{lay['stride']} "
                  f"g{lay['groups']} {lay['dtype']}: {lay['numbers']:>9,} numbers, "
                  f"{macs:>11,} multiply-adds, gather "
                  f"{best['gather']:.3f} ms, other {best['other']:.3f} ms, ratio {ratio:.2f}",
                  flush=True)
    finally:
        _cost.constants = real  # type: ignore[assignment]
        _cost._decide.cache_clear()
    print("\n| product numbers | layers | gather / other (geometric mean) | gather faster |")
    print("|---|---|---|---|")
    edge = args.lo
    while edge < args.hi:
        top = edge * 4
        got = [r for n, r in rows if edge <= n < top]
        if got:
            print(f"| {edge:,}-{top:,} | {len(got)} | {geomean(got):.2f} | "
                  f"{sum(r < 1 for r in got)} |")
        edge = top
    ratios = [r for _, r in rows]
    print(f"\nthe rule in force (gather_max {base.gather_max:,}, numpy_gather_max "
          f"{base.numpy_gather_max:,}, gather_group_macs {base.gather_group_macs:,}) "
          f"gathers {sum(1 for _, r in zip(ratios, picked) if r != 1.0)} of {len(rows)} "
          f"layers: its picks take {geomean(picked):.2f} of the other paths' time "
          f"(geometric mean), always gathering {geomean(ratios):.2f}, the faster side of "
          f"each layer {geomean([min(r, 1.0) for r in ratios]):.2f}; worst pick "
          f"{max(picked):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
