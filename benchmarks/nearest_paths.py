"""``interpolate``'s nearest calls both ways: the passes against the direct loop, in one process.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/nearest_paths.py --seeds 31,32,33
    python benchmarks/nearest_paths.py --seeds 1 --count 100 --budget 0.1

For every nearest / nearest-exact case of the resize zoo (``zoo_interpolate.py``) and of
``--count`` seeded random resizes per seed (``zoo_interpolate.sweep``), the passes (one per
axis: strided slices, whole-factor repeats, gathers) and the direct loop
(``resample_gather``) are called alternately (``ab_revision.paired``: medians of
interleaved calls). Each case prints both times, how each axis's table is copied (1: a
strided slice, s: each input repeated s times, 0: a gather) and which path the plan takes;
then, per kind of 2-D and 3-D call above the small-call bound (some axis gathered, or every
axis a slice or repeat), the geometric mean of direct / passes, and the cases where the
plan's path took over 1.1 times the other's. Needs numba.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_revision import paired  # noqa: E402
from common import meta_line, metadata  # noqa: E402
from zoo_interpolate import ZOO, kwargs, sweep  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="31", help="comma-separated sweep seeds (default 31)")
    ap.add_argument("--count", type=int, default=60, help="random resizes per seed")
    ap.add_argument("--budget", type=float, default=0.2, help="seconds per case")
    ap.add_argument("--no-zoo", action="store_true", help="only the sweeps")
    args = ap.parse_args(argv)
    if args.count < 0 or args.budget <= 0:
        ap.error("--count must be >= 0 and --budget > 0")
    import numpy as np

    from tconv._algorithms import _native

    if not _native.available():
        ap.error("the direct loop needs numba")
    interp = importlib.import_module("tconv.interpolate")
    cases = [] if args.no_zoo else list(ZOO)
    for seed in (int(v) for v in args.seeds.split(",") if v):
        cases += [dict(c, name=f"s{seed}_{c['name']}") for c in sweep(args.count, seed)]
    from tconv._algorithms import _parallel

    print(meta_line(metadata() | {"threads": _parallel.num_threads(), "rounds": 1}))
    kinds: dict[str, list[float]] = {"some axis gathered": [], "slices and repeats": []}
    wrong = []
    for case in cases:
        if "nearest" not in case["mode"]:
            continue
        kw = kwargs(case)
        x = np.random.default_rng(0).standard_normal(case["x"]).astype(case["dtype"])
        key = interp._plan_key(x, kw.get("size"), kw.get("scale_factor"), kw["mode"], None,
                               None, False, interp.CUBIC_A)
        plan = interp._plan(*key)
        nd = x.ndim - 2
        tables = [interp._axis_table(n, m, case["mode"], False, f, x.dtype.type,
                                     nearest_2d=nd == 2)
                  for n, m, f in zip(x.shape[2:], plan.out_size, plan.factors)]
        runs = [interp._copied(t[0][:, 0], n) for t, n in zip(tables, x.shape[2:])]
        index = tuple(np.zeros((1, 1), np.intp) for _ in range(3 - nd)) + tuple(
            t[0].astype(np.intp) for t in tables)

        def passes(x=x, plan=plan, mode=case["mode"]) -> object:
            return interp._resample(x, plan.out_size, plan.factors, mode, False)

        def direct(x=x, plan=plan, index=index) -> object:
            return interp._direct(x, plan.out_size, index)

        if not np.array_equal(passes(), direct()):
            raise AssertionError(f"{case['name']}: the two paths differ")
        p_s, d_s = paired(passes, direct, args.budget)
        ratio = d_s / p_s
        took = "direct" if plan.direct is not None else "passes"
        kind = "some axis gathered" if not all(runs) else "slices and repeats"
        small = x.shape[0] * x.shape[1] * math.prod(plan.out_size) <= interp._DIRECT_MAX
        if nd > 1 and not small:
            kinds[kind].append(ratio)
        if (took == "direct" and ratio > 1.1) or (took == "passes" and ratio < 1 / 1.1):
            wrong.append(case["name"])
        print(f"{case['name']:26s} {str(case['x']):24s} -> {str(plan.out_size):16s} "
              f"{case['mode']:13s} axes {runs} passes {p_s * 1e3:8.3f} ms  direct "
              f"{d_s * 1e3:8.3f} ms  direct/passes {ratio:.2f}  plan: {took}")
    for kind, ratios in kinds.items():
        if ratios:
            mean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
            print(f"2-D/3-D, {kind}, above the small-call bound: {len(ratios)} calls, "
                  f"direct/passes geometric mean "
                  f"{mean:.3f}, range {min(ratios):.2f}-{max(ratios):.2f}")
    print(f"the plan's path over 1.1x the other's: {', '.join(wrong) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
