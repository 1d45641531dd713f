"""The cost model's two small-layer paths against the paths it runs without them, on a
seeded population of small layers, by the size of the layer's ``gemm`` product:

* ``--path gather`` (default): the backward's gather -- both gradients from one gather of
  ``grad_out``'s windows and one batched product each (``gather_max``, ``numpy_gather_max``,
  ``gather_group_macs``);
* ``--path scatter``: the forward's bincount -- one batched product and a col2im of one
  ``np.bincount`` (``scatter_max``, ``numpy_scatter_max``).

Usage::

    python benchmarks/small_layers.py --count 80 --seed 4 --hi 2097152
    TCONV_NUMBA=0 python benchmarks/small_layers.py --count 80 --seed 4 --hi 2097152
    python benchmarks/small_layers.py --path scatter --kinds depthwise --count 60 --hi 131072

Method: every layer (1-3-D; dense, grouped, depthwise, thin-output and 1x1 kinds, or those of
``--kinds``; float32, one in five float64) is drawn so that its product, ``N * C_out *
prod(K) * prod(S_in)`` numbers, lies log-uniformly between ``--lo`` and ``--hi``. The call
(``conv_transpose_backward``, or ``conv_transpose`` for the scatter) runs with the path
forced (its bounds set above every layer) and with it off (0: what the other rules pick),
alternating in one process, ``--rounds`` pairs, each side the median of its calls after a
pause that lets the other side's BLAS threads sleep. The table groups the layers by product
size: the geometric mean of path / other and how many layers the path runs faster, per bin;
the last line scores the rule in force: the time of its pick over the other paths', against
always taking the path and against the faster side of every layer.
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

KINDS = ("dense", "grouped", "depthwise", "thin", "1x1")

#: per path: the constants that force it (bounds above every layer) and turn it off
BOUNDS = {"gather": ("gather_max", "numpy_gather_max", "gather_group_macs"),
          "scatter": ("scatter_max", "numpy_scatter_max")}


def population(count: int, seed: int, lo: int, hi: int,
               kinds: tuple[str, ...] = KINDS) -> list[dict[str, Any]]:
    """``count`` seeded valid layers whose product holds ``lo``-``hi`` numbers, of
    ``kinds`` (the draws of the other kinds are skipped: the same seed gives the same
    layers of a kind whatever the others)."""
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
        if (kind if k > 1 or kind == "depthwise" else "1x1") not in kinds:
            continue
        layers.append(dict(x=(n, g * cig, *(side,) * nd), w=(g * cig, cog, *(k,) * nd),
                           stride=s, padding=pad, groups=g, kind=kind, numbers=numbers,
                           dtype="float64" if rng.random() < 0.2 else "float32"))
    return layers


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", choices=tuple(BOUNDS), default="gather")
    ap.add_argument("--kinds", default=",".join(KINDS),
                    help=f"comma-separated layer kinds (default {','.join(KINDS)})")
    ap.add_argument("--count", type=int, default=60, help="layers (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lo", type=int, default=1 << 10, help="least product numbers")
    ap.add_argument("--hi", type=int, default=1 << 21, help="most product numbers")
    ap.add_argument("--rounds", type=int, default=2, help="A/B pairs per layer")
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per side and round")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    kinds = tuple(k for k in args.kinds.split(",") if k)
    if not kinds or set(kinds) - set(KINDS):
        ap.error(f"--kinds: choose among {', '.join(KINDS)}")
    import numpy as np

    import tconv
    from tconv._algorithms import _cost, _native

    tconv.set_num_threads(args.threads)
    base = _cost.constants()
    names = BOUNDS[args.path]
    sides = {"path": dataclasses.replace(base, **{n: 1 << 62 for n in names}),
             "other": dataclasses.replace(base, **{n: 0 for n in names})}
    rule = _cost.gather_gradients if args.path == "gather" else _cost.scatter_sum
    real = _cost.constants
    rows: list[tuple[int, float, bool]] = []     # product numbers, path / other, rule picks it
    print(f"{args.path}: compiled kernels {'yes' if _native.available() else 'no'}, "
          f"{args.threads} threads")
    try:
        for i, lay in enumerate(population(args.count, args.seed, args.lo, args.hi, kinds)):
            rng = np.random.default_rng(i)
            x = rng.standard_normal(lay["x"]).astype(lay["dtype"])
            w = rng.standard_normal(lay["w"]).astype(lay["dtype"])
            kw = dict(stride=lay["stride"], padding=lay["padding"], groups=lay["groups"])
            gy = rng.standard_normal(tconv.conv_transpose(x, w, **kw).shape).astype(x.dtype)

            def call(gy: Any = gy, x: Any = x, w: Any = w, kw: Any = kw) -> object:
                if args.path == "scatter":
                    return tconv.conv_transpose(x, w, **kw)
                return tconv.conv_transpose_backward(gy, x, w, **kw)

            best: dict[str, float] = {}
            for _ in range(args.rounds):
                for name, consts in sides.items():
                    _cost.constants = lambda c=consts: c  # type: ignore[assignment]
                    _cost.clear_decisions()
                    ms = _median_ms(call, args.budget)
                    best[name] = min(best.get(name, ms), ms)
            ratio = best["path"] / best["other"]
            macs = lay["numbers"] * lay["x"][1] // lay["groups"]
            p = _cost.params(lay["x"], lay["w"], lay["stride"], lay["padding"], 0,
                             lay["groups"])
            rows.append((lay["numbers"], ratio, rule(lay["x"], lay["w"], p, base)))
            print(f"{lay['kind']:9s} x{lay['x']} w{lay['w']} s{lay['stride']} "
                  f"g{lay['groups']} {lay['dtype']}: {lay['numbers']:>9,} numbers, "
                  f"{macs:>11,} multiply-adds, {args.path} {best['path']:.3f} ms, other "
                  f"{best['other']:.3f} ms, ratio {ratio:.2f}", flush=True)
    finally:
        _cost.constants = real  # type: ignore[assignment]
        _cost.clear_decisions()
    print(f"\n| product numbers | layers | {args.path} / other (geometric mean) | "
          f"{args.path} faster |")
    print("|---|---|---|---|")
    edge = args.lo
    while edge < args.hi:
        top = edge * 4
        got = [r for n, r, _ in rows if edge <= n < top]
        if got:
            print(f"| {edge:,}-{top:,} | {len(got)} | {geomean(got):.2f} | "
                  f"{sum(r < 1 for r in got)} |")
        edge = top
    ratios = [r for _, r, _ in rows]
    picked = [r if take else 1.0 for _, r, take in rows]
    bounds = ", ".join(f"{n} {getattr(base, n):,}" for n in names)
    print(f"\nthe rule in force ({bounds}) takes the path on "
          f"{sum(take for *_, take in rows)} of {len(rows)} layers: its picks take "
          f"{geomean(picked):.2f} of the other paths' time (geometric mean), always taking "
          f"it {geomean(ratios):.2f}, the faster side of each layer "
          f"{geomean([min(r, 1.0) for r in ratios]):.2f}; worst pick {max(picked):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
