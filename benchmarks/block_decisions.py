"""Which layers a change of block sizing or of the pool rule reaches: every
``_parallel.for_each`` call of each layer (its number of blocks and the threads it runs
them on), for the working tree and for a git revision, and the layers where they differ.

Usage::

    python benchmarks/block_decisions.py --rev HEAD~1 --seeds 300-309
    TCONV_NUMBA=0 python benchmarks/block_decisions.py --rev HEAD~1 --seeds 0,300-309

Seed 0 is the zoo; other seeds are 40-layer random sweeps. Forward and backward
(``conv_transpose_backward``) are both recorded. Each revision runs in its own process with
inputs of ones (nothing is timed: a decision depends on shapes, the thread count and BLAS's
threads, never on values). Prints each layer whose calls differ as ``blocks/threads`` per
call, old then new, and marks ``THREADS`` where a call's thread count changed (a layer to
time with ``ab_revision.py --processes``); the others only changed how many blocks the
same threads run (``ab_revision.py`` in one process suffices).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_revision import extract  # noqa: E402
from zoo_conv_transpose import ZOO, sweep  # noqa: E402


def seeds_of(text: str) -> list[int]:
    """``"0,300-302"`` -> ``[0, 300, 301, 302]``."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def layers_of(seed: int) -> list[dict[str, Any]]:
    return [lay for lay in ZOO if lay["cite"] != "sweep"] if seed == 0 else sweep(40, seed)


def record(package: str, seeds: list[int]) -> dict[str, list[list[tuple[int, int]]]]:
    """``seed:name -> [forward calls, backward calls]``, each call ``(blocks, threads)``."""
    import importlib

    import numpy as np

    lib = importlib.import_module(package)
    par = importlib.import_module(f"{package}._algorithms._parallel")
    calls: list[tuple[int, int]] = []
    original = par.for_each

    def spy(fn: Any, items: Any, parallel: bool = True, min_items: int | None = None,
            blas_macs: int = 0, workers: int | None = None) -> None:
        items = list(items)
        used = workers if workers is not None else par.pool_workers(
            len(items), blas_macs, parallel, min_items)
        calls.append((len(items), used))
        original(fn, items, parallel, min_items, blas_macs, workers)

    par.for_each = spy
    out: dict[str, list[list[tuple[int, int]]]] = {}
    for seed in seeds:
        for lay in layers_of(seed):
            x = np.ones(lay["x"], lay["dtype"])
            w = np.ones(lay["w"], lay["dtype"])
            geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
                   lay["dilation"])
            calls.clear()
            y = lib.conv_transpose(x, w, None, *geo)
            fwd = list(calls)
            calls.clear()
            lib.conv_transpose_backward(np.ones_like(y), x, w, *geo)
            out[f"{seed}:{lay['name']}"] = [fwd, list(calls)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", required=True, help="git revision to compare against")
    ap.add_argument("--seeds", default="0", help="0 (the zoo) and sweep seeds, e.g. 0,300-309")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--json", help=argparse.SUPPRESS)
    args = ap.parse_args()
    seeds = seeds_of(args.seeds)
    if args.worker:
        with open(args.json, "w") as f:
            json.dump(record(args.worker, seeds), f)
        return
    with tempfile.TemporaryDirectory() as tmp:
        extract(args.rev, tmp)
        src = os.path.join(os.path.dirname(HERE), "src")
        found = {}
        for name, path in (("tconv_old", tmp), ("tconv", src)):
            out = os.path.join(tmp, f"{name}.json")
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([path, HERE]))
            subprocess.run([sys.executable, __file__, "--rev", args.rev, "--seeds", args.seeds,
                            "--worker", name, "--json", out], check=True, env=env)
            with open(out) as f:
                found[name] = json.load(f)
    old, new = found["tconv_old"], found["tconv"]
    changed = [k for k in old if old[k] != new[k]]
    threads = 0
    for key in changed:
        show = ["  ".join(" ".join(f"{b}/{t}" for b, t in part) or "-" for part in calls)
                for calls in (old[key], new[key])]
        moved = ([t for part in old[key] for _, t in part]
                 != [t for part in new[key] for _, t in part])
        threads += moved
        print(f"{key:16s} old {show[0]:24s} new {show[1]:24s}{'  THREADS' if moved else ''}")
    print(f"{len(changed)} of {len(old)} layers changed (forward  backward, blocks/threads per "
          f"call); {threads} changed a thread count")


if __name__ == "__main__":
    main()
