"""Calibrate the cost model's constants (``tconv._algorithms._cost.Constants``) on this machine.

Usage::

    python benchmarks/calibrate.py              # zoo + sweep: benchmarks/cost_constants.json
    python benchmarks/calibrate.py --layers dcgan_512_4,melgan_512_k16s8 --out my.json
    TCONV_COST_FILE=my.json python -c "import tconv; print(tconv.explain_algorithm(...))"
    python benchmarks/calibrate.py --install                # into the package (shipped defaults)

Method: every probe layer (the zoo of ``zoo_conv_transpose.py`` and its seeded sweep) is
timed forward with each candidate algorithm (``gemm``, ``phase``, and ``direct`` where numba
is installed; median of calls, ``--threads`` threads), in one process. The constants are then
chosen by coordinate descent over a grid of values per constant, minimising the sum over
probes of ``log(time of the algorithm the cost model picks)`` -- the geometric mean of the
picked times. The defaults' and the best-possible (per-layer fastest) scores are printed
beside the calibrated one, with every probe where the calibrated choice is over 10 % slower
than the fastest candidate. The JSON written holds the constants, the machine and the
command; the package reads ``TCONV_COST_FILE`` or its shipped ``cost_constants.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import cpu_median_ms, metadata, timeit, write_json  # noqa: E402
from zoo_conv_transpose import ZOO, sweep  # noqa: E402

#: candidate values per constant (each includes the default); only constants that decide
#: *which* algorithm runs -- the fast paths inside one (gemm's channels-last layout, the
#: depthwise sub-pixel products) change the measured times themselves and keep their defaults
GRID: dict[str, tuple[float, ...]] = {
    "direct_depth": (2, 4, 8, 16, 32, 64),
    "direct_max_depth": (16, 32, 64, 128, 256, 1 << 30),
    "direct_max_terms": (256, 512, 1024, 2048, 4096, 16384),
    "direct_max_cout": (0, 1, 2, 4),
    "gemm_max_cout": (1, 2, 4, 8, 16),
    "gemm_wide": (2, 4, 8, 16, 32, 64),
    "phase_max_overhead": (1.1, 1.25, 1.5, 2.0, 4.0),
    "segment_max_terms": (512, 1024, 2048, 4096, 8192),
    "input_grad_depth": (0, 2, 4, 8, 16, 32, 64, 128),
    "input_grad_max_stride": (1, 2, 3, 4, 8, 1 << 30),
    "tiles_max_depth": (0, 8, 16, 32, 64, 128, 256),
    "tiles_min_positions": (0, 64, 128, 256, 1024),
    "input_grad_float64": (0, 0.125, 0.25, 0.5, 1),
    "input_grad_min_positions": (0, 16, 32, 64, 128, 256),
    "weight_sums_depth": (0, 4, 8, 16, 24, 32, 64),
}


def _backward_times(x: Any, w: Any, geo: Any, cpu: bool, budget: float) -> dict[str, float]:
    """Each gradient of ``conv_transpose_backward`` by each of its paths: the input gradient
    by im2col and BLAS (``gx_numpy``) and by the compiled loops (``gx_compiled``), the
    weight gradient by im2col and BLAS (``gw_numpy``), by the compiled tiles
    (``gw_tiles``) and by the compiled correlation sums (``gw_sums``)."""
    import numpy as np

    import tconv
    from tconv import grad
    from tconv._algorithms import _cost, direct

    out = tconv.conv_transpose(x, w, None, *geo, algorithm="gemm")
    gy = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    p = _cost.params(x.shape, w.shape, *geo)
    size = tuple(x.shape[2:])
    calls = {
        "gx_numpy": lambda: grad.conv_gemm(gy, w, p.stride, p.crop, p.dilation, p.groups,
                                           size),
        "gx_compiled": lambda: direct.grad_input(gy, w, p, size),
        "gw_numpy": lambda: grad._conv_weight_grad(x, gy, p.kernel, p.stride, p.crop,
                                                   p.dilation, p.groups),
        "gw_tiles": lambda: direct.grad_weight_tiles(x, gy, w.shape, p),
        "gw_sums": lambda: direct.grad_weight(x, gy, w.shape, p),
    }
    times = {}
    for name, call in calls.items():
        call()
        times[name] = cpu_median_ms(call) if cpu else \
            timeit(call, warmup=0, repeat=3, max_seconds=budget)["median_ms"]
    return times


def measure(layers: list[dict[str, Any]], budget: float, cpu: bool = False,
            backward: bool = False) -> list[dict[str, Any]]:
    import numpy as np

    import tconv
    from tconv._algorithms import _native

    algos = ["gemm", "phase"] + (["direct"] if _native.available() else [])
    probes = []
    for lay in layers:
        rng = np.random.default_rng(0)
        dt = np.dtype(lay["dtype"])
        x = rng.standard_normal(lay["x"]).astype(dt)
        w = rng.standard_normal(lay["w"]).astype(dt)
        geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
               lay["dilation"])
        times = {}
        for algo in algos:
            def call(algo: str = algo, x: Any = x, w: Any = w, geo: Any = geo) -> object:
                return tconv.conv_transpose(x, w, None, *geo, algorithm=algo)
            call()
            times[algo] = cpu_median_ms(call) if cpu else \
                timeit(call, warmup=0, repeat=3, max_seconds=budget)["median_ms"]
        probe = {"name": lay["name"], "x": x.shape, "w": w.shape, "geo": geo,
                 "dtype": dt.name, "times": times}
        if backward and _native.available():
            probe["backward"] = _backward_times(x, w, geo, cpu, budget)
        probes.append(probe)
        best = min(times, key=times.__getitem__)
        print(f"{lay['name']:22s} " + " ".join(f"{a}={t:8.2f}" for a, t in times.items())
              + f"  fastest {best}", file=sys.stderr)
    return probes


def merge_probes(paths: list[str]) -> list[dict[str, Any]]:
    """The probes of saved runs, each time the geometric mean over the runs that have it."""
    import json

    runs: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        with open(path) as f:
            for pr in json.load(f)["probes"]:
                runs.setdefault(pr["name"], []).append(pr)
    merged = []
    for prs in runs.values():
        pr = dict(prs[0])
        pr["x"], pr["w"], pr["geo"] = tuple(pr["x"]), tuple(pr["w"]), tuple(pr["geo"])
        for key in ("times", "backward"):
            have = [q[key] for q in prs if key in q]
            if have:
                pr[key] = {a: math.exp(sum(math.log(h[a]) for h in have) / len(have))
                           for a in have[0]}
        merged.append(pr)
    return merged


def score(probes: list[dict[str, Any]], consts: Any) -> float:
    from tconv._algorithms import _cost

    total = 0.0
    for pr in probes:
        p = _cost.params(pr["x"], pr["w"], *pr["geo"])
        algo = _cost.decide(pr["x"], pr["w"], p, pr["dtype"], consts).algorithm
        total += math.log(pr["times"].get(algo, max(pr["times"].values())))
        back = pr.get("backward", {})
        if "gx_numpy" in back:
            gx = _cost.compiled_loops(pr["x"], pr["w"], p, consts, backward=True,
                                      dtype=pr["dtype"])
            sums = "gw_sums" in back and _cost.weight_sums(pr["x"], pr["w"], p, consts,
                                                            dtype=pr["dtype"])
            tiles = _cost.weight_tiles(pr["x"], pr["w"], p, consts, dtype=pr["dtype"])
            total += math.log(back["gx_compiled" if gx else "gx_numpy"])
            total += math.log(back["gw_sums" if sums else "gw_tiles" if tiles else "gw_numpy"])
    return total / len(probes)


def _fastest_backward(probe: dict[str, Any]) -> float:
    """log of the fastest input gradient plus the fastest weight gradient of a probe."""
    back = probe.get("backward", {})
    if "gx_numpy" not in back:
        return 0.0
    return (math.log(min(back["gx_numpy"], back["gx_compiled"]))
            + math.log(min(back[k] for k in ("gw_numpy", "gw_tiles", "gw_sums") if k in back)))


def calibrate(probes: list[dict[str, Any]], passes: int = 3) -> Any:
    from tconv._algorithms import _cost

    best = _cost.Constants()
    best_score = score(probes, best)
    for _ in range(passes):
        changed = False
        for name, values in GRID.items():
            for v in values:
                cand = dataclasses.replace(best, **{name: type(getattr(best, name))(v)})
                s = score(probes, cand)
                if s < best_score - 1e-9:
                    best, best_score, changed = cand, s, True
        if not changed:
            break
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", default="", help="comma-separated zoo layer names")
    ap.add_argument("--sweep", type=int, default=20, help="random layers added (default 20)")
    ap.add_argument("--threads", type=int, default=2, help="tconv's threads (default 2)")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per algorithm")
    ap.add_argument("--backward", action="store_true",
                    help="also time each gradient by each of its paths and fit the "
                         "input_grad_* and tiles_* constants")
    ap.add_argument("--cpu", action="store_true",
                    help="one thread, process CPU time (for a shared machine)")
    ap.add_argument("--probes-json", help="also write the measured times here")
    ap.add_argument("--from-probes", nargs="+", help="fit to the times of saved "
                    "--probes-json files (several: geometric means per layer; measures "
                    "nothing)")
    ap.add_argument("--out", default=os.path.join(HERE, "cost_constants.json"))
    ap.add_argument("--install", action="store_true",
                    help="write into the package (src/tconv/_algorithms/cost_constants.json)")
    args = ap.parse_args(argv)
    os.environ["TCONV_NUM_THREADS"] = "1" if args.cpu else str(args.threads)
    if args.cpu:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ.pop("TCONV_COST_FILE", None)
    layers = list(ZOO) + sweep(args.sweep)
    if args.layers:
        want = set(args.layers.split(","))
        layers = [lay for lay in layers if lay["name"] in want]
    from tconv._algorithms import _cost

    if args.from_probes:
        probes = merge_probes(args.from_probes)
    else:
        probes = measure(layers, args.budget, args.cpu, args.backward)
    if args.probes_json and not args.from_probes:
        write_json(args.probes_json, {"probes": probes, "machine": metadata()})
    found = calibrate(probes)
    oracle = sum(math.log(min(p["times"].values())) + _fastest_backward(p)
                 for p in probes) / len(probes)
    scores = {"defaults": score(probes, _cost.Constants()), "calibrated": score(probes, found),
              "fastest": oracle}
    print("geometric mean ms -- " + ", ".join(f"{k}: {math.exp(v):.3f}"
                                               for k, v in scores.items()))
    for pr in probes:
        p = _cost.params(pr["x"], pr["w"], *pr["geo"])
        algo = _cost.decide(pr["x"], pr["w"], p, pr["dtype"], found).algorithm
        fastest = min(pr["times"].values())
        if pr["times"][algo] > 1.1 * fastest:
            print(f"  {pr['name']}: picks {algo} ({pr['times'][algo]:.2f} ms), fastest "
                  f"{min(pr['times'], key=pr['times'].__getitem__)} ({fastest:.2f} ms)")
    changed = {f.name: getattr(found, f.name) for f in dataclasses.fields(found)
               if getattr(found, f.name) != f.default}
    print(f"constants changed from the defaults: {changed or 'none'}")
    out = str(_cost.CONSTANTS_FILE) if args.install else args.out
    write_json(out, {"constants": dataclasses.asdict(found),
                     "scores_geomean_ms": {k: math.exp(v) for k, v in scores.items()},
                     "probes": len(probes), "machine": metadata(),
                     "command": " ".join([os.path.basename(sys.executable), *sys.argv])})
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
