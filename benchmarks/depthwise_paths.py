"""Depthwise layers every way: ``auto`` against each compiled forward pass, in one process.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/depthwise_paths.py --seeds 51,52
    python benchmarks/depthwise_paths.py --seeds 1 --count 20 --budget 0.05 --kind one-pass

A depthwise layer (one input and one output channel a group) has up to four compiled
forward passes: ``direct``'s one-pass 2-D kernel (``depthwise2d``: column stride 2, at most
two kernel rows and two kernel columns reaching each output; a plane at a time, both column
phases of a row in one loop), and ``depthwise``'s row loops (``dw_forward``: a plane at a
time, each output row summed phase by phase), stamps (``dw_scatter``: each input's kernel
added to its outputs) and channels-innermost pass (``dw_last``: ``x`` copied channels-last,
one vector multiply-add of ``C`` numbers a tap); where every output is at most one
term, ``conv_transpose``'s one-term path (one broadcast multiply a kernel tap) too.
``auto`` may also run ``phase`` or ``gemm``. For the depthwise layers of the layer zoo
(``zoo_conv_transpose.py``) and ``--count`` seeded random ones per seed (:func:`layers`;
``--kind one-pass``: only 2-D layers of the one-pass kernel), every pass and ``auto`` are
called in turn, round after round (medians of interleaved calls). Each layer prints every
time, the pass ``auto`` runs and ``auto / best``; then, per pass ``auto`` runs, the
geometric mean of ``auto / best``, and the layers where ``auto`` took over 1.1 times the
best pass (``auto`` also pays the call's checks and dispatch, which show on the smallest
layers). Needs numba.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import geomean, meta_line, metadata  # noqa: E402
from zoo_conv_transpose import ZOO, _l  # noqa: E402


def _out(size: tuple[int, ...], k: tuple[int, ...], s: tuple[int, ...], pad: int,
         d: int) -> list[int]:
    return [(i - 1) * ss - 2 * pad + d * (kk - 1) + 1 for i, kk, ss in zip(size, k, s)]


def layers(count: int, seed: int, kind: str = "any") -> list[dict[str, Any]]:
    """``count`` seeded random depthwise layers, 10^4 to 10^8 outputs times taps a phase:
    ``kind="any"``: 1-3-D, stride 1-8, kernels 1-2x the stride plus one (or 3, 4),
    dilation 1-2; ``kind="one-pass"``: 2-D with column stride 2 and at most 2 x 2 taps an
    output, row stride 1-4. Both: padding, 8-1,024 channels, maps of 2 to 4,096 positions
    a side by rank (not square), batch 1-32, float32 (float64 one in five)."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    while len(out) < count:
        d = 1
        if kind == "one-pass":
            nd, s = 2, (rng.choice((1, 2, 2, 2, 3, 4)), 2)
            k = (rng.randint(max(1, s[0] - 1), 2 * s[0]), rng.choice((2, 3, 4)))
        else:
            nd = rng.choice((1, 2, 2, 2, 3))
            st = rng.choice((1, 2, 2, 2, 3, 4, 8) if nd < 3 else (1, 2, 2))
            kk = rng.choice((st, 2 * st, 2 * st, 3, 4, 2 * st + 1))
            s, k = (st,) * nd, (kk,) * nd
            d = rng.choice((1, 1, 1, 1, 2))
        c = rng.choice((8, 16, 24, 32, 64, 96, 128, 256, 384, 512, 1024))
        n = rng.choice((1, 1, 2, 4, 8, 16, 32))
        side = rng.choice({1: (64, 256, 1024, 4096), 2: (2, 3, 4, 5, 7, 8, 12, 14, 16, 24, 32,
                                                          48, 64, 96),
                           3: (2, 3, 4, 6, 8, 12, 16)}[nd])
        size = (side,) * (nd - 1) + (max(2, int(side * rng.choice((0.5, 1, 1, 1, 2)))),)
        pad = rng.randint(0, (d * (min(k) - 1)) // 2)
        o = _out(size, k, s, pad, d)
        if min(o) < 1:
            continue
        taps = math.prod(max(1, -(-kk // ss)) for kk, ss in zip(k, s))
        if not 10_000 <= n * c * math.prod(o) * taps <= 100_000_000:
            continue
        out.append(_l(f"dw{seed}_{len(out):02d}", "sweep", (n, c, *size), (c, 1, *k),
                      s if len(set(s)) > 1 else s[0], pad, 0, c, d,
                      "float64" if rng.random() < 0.2 else "float32"))
    return out


def interleaved(fns: dict[str, Callable[[], object]], budget: float) -> dict[str, float]:
    """Median seconds of each function, called in turn round after round (the order turned
    each round) for about ``budget`` seconds in all."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    t_end = time.perf_counter() + budget
    r = 0
    while r < 5 or (time.perf_counter() < t_end and r < 41):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t0 = time.perf_counter()
            fns[name]()
            times[name].append(time.perf_counter() - t0)
        r += 1
    return {k: sorted(v)[len(v) // 2] for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="51", help="comma-separated seeds (default 51)")
    ap.add_argument("--count", type=int, default=40, help="random layers per seed")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per layer")
    ap.add_argument("--kind", choices=("any", "one-pass"), default="any",
                    help="random layers of any depthwise geometry, or only those of the "
                         "one-pass 2-D kernel")
    ap.add_argument("--no-zoo", action="store_true", help="only the random layers")
    args = ap.parse_args(argv)
    if args.count < 0 or args.budget <= 0:
        ap.error("--count must be >= 0 and --budget > 0")
    import numpy as np

    import tconv
    from tconv._algorithms import _cost, _native, _parallel, depthwise, direct

    conv = importlib.import_module("tconv.conv")

    if not _native.available():
        ap.error("the compiled passes need numba")
    cases = [] if args.no_zoo else [z for z in ZOO if z["groups"] == z["x"][1] > 1
                                    and z["w"][1] == 1]
    for seed in (int(v) for v in args.seeds.split(",") if v):
        cases += layers(args.count, seed, args.kind)
    print(meta_line(metadata() | {"threads": _parallel.num_threads(), "rounds": 1}))
    ratios: dict[str, list[float]] = {}
    wrong = []
    for lay in cases:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(lay["x"]).astype(lay["dtype"])
        w = rng.standard_normal(lay["w"]).astype(lay["dtype"])
        geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
               lay["dilation"])
        p = _cost.params(x.shape, w.shape, *geo)
        out = p.transposed_size(x.shape[2:])
        passes: dict[str, Callable[[], object]] = {}
        tables = direct._depthwise_tables(tuple(x.shape[2:]), out, p)
        if tables is not None:
            passes["one-pass"] = lambda x=x, w=w, p=p, o=out, t=tables: direct._depthwise2d(
                x, w, p, o, t)
        passes["rows"] = lambda x=x, w=w, p=p, o=out: depthwise._compiled_forward(
            x, w, p, o, scatter=False)
        passes["stamps"] = lambda x=x, w=w, p=p, o=out: depthwise._compiled_forward(
            x, w, p, o, scatter=True)
        passes["last"] = lambda x=x, w=w, p=p, o=out: depthwise._channels_last_forward(
            x, w, p, o)
        if _cost.single_term(x.shape, w.shape, p):
            passes["one-term"] = lambda x=x, w=w, p=p, o=out: conv._single_term(x, w, p, o)
        d = _cost.decide(x.shape, w.shape, p, x.dtype)
        if d.algorithm != "direct":
            took = ("one-term" if _cost.single_term(x.shape, w.shape, p) and not d.scatter
                    else d.algorithm + (" scatter" if d.scatter else ""))
        elif tables is not None and not depthwise.short_rows(x.shape, p):
            took = "one-pass"
        elif not depthwise.preferred(x.shape, w.shape, p):
            took = "direct"
        elif depthwise.channels_inner(x.shape, p):
            took = "last"
        else:
            took = "stamps" if depthwise.scatters(x.shape, p) else "rows"
        passes["auto"] = lambda x=x, w=w, g=geo: tconv.conv_transpose(x, w, None, *g)
        ref = passes["auto"]()
        tol = 1e-4 if x.dtype == np.float32 else 1e-10
        for name, fn in passes.items():
            if not np.allclose(fn(), ref, rtol=tol, atol=tol * np.abs(ref).max()):
                raise AssertionError(f"{lay['name']}: {name} differs from auto")
        t = interleaved(passes, args.budget)
        best = min(v for k, v in t.items() if k != "auto")
        ratio = t["auto"] / best
        ratios.setdefault(took, []).append(ratio)
        if ratio > 1.1:
            wrong.append(lay["name"])
        shown = "  ".join(f"{k} {v * 1e3:7.3f}" for k, v in t.items())
        print(f"{lay['name']:18s} {str(tuple(lay['x'])):22s} k{str(p.kernel):11s} "
              f"s{str(p.stride):11s} out {str(out):14s} {lay['dtype']:7s} {shown} ms  "
              f"auto runs {took}: auto/best {ratio:.2f}")
    for took, rs in sorted(ratios.items()):
        print(f"auto runs {took}: {len(rs)} layers, auto/best geometric mean "
              f"{geomean(rs):.3f}, range {min(rs):.2f}-{max(rs):.2f}")
    print(f"auto over 1.1x the best pass: {', '.join(wrong) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
