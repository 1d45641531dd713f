"""A/B of two cost-model constant sets in one process: the constants in force (A) against
the same with some changed (B), forward or backward, on the layer zoo and a seeded sweep.

Usage::

    python benchmarks/ab_constants.py --set shared_im2col=0 --backward
    python benchmarks/ab_constants.py --set direct_depth=8,gemm_max_cout=4 --sweep 40 --seed 7
    python benchmarks/ab_constants.py --set shared_im2col=0 --backward --only-changed

Method: for each layer, A and B alternate (``--rounds`` pairs, default 3), each timed for
about ``--budget`` seconds of calls (median) after a pause that lets the other side's BLAS
threads go to sleep (``common.settle``); a side's time is the least of its medians.
The table shows B / A per layer (below 1: B is faster) and the geometric mean over the
layers, and over the layers whose path differs between A and B. Both sides run in the same
process within a second of each other, so the machine's drift between runs (which moves
the zoo's same-run ratios against torch by about 10 %) cancels out; this is the check to run
before changing a shipped constant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import geomean, settle, write_json  # noqa: E402
from zoo_conv_transpose import ZOO, draw_inputs, geometry, output_size, sweep  # noqa: E402


def _median_ms(fn: Callable[[], object], budget: float) -> float:
    settle()            # the other side's BLAS threads asleep: each side as if called alone
    fn()
    times: list[float] = []
    t0 = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - t0 < budget and len(times) < 50):
        a = time.perf_counter()
        fn()
        times.append(time.perf_counter() - a)
    times.sort()
    return 1e3 * times[len(times) // 2]


def _parse_set(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        out[name.strip()] = float(value)
    return out


def _path(layer: dict[str, Any], backward: bool) -> str:
    """What the cost model in force runs for the layer: the decision's text (forward: the
    algorithm and its reasons; backward: the gradients' line)."""
    import numpy as np

    import tconv

    geo = (layer["stride"], layer["padding"], layer["output_padding"], layer["groups"],
           layer["dilation"])
    text = str(tconv.explain_algorithm(tuple(layer["x"]), tuple(layer["w"]), *geo,
                                       dtype=np.dtype(layer["dtype"])))
    lines = text.splitlines()
    return (lines[-1] if backward else "\n".join(lines[:-1])) if lines else ""


def _call(layer: dict[str, Any], backward: bool) -> Callable[[], object]:
    """One forward (or backward) call of the layer on seeded inputs."""
    import numpy as np

    import tconv

    rng = np.random.default_rng(0)
    x, w = draw_inputs(layer, rng)
    geo = geometry(layer)
    if not backward:
        return lambda: tconv.conv_transpose(x, w, None, *geo)
    gy = rng.standard_normal((layer["x"][0], layer["w"][1] * layer["groups"],
                              *output_size(layer))).astype(x.dtype)
    return lambda: tconv.conv_transpose_backward(gy, x, w, *geo)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tconv._algorithms import _cost

    changes = _parse_set(args.set)
    names = {f.name for f in dataclasses.fields(_cost.Constants)}
    unknown = sorted(set(changes) - names)
    if unknown:
        raise SystemExit(f"ab_constants: unknown constants {unknown}")
    base = _cost.constants()
    b_values = {**dataclasses.asdict(base), **changes}
    fd, b_file = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump({"constants": b_values}, f)
    a_env = os.environ.get("TCONV_COST_FILE")

    def use(side: str) -> None:
        if side == "B":
            os.environ["TCONV_COST_FILE"] = b_file
        elif a_env is None:
            os.environ.pop("TCONV_COST_FILE", None)
        else:
            os.environ["TCONV_COST_FILE"] = a_env

    layers = [*([] if args.no_zoo else ZOO), *sweep(args.sweep, args.seed)]
    if args.layers:
        wanted = set(args.layers.split(","))
        layers = [lay for lay in layers if lay["name"] in wanted]
    rows = []
    try:
        for lay in layers:
            use("A")
            path_a = _path(lay, args.backward)
            use("B")
            path_b = _path(lay, args.backward)
            if args.only_changed and path_a == path_b:
                continue
            call = _call(lay, args.backward)
            times: dict[str, list[float]] = {"A": [], "B": []}
            for _ in range(args.rounds):
                for side in ("A", "B"):
                    use(side)
                    times[side].append(_median_ms(call, args.budget))
            a, b = min(times["A"]), min(times["B"])
            rows.append({"name": lay["name"], "a_ms": a, "b_ms": b, "ratio": b / a,
                         "changed": path_a != path_b})
            print(f"{lay['name']:24s} A {a:9.3f} ms  B {b:9.3f} ms  B/A {b / a:5.2f}"
                  + ("  (path differs)" if path_a != path_b else ""), flush=True)
    finally:
        use("A")
        os.unlink(b_file)
    changed = [r["ratio"] for r in rows if r["changed"]]
    summary = {"geomean": geomean([r["ratio"] for r in rows]), "layers": len(rows),
               "changed_geomean": geomean(changed), "changed": len(changed)}
    print(f"B/A geometric mean {summary['geomean']:.3f} over {summary['layers']} layers; "
          f"{summary['changed_geomean']:.3f} over the {summary['changed']} whose path "
          "differs")
    return {"set": changes, "backward": args.backward, "rows": rows, "summary": summary}


def add_ab_args(ap: argparse.ArgumentParser, rounds: int) -> None:
    """The options every in-process A/B script takes: its layers (the zoo and a seeded
    sweep), its pairs of rounds and their time budget, and the JSON output."""
    ap.add_argument("--sweep", type=int, default=20, help="random layers added (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random sweep")
    ap.add_argument("--no-zoo", action="store_true", help="the sweep's layers only")
    ap.add_argument("--rounds", type=int, default=rounds,
                    help=f"A/B pairs per layer (default {rounds})")
    ap.add_argument("--budget", type=float, default=0.3,
                    help="seconds of calls per side and round (default 0.3)")
    ap.add_argument("--json", default="", help="write the rows and summary here")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", required=True,
                    help="B's changes: name=value[,name=value...] (constants of the cost model)")
    ap.add_argument("--backward", action="store_true",
                    help="time conv_transpose_backward (default: the forward pass)")
    ap.add_argument("--layers", default="", help="comma-separated layer names (default: all)")
    ap.add_argument("--only-changed", action="store_true",
                    help="time only the layers whose path differs between A and B")
    add_ab_args(ap, rounds=3)
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.budget <= 0 or args.sweep < 0:
        ap.error("--rounds must be >= 1, --budget > 0 and --sweep >= 0")
    payload = run(args)
    if args.json:
        write_json(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
