"""conv_transpose on the layer zoo (``zoo_conv_transpose.py``): tconv ``auto`` against PyTorch,
forward and backward, with and without numba, measured in one run.

Usage::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/bench_zoo.py   # headline
    python benchmarks/bench_zoo.py --layers melgan_512_k16s8,fsrcnn_x2 --rounds 5
    python benchmarks/bench_zoo.py --sweep 0 --no-backward --json zoo.json

Method (benchmarks/README.md): each library runs in its own fresh process (``--worker``) that
times every layer and prints JSON; one round runs the torch worker, then tconv (default
install), then tconv with ``TCONV_NUMBA=0``, alternating the order from round to round. A
layer's ratio in a round is tconv's median / torch's median of that round; the table shows the
median over rounds of those ratios, the median per-call IQR (as a percentage of the median)
and geometric means. Both libraries use the same thread count (``--threads``, default 2).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import (  # noqa: E402
    add_paired_arguments,
    budget_timeit,
    geomean,
    median_stats,
    meta_line,
    paired_main,
    paired_rounds,
    run_meta,
    run_worker,
    worker_argv,
)
from zoo_conv_transpose import CITES, ZOO, output_size, sweep, useful_macs  # noqa: E402

#: ratio limits of the targets (tconv / torch, same run)
LIMITS = {"forward_max": 1.10, "forward_geomean": 0.6, "backward_geomean": 0.8,
          "numpy_geomean": 1.0, "numpy_max": 1.5}


def _layers(args: argparse.Namespace) -> list[dict[str, Any]]:
    layers = list(ZOO) + sweep(args.sweep, args.seed)
    if args.layers:
        want = set(args.layers.split(","))
        layers = [lay for lay in layers if lay["name"] in want]
    return layers


def _inputs(layer: dict[str, Any]) -> tuple[Any, Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    dt = np.dtype(layer["dtype"])
    x = rng.standard_normal(layer["x"]).astype(dt)
    w = (rng.standard_normal(layer["w"]) / math.sqrt(math.prod(layer["w"][1:]))).astype(dt)
    gy = rng.standard_normal((layer["x"][0], layer["w"][1] * layer["groups"],
                              *output_size(layer))).astype(dt)
    return x, w, gy


def _torch_layer(lay: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import torch

    x, w, gy = (torch.from_numpy(a) for a in _inputs(lay))
    nd = x.dim() - 2
    s, p, d, op = ([lay[k]] * nd for k in ("stride", "padding", "dilation", "output_padding"))
    g = lay["groups"]
    with torch.inference_mode():
        fwd = budget_timeit(
            lambda: torch.ops.aten.convolution(x, w, None, s, p, d, True, op, g),
            args.budget, cpu=args.cpu)
        bwd = budget_timeit(lambda: torch.ops.aten.convolution_backward(
            gy, x, w, [w.shape[1] * g], s, p, d, True, op, g, [True, True, True]),
            args.budget, cpu=args.cpu) if args.backward else None
    return {"forward": fwd, "backward": bwd}


def _tconv_layer(lay: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    import tconv
    from tconv._algorithms import _cost

    x, w, gy = _inputs(lay)
    geo = (lay["stride"], lay["padding"], lay["output_padding"], lay["groups"],
           lay["dilation"])
    fwd = budget_timeit(lambda: tconv.conv_transpose(x, w, None, *geo), args.budget,
                        cpu=args.cpu)
    bwd = budget_timeit(lambda: tconv.conv_transpose_backward(gy, x, w, *geo), args.budget,
                        cpu=args.cpu) if args.backward else None
    choice = tconv.explain_algorithm(x.shape, w.shape, *geo, dtype=x.dtype)
    return {"forward": fwd, "backward": bwd, "algorithm": choice.algorithm,
            "compiled": _cost.features(x.shape, w.shape, _cost.params(x.shape, w.shape, *geo),
                                       x.dtype).compiled}


def worker(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.worker == "torch":
        import torch

        torch.set_num_threads(args.threads)
        out["_threads"] = torch.get_num_threads()
    run_one = _torch_layer if args.worker == "torch" else _tconv_layer
    for lay in _layers(args):
        t0 = time.perf_counter()
        out[lay["name"]] = run_one(lay, args)
        out[lay["name"]]["wall_s"] = time.perf_counter() - t0
    return out


def _spawn(args: argparse.Namespace, library: str, env: dict[str, str]) -> dict[str, Any]:
    argv = worker_argv(__file__, library, args) + ["--sweep", str(args.sweep),
                                                   "--seed", str(args.seed)]
    if args.layers:
        argv += ["--layers", args.layers]
    if not args.backward:
        argv.append("--no-backward")
    return run_worker(argv, library, env)


def run(args: argparse.Namespace) -> dict[str, Any]:
    variants, rounds = paired_rounds(
        args, lambda r, name, lib, env: _spawn(args, lib, env))
    rows = []
    for lay in _layers(args):
        n = lay["name"]
        row: dict[str, Any] = {"name": n, "cite": lay["cite"],
                               "variant": lay["variant"], "dtype": lay["dtype"],
                               "x": lay["x"], "w": lay["w"], "stride": lay["stride"],
                               "groups": lay["groups"], "macs": useful_macs(lay),
                               "algorithm": rounds[0]["tconv"][n]["algorithm"]}
        for op in ("forward", "backward") if args.backward else ("forward",):
            torch_runs = [rd["torch"][n][op] for rd in rounds]
            for v in variants:
                stats = median_stats([rd[v][n][op] for rd in rounds],
                                     None if v == "torch" else torch_runs)
                for k, val in stats.items():
                    row[f"{v}_{op}_{k}"] = val
        rows.append(row)
    return {"meta": run_meta(args, rounds), "rows": rows, "summary": summary(rows, args)}


def summary(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for v in ("tconv", "numpy"):
        for op in ("forward", "backward"):
            key = f"{v}_{op}_ratio"
            vals = [r[key] for r in rows if key in r]
            if not vals:
                continue
            out[key] = {"geomean": geomean(vals), "max": max(vals),
                        "above_1.10": [r["name"] for r in rows if r.get(key, 0) > 1.10]}
    return out


def _fmt_ratio(v: float | None) -> str:
    if v is None:
        return ""
    return f"**{v:.2f}**" if v > LIMITS["forward_max"] else f"{v:.2f}"


def print_table(payload: dict[str, Any], file: Any = sys.stdout) -> None:
    rows = payload["rows"]
    meta = payload["meta"]
    has_bwd = any("torch_backward_ms" in r for r in rows)
    has_np = any("numpy_forward_ratio" in r for r in rows)
    print(meta_line(meta), file=file)
    head = ["layer", "shape", "auto", "torch fwd ms", "fwd ratio"]
    if has_np:
        head.append("numpy-only fwd")
    if has_bwd:
        head += ["torch bwd ms", "bwd ratio"]
        if has_np:
            head.append("numpy-only bwd")
    print("| " + " | ".join(head) + " |", file=file)
    print("|" + "---|" * len(head), file=file)
    for r in rows:
        shape = f"{tuple(r['x'])} w{tuple(r['w'])} s{r['stride']} g{r['groups']}" + \
            (" f64" if r["dtype"] == "float64" else "")
        cells = [r["name"], shape, r["algorithm"], f"{r['torch_forward_ms']:.3g}",
                 _fmt_ratio(r["tconv_forward_ratio"])]
        if has_np:
            cells.append(_fmt_ratio(r.get("numpy_forward_ratio")))
        if has_bwd:
            cells += [f"{r['torch_backward_ms']:.3g}", _fmt_ratio(r["tconv_backward_ratio"])]
            if has_np:
                cells.append(_fmt_ratio(r.get("numpy_backward_ratio")))
        print("| " + " | ".join(cells) + " |", file=file)
    print(file=file)
    for key, s in payload["summary"].items():
        print(f"{key}: geomean {s['geomean']:.3f}, max {s['max']:.2f}, above 1.10: "
              f"{', '.join(s['above_1.10']) or 'none'}", file=file)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_paired_arguments(ap, "layer and op")
    ap.add_argument("--layers", default="", help="comma-separated layer names (default: all)")
    ap.add_argument("--sweep", type=int, default=20, help="random layers added (default 20)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random sweep")
    ap.add_argument("--no-backward", dest="backward", action="store_false")
    ap.add_argument("--list", action="store_true", help="list the layers and citations")
    args = ap.parse_args(argv)
    if args.list:
        for lay in _layers(args):
            print(f"{lay['name']:22s} x{lay['x']} w{lay['w']} s{lay['stride']} "
                  f"p{lay['padding']} op{lay['output_padding']} g{lay['groups']} "
                  f"d{lay['dilation']} {lay['dtype']}: {CITES.get(lay['cite'], lay['cite'])}"
                  + (f" ({lay['variant']})" if lay["variant"] else ""))
        return 0
    return paired_main(args, worker, run, print_table)


if __name__ == "__main__":
    raise SystemExit(main())
