"""The working tree's tconv against tconv at a git revision, in one process, call against call.

Usage::

    python benchmarks/ab_revision.py --rev HEAD~1                 # zoo + sweep, auto forward
    python benchmarks/ab_revision.py --rev HEAD~1 --algorithm gemm --dims 1,3
    python benchmarks/ab_revision.py --rev main --no-zoo --sweep 40 --seed 21 --backward
    TCONV_NUMBA=0 python benchmarks/ab_revision.py --rev main --sweep 300 --depthwise

The revision's ``src/tconv`` is extracted (``git archive``) into a temporary folder as the
package ``tconv_old`` and imported beside ``tconv``; the core imports itself relatively, so
each package runs its own code, pool and compiled kernels. Per layer: both results are
compared (they must agree to 1e-3 of the output's scale), then the two are called in
alternating order (old new, new old, ...) for about ``--budget`` seconds; the ratio is the
median new time over the median old time (below 1: the working tree is faster). A machine
that drifts between runs (a shared one) moves both sides alike. Prints the geometric mean
per spatial rank and every layer outside 0.95-1.05.

Read the means: each package keeps its own buffers for the whole process, and a few
layers' speed depends on where those land, so a single row can be off by up to 1.7x even
where the code did not change (benchmarks/RESULTS.md); rerun an outlier alone.

``--processes N`` times each revision in its own worker processes instead (N rounds, each
round an old and a new worker in alternating order, each timing every layer; a layer's
ratio is the median over rounds of new/old). Use it where the two revisions run different
algorithms: one whose BLAS threads still spin after a product slows whatever the other
revision runs next in the same process. ``--changed`` keeps only the layers whose cost-model
decision (algorithm, folded, small-layer path, segments) differs between the revisions.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from zoo_conv_transpose import ZOO, output_size, sweep  # noqa: E402


def extract(rev: str, into: str) -> None:
    """``src/tconv`` at ``rev`` as the package ``into/tconv_old``."""
    repo = os.path.dirname(HERE)
    data = subprocess.run(["git", "-C", repo, "archive", rev, "src/tconv"], check=True,
                          capture_output=True).stdout
    tar_path = os.path.join(into, "src.tar")
    with open(tar_path, "wb") as f:
        f.write(data)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    shutil.move(os.path.join(into, "src", "tconv"), os.path.join(into, "tconv_old"))


def _once(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def paired(old: Callable[[], object], new: Callable[[], object], budget: float
           ) -> tuple[float, float]:
    """Median seconds of ``old`` and ``new``, called alternately (order swapped each pair)."""
    one = _once(old)
    pairs = max(5, min(31, int(budget / max(2 * one, 1e-6))))
    a: list[float] = []
    b: list[float] = []
    for i in range(pairs):
        if i % 2:
            a.append(_once(old))
            b.append(_once(new))
        else:
            b.append(_once(new))
            a.append(_once(old))
    return sorted(a)[len(a) // 2], sorted(b)[len(b) // 2]


def _inputs(lay: dict[str, Any], backward: bool) -> tuple[Any, Any, Any, tuple[Any, ...]]:
    """The layer's seeded ``x``, ``w``, ``grad_out`` (None forward) and geometry."""
    import numpy as np

    rng = np.random.default_rng(0)
    dt = np.dtype(lay["dtype"])
    x = rng.standard_normal(lay["x"]).astype(dt)
    w = rng.standard_normal(lay["w"]).astype(dt)
    geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
           lay["dilation"])
    gy = rng.standard_normal((x.shape[0], w.shape[1] * lay["groups"],
                              *output_size(lay))).astype(dt) if backward else None
    return x, w, gy, geo


def _decision(lib: Any, lay: dict[str, Any]) -> tuple[Any, ...]:
    """What ``auto`` runs for the layer in one revision."""
    import numpy as np

    cost = lib._algorithms._cost
    p = cost.params(lay["x"], lay["w"], lay["stride"], lay["padding"], lay["output_padding"],
                    lay["groups"], lay["dilation"])
    d = cost.decide(tuple(lay["x"]), tuple(lay["w"]), p, np.dtype(lay["dtype"]))
    return (d.algorithm, d.algorithm == "phase" and d.folded, d.scatter,
            d.algorithm == "direct" and d.segments)


def _worker(args: argparse.Namespace, layers: list[dict[str, Any]]) -> None:
    """Time every layer with one revision (``--worker old|new``); print JSON {name: ms}."""
    import json

    if args.worker == "old":
        sys.path.insert(0, args.tmp)
        import tconv_old as lib  # type: ignore[import-not-found]
    else:
        import tconv as lib
    out = {}
    for lay in layers:
        x, w, gy, geo = _inputs(lay, args.backward)
        call = _call(lib, x, w, gy, geo, args.algorithm)
        call()
        call()
        times: list[float] = []
        start = time.perf_counter()
        while time.perf_counter() - start < args.budget or len(times) < 5:
            times.append(_once(call))
        out[lay["name"]] = sorted(times)[len(times) // 2] * 1e3
    print(json.dumps(out))


def _processes(args: argparse.Namespace, tmp: str) -> dict[str, tuple[float, float, float]]:
    """Each revision in its own worker processes, ``--processes`` rounds in alternating
    order: per layer, the median over rounds of new/old and each side's median ms."""
    import json

    import numpy as np

    runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    base = [sys.executable, os.path.abspath(__file__), "--rev", args.rev, "--tmp", tmp,
            "--algorithm", args.algorithm, "--dims", args.dims, "--sweep", str(args.sweep),
            "--seed", str(args.seed), "--budget", str(args.budget)]
    base += ["--backward"] if args.backward else []
    base += [] if args.zoo else ["--no-zoo"]
    base += ["--depthwise"] if args.depthwise else []
    base += ["--layers", args.layers] if args.layers else []
    for r in range(args.processes):
        for side in ("old", "new") if r % 2 == 0 else ("new", "old"):
            res = subprocess.run(base + ["--worker", side], check=True, capture_output=True,
                                 text=True)
            runs[side].append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(f"round {r + 1}/{args.processes}: {side} done", file=sys.stderr, flush=True)
    out = {}
    for name in runs["new"][0]:
        old = np.array([run[name] for run in runs["old"]])
        new = np.array([run[name] for run in runs["new"]])
        out[name] = (float(np.median(new / old)), float(np.median(old)), float(np.median(new)))
    return out


def _call(lib: Any, x: Any, w: Any, gy: Any, geo: tuple[Any, ...], algorithm: str
          ) -> Callable[[], Any]:
    """One library's forward (``gy`` None) or backward call on the layer."""
    if gy is not None:
        return lambda: lib.conv_transpose_backward(gy, x, w, *geo)
    return lambda: lib.conv_transpose(x, w, None, *geo, algorithm=algorithm)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", required=True, help="git revision to compare against")
    ap.add_argument("--algorithm", default="auto", help="forward algorithm (default auto)")
    ap.add_argument("--backward", action="store_true", help="time conv_transpose_backward")
    ap.add_argument("--dims", default="1,2,3", help="spatial ranks to keep (default 1,2,3)")
    ap.add_argument("--no-zoo", dest="zoo", action="store_false", help="only the sweep")
    ap.add_argument("--sweep", type=int, default=20, help="random layers (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random layers")
    ap.add_argument("--layers", help="comma-separated layer names (default: all)")
    ap.add_argument("--depthwise", action="store_true",
                    help="only depthwise layers (one input and one output channel a group)")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per layer")
    ap.add_argument("--processes", type=int, default=0,
                    help="rounds of one worker process per revision (default 0: one process)")
    ap.add_argument("--changed", action="store_true",
                    help="only layers whose cost-model decision differs")
    ap.add_argument("--worker", choices=("old", "new"), help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    import numpy as np

    dims = {int(v) for v in args.dims.split(",")}
    layers = (list(ZOO) if args.zoo else []) + sweep(args.sweep, args.seed)
    if args.layers:
        want = set(args.layers.split(","))
        layers = [lay for lay in layers if lay["name"] in want]
    layers = [lay for lay in layers if len(lay["x"]) - 2 in dims]
    if args.depthwise:
        layers = [lay for lay in layers if lay["groups"] == lay["x"][1] and lay["w"][1] == 1]
    if args.worker:
        _worker(args, layers)
        return 0
    tmp = tempfile.mkdtemp(prefix="tconv_ab_")
    try:
        extract(args.rev, tmp)
        sys.path.insert(0, tmp)
        import tconv_old  # type: ignore[import-not-found]

        import tconv

        if args.changed:
            layers = [lay for lay in layers
                      if _decision(tconv_old, lay) != _decision(tconv, lay)]
            args.layers = ",".join(lay["name"] for lay in layers) or "-"
            print(f"{len(layers)} layers whose decision differs", flush=True)
        for lay in layers:                       # both revisions must agree on every layer
            x, w, gy, geo = _inputs(lay, args.backward)
            a, b = (_call(lib, x, w, gy, geo, args.algorithm)() for lib in (tconv_old, tconv))
            for u, v in zip(a if args.backward else [a], b if args.backward else [b]):
                scale = max(1.0, float(np.abs(u).max()))
                if not np.allclose(u, v, rtol=1e-3, atol=1e-3 * scale):
                    raise SystemExit(f"{lay['name']}: the two revisions disagree")
        timed = _processes(args, tmp) if args.processes and layers else {}
        rows: list[tuple[float, str, int, float, float]] = []
        for lay in layers:
            nd = len(lay["x"]) - 2
            if args.processes:
                ratio, ms_old, ms_new = timed[lay["name"]]
            else:
                x, w, gy, geo = _inputs(lay, args.backward)
                calls = [_call(lib, x, w, gy, geo, args.algorithm)
                         for lib in (tconv_old, tconv)]
                t_old, t_new = paired(calls[0], calls[1], args.budget)
                ratio, ms_old, ms_new = t_new / t_old, t_old * 1e3, t_new * 1e3
            rows.append((ratio, lay["name"], nd, ms_old, ms_new))
            print(f"{lay['name']:24s} {nd}-D old {ms_old:9.3f} ms  new "
                  f"{ms_new:9.3f} ms  new/old {ratio:.2f}", flush=True)
        print()
        for nd in sorted(dims):
            ratios = [r[0] for r in rows if r[2] == nd]
            if ratios:
                mean = math.exp(sum(map(math.log, ratios)) / len(ratios))
                print(f"{nd}-D: {len(ratios)} layers, geometric mean new/old {mean:.3f}")
        moved = [r for r in sorted(rows) if not 0.95 <= r[0] <= 1.05]
        print(f"outside 0.95-1.05: {len(moved)} of {len(rows)}")
        for r in moved:
            print(f"  {r[1]:24s} {r[2]}-D new/old {r[0]:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
