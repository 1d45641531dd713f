"""Depthwise 2-D layers both ways: ``direct``'s one-pass kernel against the channels-innermost
pass, in one process.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/depthwise_paths.py --seeds 51,52
    python benchmarks/depthwise_paths.py --seeds 1 --count 20 --budget 0.05

A depthwise 2-D layer with column stride 2 and at most two kernel rows and two kernel
columns reaching each output has two compiled forward passes: ``direct``'s one-pass kernel
(``depthwise2d``: a plane at a time, both column phases of a row in one loop) and
``depthwise``'s channels-innermost pass (``dw_last``: ``x`` copied channels-last, one vector
multiply-add of ``C`` numbers a tap). For the depthwise layers of the layer zoo
(``zoo_conv_transpose.py``) and ``--count`` seeded random ones per seed (:func:`layers`),
the two are called alternately (``ab_revision.paired``: medians of interleaved calls). Each
layer prints both times, ``last / one-pass`` and the pass ``auto`` runs (``gemm``: a
small layer's one batched product, neither pass); then the geometric mean of the ratio over
the layers sent to each, and the layers where the chosen pass took over 1.1 times the
other's. Needs numba.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_revision import paired  # noqa: E402
from common import meta_line, metadata  # noqa: E402
from zoo_conv_transpose import ZOO, _l  # noqa: E402


def layers(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` seeded random depthwise 2-D layers with column stride 2 and at most 2 x 2
    taps an output: row stride 1-4, kernels 1-2x the stride, padding, output_padding,
    8-1,024 channels, maps 2-96 on a side (not square), batch 1-32, float32 (float64 one in
    five), 10^4 to 10^8 outputs-times-taps."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    while len(out) < count:
        sh = rng.choice((1, 2, 2, 2, 3, 4))
        kh = rng.randint(max(1, sh - 1), 2 * sh)
        kw = rng.choice((2, 3, 4))
        c = rng.choice((8, 16, 24, 32, 64, 96, 128, 256, 384, 512, 1024))
        n = rng.choice((1, 1, 2, 4, 8, 16, 32))
        h = rng.choice((2, 3, 4, 5, 7, 8, 12, 14, 16, 24, 32, 48, 64, 96))
        w = max(2, int(h * rng.choice((0.5, 1, 1, 1, 2))))
        pad = rng.randint(0, (min(kh, kw) - 1) // 2)
        layer = _l(f"dw{seed}_{len(out):02d}", "sweep", (n, c, h, w), (c, 1, kh, kw),
                   (sh, 2), pad, 0, c, 1, "float64" if rng.random() < 0.2 else "float32")
        size = [(i - 1) * st - 2 * pad + k for i, st, k in ((h, sh, kh), (w, 2, kw))]
        if min(size) < 1:
            continue
        work = n * c * math.prod(size) * 4
        if 10_000 <= work <= 100_000_000:
            out.append(layer)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="51", help="comma-separated seeds (default 51)")
    ap.add_argument("--count", type=int, default=40, help="random layers per seed")
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per layer")
    ap.add_argument("--no-zoo", action="store_true", help="only the random layers")
    args = ap.parse_args(argv)
    if args.count < 0 or args.budget <= 0:
        ap.error("--count must be >= 0 and --budget > 0")
    import numpy as np

    import tconv
    from tconv._algorithms import _cost, _native, _parallel, depthwise, direct

    if not _native.available():
        ap.error("the compiled passes need numba")
    cases = [] if args.no_zoo else [z for z in ZOO if z["groups"] == z["x"][1] > 1
                                    and z["w"][1] == 1 and len(z["x"]) == 4]
    for seed in (int(v) for v in args.seeds.split(",") if v):
        cases += layers(args.count, seed)
    print(meta_line(metadata() | {"threads": _parallel.num_threads(), "rounds": 1}))
    ratios: dict[str, list[float]] = {"one-pass": [], "last": []}
    wrong = []
    for lay in cases:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(lay["x"]).astype(lay["dtype"])
        w = rng.standard_normal(lay["w"]).astype(lay["dtype"])
        p = _cost.params(x.shape, w.shape, lay["stride"], lay["padding"],
                         lay["output_padding"], lay["groups"], lay["dilation"])
        out = p.transposed_size(x.shape[2:])
        tables = direct._depthwise_tables(tuple(x.shape[2:]), out, p)
        if tables is None:
            continue

        def one_pass(x=x, w=w, p=p, out=out, tables=tables) -> object:
            return direct._depthwise2d(x, w, p, out, tables)

        def last(x=x, w=w, p=p, out=out) -> object:
            return depthwise._channels_last_forward(x, w, p, out)

        tol = 1e-4 if x.dtype == np.float32 else 1e-10
        if not np.allclose(one_pass(), last(), rtol=tol, atol=tol):
            raise AssertionError(f"{lay['name']}: the two passes differ")
        o_s, l_s = paired(one_pass, last, args.budget)
        ratio = l_s / o_s
        d = tconv.explain_algorithm(x.shape, w.shape, stride=lay["stride"],
                                    padding=lay["padding"], groups=lay["groups"],
                                    dtype=x.dtype)
        took = (d.algorithm if d.algorithm != "direct"
                else "last" if depthwise.preferred(x.shape, w.shape, p) else "one-pass")
        ratios.setdefault(took, []).append(ratio)
        if (took == "last" and ratio > 1.1) or (took == "one-pass" and ratio < 1 / 1.1):
            wrong.append(lay["name"])
        print(f"{lay['name']:16s} {str(tuple(lay['x'])):22s} k{str(p.kernel):8s} "
              f"s{str(p.stride):8s} out {str(out):10s} {lay['dtype']:7s} one-pass "
              f"{o_s * 1e3:8.3f} ms  last {l_s * 1e3:8.3f} ms  last/one-pass {ratio:.2f}  "
              f"chosen: {took}")
    for took, rs in ratios.items():
        if rs:
            mean = math.exp(sum(math.log(r) for r in rs) / len(rs))
            print(f"layers sent to {took}: {len(rs)}, last/one-pass geometric mean "
                  f"{mean:.3f}, range {min(rs):.2f}-{max(rs):.2f}")
    print(f"the chosen pass over 1.1x the other's: {', '.join(wrong) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
