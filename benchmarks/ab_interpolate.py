"""The working tree's ``tconv.interpolate`` against the same function at a git revision, on
the resize zoo (``zoo_interpolate.py``), each revision in its own worker processes.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/ab_interpolate.py --rev HEAD~1
    python benchmarks/ab_interpolate.py --rev main --cases mel_linear_x4,psp_area_6 --rounds 7
    python benchmarks/ab_interpolate.py --rev main --sweep 40 --seed 1 --no-zoo

The revision's ``src/tconv`` is extracted as the package ``tconv_old``
(``ab_revision.extract``). Each round runs an old and a new worker process, in alternating
order from round to round; a worker times every case (median of calls for about
``--budget`` seconds, after two warm-up calls) and prints JSON. A case's ratio is the median
over rounds of new/old (below 1: the working tree is faster); the geometric mean and every
case outside 0.95-1.05 are printed. Both revisions use tconv's default threads.

``--in-process`` imports both revisions into one process instead and calls them
alternately, case by case (``ab_revision.paired``: medians of interleaved calls), for
``--rounds`` passes over the cases; a case's ratio is the median over passes. Calls of a
few microseconds move more between processes than a change makes, so changes to small
calls are checked this way.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from ab_revision import extract, paired  # noqa: E402
from zoo_interpolate import ZOO, kwargs, sweep  # noqa: E402


def _every(args: argparse.Namespace) -> list[dict]:
    """The zoo (unless ``--no-zoo``) and ``--sweep`` seeded resizes."""
    return ([] if args.no_zoo else list(ZOO)) + (sweep(args.sweep, args.seed)
                                                 if args.sweep else [])


def _worker(which: str, cases: list[dict], names: list[str], budget: float) -> None:
    import numpy as np

    if which == "old":
        import tconv_old as lib  # type: ignore[import-not-found]
    else:
        import tconv as lib
    times = {}
    for case in cases:
        if case["name"] not in names:
            continue
        x = np.random.default_rng(0).standard_normal(case["x"]).astype(case["dtype"])
        kw = kwargs(case)
        for _ in range(2):
            lib.interpolate(x, **kw)
        runs: list[float] = []
        end = time.perf_counter() + budget
        while len(runs) < 5 or (time.perf_counter() < end and len(runs) < 1000):
            t = time.perf_counter()
            lib.interpolate(x, **kw)
            runs.append(time.perf_counter() - t)
        times[case["name"]] = sorted(runs)[len(runs) // 2] * 1e3
    print(json.dumps(times))


def _in_workers(args: argparse.Namespace, names: list[str],
                results: dict[str, dict[str, list[float]]]) -> None:
    """Each round an old and a new worker process, in alternating order."""
    with tempfile.TemporaryDirectory() as tmp:
        extract(args.rev, tmp)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, os.path.abspath(__file__), "--rev", args.rev,
               "--cases", ",".join(names), "--budget", str(args.budget),
               "--sweep", str(args.sweep), "--seed", str(args.seed),
               *(["--no-zoo"] if args.no_zoo else []), "--worker"]
        for r in range(args.rounds):
            for which in (("old", "new") if r % 2 == 0 else ("new", "old")):
                out = subprocess.run([*cmd, which], env=env, check=True, capture_output=True,
                                     text=True).stdout
                for name, ms in json.loads(out.strip().splitlines()[-1]).items():
                    results[which].setdefault(name, []).append(ms)
                print(f"round {r + 1}/{args.rounds}: {which} done", file=sys.stderr)


def _in_process(rev: str, cases: list[dict], names: list[str], rounds: int, budget: float,
                results: dict[str, dict[str, list[float]]]) -> None:
    """Both revisions in this process: per case, interleaved calls (``paired``)."""
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        extract(rev, tmp)
        sys.path.insert(0, tmp)
        import tconv_old  # type: ignore[import-not-found]

        import tconv

        chosen = [c for c in cases if c["name"] in names]
        for r in range(rounds):
            for case in chosen:
                x = np.random.default_rng(0).standard_normal(case["x"]).astype(case["dtype"])
                kw = kwargs(case)
                for lib in (tconv_old, tconv):
                    lib.interpolate(x, **kw)
                old, new = paired(lambda: tconv_old.interpolate(x, **kw),  # noqa: B023
                                  lambda: tconv.interpolate(x, **kw), budget)  # noqa: B023
                results["old"].setdefault(case["name"], []).append(old * 1e3)
                results["new"].setdefault(case["name"], []).append(new * 1e3)
            print(f"pass {r + 1}/{rounds} done", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rev", required=True, help="git revision to compare against")
    ap.add_argument("--cases", help="comma-separated case names (default: all)")
    ap.add_argument("--rounds", type=int, default=3, help="old/new worker pairs (default 3)")
    ap.add_argument("--budget", type=float, default=0.3, help="seconds per case and worker")
    ap.add_argument("--sweep", type=int, default=0,
                    help="also compare this many seeded random resizes (zoo_interpolate.sweep)")
    ap.add_argument("--seed", type=int, default=0, help="seed of --sweep (default 0)")
    ap.add_argument("--no-zoo", action="store_true", help="compare only the --sweep cases")
    ap.add_argument("--in-process", action="store_true",
                    help="both revisions in this process, calls alternated case by case")
    ap.add_argument("--worker", choices=("old", "new"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rounds < 1 or args.budget <= 0 or args.sweep < 0:
        ap.error("--rounds must be >= 1, --budget > 0 and --sweep >= 0")
    cases = _every(args)
    names = args.cases.split(",") if args.cases else [c["name"] for c in cases]
    unknown = sorted(set(names) - {c["name"] for c in cases})
    if unknown:
        ap.error(f"--cases: not in the resize zoo or sweep: {', '.join(unknown)}")
    if not names:
        ap.error("no cases: --no-zoo needs --sweep")
    if args.worker:
        _worker(args.worker, cases, names, args.budget)
        return 0
    results: dict[str, dict[str, list[float]]] = {"old": {}, "new": {}}
    if args.in_process:
        _in_process(args.rev, cases, names, args.rounds, args.budget, results)
    else:
        _in_workers(args, names, results)
    logs = []
    for name in names:
        old, new = results["old"][name], results["new"][name]
        ratios = sorted(n / o for n, o in zip(new, old))
        ratio = ratios[len(ratios) // 2]
        logs.append(math.log(ratio))
        mark = "" if 0.95 <= ratio <= 1.05 else "   *"
        print(f"{name:28s} old {sorted(old)[len(old) // 2]:9.3f} ms  "
              f"new {sorted(new)[len(new) // 2]:9.3f} ms  new/old {ratio:.2f}{mark}")
    print(f"{len(names)} cases, geometric mean new/old {math.exp(sum(logs) / len(logs)):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
