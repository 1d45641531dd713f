"""Calibrate the cost model's constants (``tconv._algorithms._cost.Constants``) on this machine.

Usage::

    python benchmarks/calibrate.py              # zoo + sweep: benchmarks/cost_constants.json
    python benchmarks/calibrate.py --layers dcgan_512_4,melgan_512_k16s8 --out my.json
    TCONV_COST_FILE=my.json python -c "import tconv; print(tconv.explain_algorithm(...))"
    python benchmarks/calibrate.py --install                # into the package (shipped defaults)

Method: every probe layer (the zoo of ``zoo_conv_transpose.py`` and its seeded sweep) is
timed forward with each candidate algorithm (``gemm``, ``phase``, ``phase`` with its phases
folded into one product where that applies, and ``direct`` where numba is installed, and the
NumPy ones again with ``TCONV_NUMBA=0``: what a NumPy-only install runs; median of calls,
``--threads`` threads), in one process. The constants are then
chosen by coordinate descent over a grid of values per constant, from the constants in force
(``--start``), a constant moving only when that improves the score by more than
``--min-gain`` (1 %: less is within a timing run's noise), minimising the sum over
probes of ``log(time of the algorithm the cost model picks)`` -- the geometric mean of the
picked times. The defaults' and the best-possible (per-layer fastest) scores are printed
beside the calibrated one, with every probe where the calibrated choice is over 10 % slower
than the fastest candidate. ``--holdout N`` also measures N random layers of another seed
that the fit never sees, and scores every constant set on them too. The JSON written holds
the constants, the scores, the machine and the command; the package reads
``TCONV_COST_FILE`` or its shipped ``cost_constants.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import cpu_median_ms, metadata, settle, timeit, write_json  # noqa: E402
from zoo_conv_transpose import ZOO, draw_inputs, geometry, sweep  # noqa: E402

#: candidate values per constant (each includes the default); only constants that decide
#: *which* algorithm runs -- the fast paths inside one (gemm's channels-last layout, the
#: depthwise sub-pixel products) change the measured times themselves and keep their defaults
GRID: dict[str, tuple[float, ...]] = {
    "direct_depth": (2, 4, 8, 16, 32, 64),
    "direct_max_depth": (16, 32, 64, 128, 256, 1 << 30),
    "direct_max_terms": (256, 512, 1024, 2048, 4096, 16384),
    "direct_max_cout": (0, 1, 2, 4),
    "gemm_max_cout": (1, 2, 4, 8, 16),
    "numpy_gemm_extra": (10, 30, 100, 300, 1000, 3000, 1e9),
    "numpy_phase_1d": (0, 1),
    "scatter_max": (0, 8192, 32768, 65536, 131072, 262144),
    "numpy_scatter_max": (0, 16384, 65536, 262144),
    # (the gradients are timed with the compiled kernels only: numpy_gather_max is measured
    # by small_layers.py under TCONV_NUMBA=0)
    "gather_max": (0, 32768, 65536, 131072, 262144, 524288),
    "gather_group_macs": (1 << 19, 1 << 20, 1 << 21, 1 << 22, 1 << 23, 1 << 25),
    "take_cols_run": (0, 8, 16, 32, 64),
    "take_cols_index": (1 << 14, 1 << 16, 1 << 18, 1 << 20),
    "gemm_wide": (2, 4, 8, 16, 32, 64),
    "phase_max_overhead": (1.1, 1.25, 1.5, 2.0, 4.0),
    "segment_max_terms": (512, 1024, 2048, 4096, 8192),
    "gemm_min_depth_1d": (32, 64, 128, 256, 1 << 30),
    "gemm_min_run_1d": (0, 32, 64, 128, 256),
    "input_grad_depth": (0, 2, 4, 8, 16, 32, 64, 128),
    "input_grad_max_stride": (1, 2, 3, 4, 8, 1 << 30),
    "input_grad_float64": (0, 0.125, 0.25, 0.5, 1),
    "input_grad_min_positions": (0, 16, 32, 64, 128, 256),
    "weight_sums_depth": (0, 4, 8, 16, 24, 32, 64),
    "direct_max_overhead": (1.1, 1.25, 1.5, 2.0, 4.0, 1e9),
    "single_phase_overhead": (0, 1.01, 1.1, 1.25, 1.5),
    "input_grad_max_cout": (0, 1, 2, 4, 8, 16),
    "shared_im2col": (0, 1),
    "fold_min_phases": (4, 8, 16, 32, 64, 1 << 30),
    "fold_max_overhead": (1.25, 1.5, 2.0, 3.0, 4.0),
    "fold_over_loops_phases": (32, 64, 128, 256, 512, 1024, 1 << 30),
    "fold_loops_min_positions": (0, 16, 32, 64, 128, 256, 1024),
    "single_direct_depth": (0, 4, 8, 16, 32, 64),
    "loops_wide": (0, 4, 8, 16, 32, 64),
    "blocks_min_macs": (0, 10_000_000, 30_000_000, 100_000_000, 300_000_000),
    "blocks_min_positions": (512, 1024, 2048, 4096, 8192),
    "blocks_max_overhead": (1.1, 1.25, 1.5, 2.0, 1e9),
}


def _backward_times(x: Any, w: Any, geo: Any, cpu: bool, budget: float) -> dict[str, float]:
    """Each gradient of ``conv_transpose_backward`` by each of its paths: the input gradient
    by im2col and BLAS (``gx_numpy``) and by the compiled loops (``gx_compiled``), the
    weight gradient by im2col and BLAS (``gw_numpy``) and by the compiled correlation sums
    on the input gradient's planes (``gw_sums``, which runs only beside the compiled input
    gradient); and both gradients by im2col + BLAS from one shared im2col of ``grad_out``
    (``grads_shared``, copied from the window view; ``grads_take``, taken through an index,
    on rows shorter than 64 with an index of at most 2 M numbers), from one gather of its
    windows (``grads_gather``, the small-layer path) and, for a depthwise layer, by its own
    pass (``grads_depthwise``)."""
    import numpy as np

    import tconv
    from tconv import grad
    from tconv._algorithms import _cost, depthwise, direct

    out = tconv.conv_transpose(x, w, None, *geo, algorithm="gemm")
    gy = np.random.default_rng(1).standard_normal(out.shape).astype(x.dtype)
    p = _cost.params(x.shape, w.shape, *geo)
    size = tuple(x.shape[2:])
    planes = direct.planes(gy, p, size)
    calls = {
        "gx_numpy": lambda: grad.conv_gemm(gy, w, p.stride, p.crop, p.dilation, p.groups,
                                           size),
        "gx_compiled": lambda: direct.grad_input(gy, w, p, size),
        "gw_numpy": lambda: grad._conv_weight_grad(x, gy, p.kernel, p.stride, p.crop,
                                                   p.dilation, p.groups),
        # as conv_transpose_backward runs it: on the planes the compiled input gradient
        # split (their split is counted once, in gx_compiled)
        "gw_sums": lambda: direct.grad_weight(x, gy, w.shape, p, planes),
        "grads_shared": lambda: grad._transpose_gradients_gemm(gy, x, w, p, take=False),
        "grads_gather": lambda: grad._transpose_gradients_gather(gy, x, w, p, out.shape[2:]),
    }
    if x.shape[-1] < 64 and math.prod(size) * w.shape[1] * math.prod(p.kernel) <= 1 << 21:
        calls["grads_take"] = lambda: grad._transpose_gradients_gemm(gy, x, w, p, take=True)
    if depthwise.applies(x.shape, w.shape, p):
        calls["grads_depthwise"] = lambda: depthwise.backward(gy, x, w, p)
    times = {}
    for name, call in calls.items():
        settle()
        call()
        times[name] = cpu_median_ms(call) if cpu else \
            timeit(call, warmup=0, repeat=3, max_seconds=budget)["median_ms"]
    return times


def _forward_call(x: Any, w: Any, geo: Any, algo: str) -> Callable[[], object]:
    """One forward call of ``algo`` -- for ``gemm`` on a layer whose outputs are each one
    term of one product, what ``auto`` runs when the cost model says gemm there: the product
    alone, no col2im (``algorithm="gemm"`` runs col2im anyway); ``phase`` unfolded;
    ``folded``: ``phase`` with its phases folded into one product."""
    import tconv
    from tconv._algorithms import _cost, folded, phase

    conv = importlib.import_module("tconv.conv")            # the module (tconv.conv: a function)
    p = _cost.params(x.shape, w.shape, *geo)
    out = p.transposed_size(x.shape[2:])
    if algo == "gemm" and _cost.single_product(x.shape, w.shape, p):
        return lambda: conv._single_product(x, w, p, out)
    if algo == "folded":
        return lambda: folded.conv_transpose(x, w, p, out)
    if algo == "phase":
        def unfolded() -> object:
            saved, phase.FOLD = phase.FOLD, False
            try:
                return tconv.conv_transpose(x, w, None, *geo, algorithm="phase")
            finally:
                phase.FOLD = saved
        return unfolded
    return lambda: tconv.conv_transpose(x, w, None, *geo, algorithm=algo)


def _foldable(x_shape: Any, w_shape: Any, geo: Any) -> bool:
    """``phase`` can fold this layer's phases (``folded.applies``)."""
    from tconv._algorithms import _cost, folded

    return folded.applies(tuple(x_shape), tuple(w_shape), _cost.params(x_shape, w_shape, *geo))


def measure(layers: list[dict[str, Any]], budget: float, cpu: bool = False,
            backward: bool = False) -> list[dict[str, Any]]:
    import numpy as np

    from tconv._algorithms import _native

    def median_ms(call: Callable[[], object]) -> float:
        settle()
        call()
        return cpu_median_ms(call) if cpu else \
            timeit(call, warmup=0, repeat=3, max_seconds=budget)["median_ms"]

    probes = []
    for lay in layers:
        x, w = draw_inputs(lay, np.random.default_rng(0))
        geo = geometry(lay)
        fold = ["folded"] if _foldable(x.shape, w.shape, geo) else []
        algos = ["gemm", "phase", *fold] + (["direct"] if _native.available() else [])
        times = {algo: median_ms(_forward_call(x, w, geo, algo)) for algo in algos}
        probe = {"name": lay["name"], "x": x.shape, "w": w.shape, "geo": geo,
                 "dtype": x.dtype.name, "times": times}
        if _native.available():
            # what a NumPy-only install runs: gemm and phase without the compiled passes
            # around their products (the same constants choose between them there)
            with numpy_only():
                probe["times_numpy"] = {algo: median_ms(_forward_call(x, w, geo, algo))
                                        for algo in ("gemm", "phase", *fold)}
        if backward and _native.available():
            probe["backward"] = _backward_times(x, w, geo, cpu, budget)
        probes.append(probe)
        best = min(times, key=times.__getitem__)
        print(f"{lay['name']:22s} " + " ".join(f"{a}={t:8.2f}" for a, t in times.items())
              + f"  fastest {best}", file=sys.stderr)
    return probes


def refresh_backward(probes: list[dict[str, Any]], budget: float, cpu: bool = False) -> None:
    """Time every gradient path of saved probes in this run (the inputs ``measure``
    draws), so that paths added since they were measured compete on one run's times, and
    probes measured forward only gain their gradients."""
    import numpy as np

    from tconv._algorithms import _native

    if not _native.available():
        return
    for pr in probes:
        x, w = draw_inputs(pr, np.random.default_rng(0))
        pr["backward"] = _backward_times(x, w, tuple(pr["geo"]), cpu, budget)
        print(f"{pr['name']:22s} " + " ".join(f"{k}={v:8.2f}"
                                               for k, v in pr["backward"].items()),
              file=sys.stderr)


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


@contextlib.contextmanager
def numpy_only() -> Iterator[None]:
    """The NumPy-only algorithms and decisions (``TCONV_NUMBA=0``) inside the block."""
    old = os.environ.get("TCONV_NUMBA")
    os.environ["TCONV_NUMBA"] = "0"
    try:
        yield
    finally:
        if old is None:
            del os.environ["TCONV_NUMBA"]
        else:
            os.environ["TCONV_NUMBA"] = old


def score(probes: list[dict[str, Any]], consts: Any) -> float:
    """Mean over probes of the log times of what the constants pick: forward, the backward
    (both gradients' time, as two terms: half of it each) and the forward a NumPy-only
    install picks (where the probe has those times). A depthwise layer's backward scores
    only where the probe has its depthwise pass's time (it is not one of the gradient
    paths below); probes measured before the small-layer gather existed score it as the
    path it took over."""
    from tconv._algorithms import _cost

    total = 0.0
    for pr in probes:
        p = _cost.params(pr["x"], pr["w"], *pr["geo"])
        total += math.log(_picked(pr["times"], _cost.decide(pr["x"], pr["w"], p,
                                                             pr["dtype"], consts)))
        if "times_numpy" in pr:
            with numpy_only():
                plain = _cost.decide(pr["x"], pr["w"], p, pr["dtype"], consts)
            total += math.log(_picked(pr["times_numpy"], plain))
        both = _backward_picked(pr, p, consts)
        if both is not None:
            # the backward's time (both gradients), weighted as two terms of the mean
            total += 2 * math.log(both / 2)
    return total / len(probes)


def _backward_picked(pr: dict[str, Any], p: Any, consts: Any) -> float | None:
    """Both gradients' time on the paths ``conv_transpose_backward`` takes under
    ``consts`` (None: the probe has no time for them)."""
    from tconv._algorithms import _cost, depthwise

    back = pr.get("backward", {})
    if "gx_numpy" not in back:
        return None
    dw = depthwise.applies(pr["x"], pr["w"], p)
    if "grads_gather" in back and _cost.gather_gradients(pr["x"], pr["w"], p, consts):
        return back["grads_gather"]
    if dw and depthwise.backward_preferred(pr["x"], pr["w"], p):
        return back.get("grads_depthwise")
    if dw and "grads_gather" in back and "grads_depthwise" not in back:
        return None                 # measured without it: the choice cannot be scored
    gx = _cost.compiled_loops(pr["x"], pr["w"], p, consts, backward=True, dtype=pr["dtype"])
    sums = "gw_sums" in back and _cost.weight_sums(pr["x"], pr["w"], p, consts,
                                                    dtype=pr["dtype"])
    if "grads_shared" in back and not sums and consts.shared_im2col:
        if "grads_take" in back and _cost.take_cols(pr["x"], pr["w"], p, consts):
            return back["grads_take"]
        return back["grads_shared"]
    return (back["gx_compiled" if gx else "gx_numpy"]
            + back["gw_sums" if sums else "gw_numpy"])


def _picked(times: dict[str, float], decision: Any) -> float:
    """The time of what a decision runs: ``folded`` where it folds ``phase``'s phases
    (probes measured before folding existed score the fold as ``phase``)."""
    key = "folded" if decision.folded and "folded" in times else decision.algorithm
    return times.get(key, max(times.values()))


def best_score(probe: dict[str, Any]) -> float:
    """What :func:`score` adds for a probe if every pick were the fastest."""
    total = math.log(min(probe["times"].values()))
    if "times_numpy" in probe:
        total += math.log(min(probe["times_numpy"].values()))
    from tconv._algorithms import _cost, depthwise

    back = probe.get("backward", {})
    p = _cost.params(probe["x"], probe["w"], *probe["geo"])
    if "gx_numpy" in back:
        dw = depthwise.applies(probe["x"], probe["w"], p)
        if dw and "grads_depthwise" not in back:
            if "grads_gather" in back or depthwise.backward_preferred(probe["x"],
                                                                     probe["w"], p):
                return total        # as score: no time for the depthwise pass
        both = (min(back["gx_numpy"], back["gx_compiled"])
                + min(back[k] for k in ("gw_numpy", "gw_sums") if k in back))
        both = min([both] + [back[k] for k in ("grads_shared", "grads_take", "grads_gather",
                                               "grads_depthwise") if k in back])
        total += 2 * math.log(both / 2)
    return total


def calibrate(probes: list[dict[str, Any]], passes: int = 3, start: Any = None,
              min_gain: float = 0.0, names: list[str] | None = None) -> Any:
    """Coordinate descent over :data:`GRID` from ``start`` (default: the package defaults):
    a constant moves only when that lowers the geometric mean of the picked times by more
    than ``min_gain`` (a fraction: 0.01 keeps every change a timing run's noise could have
    made up). ``names``: search only these constants."""
    from tconv._algorithms import _cost

    best = start if start is not None else _cost.Constants()
    best_score = score(probes, best)
    margin = math.log1p(min_gain) if min_gain > 0 else 1e-9
    for _ in range(passes):
        changed = False
        for name, values in GRID.items():
            if names and name not in names:
                continue
            for v in values:
                cand = dataclasses.replace(best, **{name: type(getattr(best, name))(v)})
                s = score(probes, cand)
                if s < best_score - margin:
                    best, best_score, changed = cand, s, True
        if not changed:
            break
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--layers", default="", help="comma-separated zoo layer names")
    ap.add_argument("--sweep", type=int, default=20, help="random layers added (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random sweep (default 0)")
    ap.add_argument("--holdout", type=int, default=0,
                    help="random layers of another seed (the sweep's + 1000) measured and "
                         "scored but not fitted: how the constants do on unseen layers")
    ap.add_argument("--threads", type=int, default=2, help="tconv's threads (default 2)")
    ap.add_argument("--budget", type=float, default=0.5, help="seconds per algorithm")
    ap.add_argument("--backward", action="store_true",
                    help="also time each gradient by each of its paths and fit the "
                         "input_grad_* constants")
    ap.add_argument("--cpu", action="store_true",
                    help="one thread, process CPU time (for a shared machine)")
    ap.add_argument("--probes-json", help="also write the measured times here")
    ap.add_argument("--from-probes", nargs="+", help="fit to the times of saved "
                    "--probes-json files (several: geometric means per layer; measures "
                    "nothing)")
    ap.add_argument("--refresh-backward", action="store_true",
                    help="with --from-probes: time every probe's gradient paths in this "
                         "run, probes measured forward only included (write them with "
                         "--probes-json)")
    ap.add_argument("--start", choices=("shipped", "defaults"), default="shipped",
                    help="constants the search starts from (default: the package's "
                         "calibration, or TCONV_COST_FILE's)")
    ap.add_argument("--min-gain", type=float, default=0.01,
                    help="a constant moves only when the score improves by more than this "
                         "fraction (default 0.01: run-to-run noise moves single layers more)")
    ap.add_argument("--constants", default="",
                    help="comma-separated constants to fit (default: every one of the grid)")
    ap.add_argument("--out", default=os.path.join(HERE, "cost_constants.json"))
    ap.add_argument("--install", action="store_true",
                    help="write into the package (src/tconv/_algorithms/cost_constants.json)")
    ap.add_argument("--install-host", action="store_true",
                    help="write into the package as this processor's own set (the file's "
                         "\"hosts\" section, keyed by its LLVM name; only the constants that "
                         "differ from the general set), leaving the general set as it is")
    args = ap.parse_args(argv)
    os.environ["TCONV_NUM_THREADS"] = "1" if args.cpu else str(args.threads)
    if args.cpu:
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    layers = list(ZOO) + sweep(args.sweep, seed=args.seed)
    held = [dict(lay, name=f"holdout{i:02d}")
            for i, lay in enumerate(sweep(args.holdout, seed=args.seed + 1000))]
    if args.layers:
        want = set(args.layers.split(","))
        layers = [lay for lay in layers if lay["name"] in want]
    from tconv._algorithms import _cost

    if args.refresh_backward and not args.from_probes:
        ap.error("--refresh-backward re-times the probes of --from-probes")
    if args.from_probes:
        probes = merge_probes(args.from_probes)
        if args.refresh_backward:
            refresh_backward(probes, args.budget, args.cpu)
    else:
        probes = measure(layers + held, args.budget, args.cpu, args.backward)
    if args.probes_json and (args.refresh_backward or not args.from_probes):
        write_json(args.probes_json, {"probes": probes, "machine": metadata()})
    unseen = [pr for pr in probes if pr["name"].startswith("holdout")]
    probes = [pr for pr in probes if not pr["name"].startswith("holdout")]
    shipped = _cost.constants()
    names = [n for n in args.constants.split(",") if n]
    unknown = sorted(set(names) - set(GRID))
    if unknown:
        ap.error(f"--constants: {', '.join(unknown)} not in the search grid "
                 f"({', '.join(GRID)})")
    found = calibrate(probes, start=shipped if args.start == "shipped" else None,
                      min_gain=args.min_gain, names=names)
    scores = {}
    for label, group in (("", probes), ("holdout ", unseen)):
        if not group:
            continue
        oracle = sum(best_score(p) for p in group) / len(group)
        scores.update({f"{label}defaults": score(group, _cost.Constants()),
                       f"{label}shipped": score(group, shipped),
                       f"{label}calibrated": score(group, found), f"{label}fastest": oracle})
    print("geometric mean ms (fitted probes; holdout: unseen layers) -- "
          + ", ".join(f"{k}: {math.exp(v):.3f}" for k, v in scores.items()))
    for pr in probes + unseen:
        p = _cost.params(pr["x"], pr["w"], *pr["geo"])
        d = _cost.decide(pr["x"], pr["w"], p, pr["dtype"], found)
        algo = "folded" if d.folded and "folded" in pr["times"] else d.algorithm
        fastest = min(pr["times"].values())
        if _picked(pr["times"], d) > 1.1 * fastest:
            print(f"  {pr['name']}: picks {algo} ({_picked(pr['times'], d):.2f} ms), fastest "
                  f"{min(pr['times'], key=pr['times'].__getitem__)} ({fastest:.2f} ms)")
    changed = {f.name: getattr(found, f.name) for f in dataclasses.fields(found)
               if getattr(found, f.name) != f.default}
    print(f"constants changed from the defaults: {changed or 'none'}")
    record = {"constants": dataclasses.asdict(found),
              "scores_geomean_ms": {k: math.exp(v) for k, v in scores.items()},
              "probes": len(probes), "holdout": len(unseen), "machine": metadata(),
              "command": " ".join([os.path.basename(sys.executable), *sys.argv])}
    if args.install_host:
        out = str(_cost.CONSTANTS_FILE)
        write_json(out, host_section(out, _cost.host_cpu(), record))
        print(f"wrote {out} (hosts: {_cost.host_cpu()})")
        return 0
    out = str(_cost.CONSTANTS_FILE) if args.install else args.out
    if args.install:
        # a rewrite of the general set keeps the hosts' own sets
        with contextlib.suppress(OSError, ValueError):
            with open(out) as f:
                hosts = json.load(f).get("hosts")
            if hosts:
                record["hosts"] = hosts
    write_json(out, record)
    print(f"wrote {out}")
    return 0


def host_section(path: str, host: str, record: dict[str, Any]) -> dict[str, Any]:
    """The calibration file at ``path`` with ``record`` as host ``host``'s own set: only
    the constants that differ from the file's general set, with the record's scores,
    machine and command."""
    from tconv._algorithms import _cost

    if not host:
        raise SystemExit("--install-host: this processor's LLVM name is unknown "
                         "(llvmlite missing)")
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    general = dataclasses.asdict(_cost.Constants.from_dict(data.get("constants", {})))
    own = {k: v for k, v in record["constants"].items() if general.get(k) != v}
    hosts = dict(data.get("hosts") or {})
    hosts[host] = dict(record, constants=own)
    return dict(data, hosts=hosts)


if __name__ == "__main__":
    raise SystemExit(main())
