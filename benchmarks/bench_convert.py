"""Benchmark: strided ConvTranspose2d vs its exact conversions (tconv.nn.convert), CPU.

    python benchmarks/bench_convert.py [--threads 1 2] [--repeat 15] [--json out.json]

FSRCNN-like layer ConvTranspose2d(56, 1, 9, stride=2, padding=4, output_padding=1) on
1x56x256x256 (float32), plus DCGAN's ConvTranspose2d(64, 32, 4, stride=2, padding=1).
Same process, same inputs, timed round-robin; median and IQR; ratio = layer / converted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import metadata, write_json  # noqa: E402

from tconv.nn import to_pixel_shuffle, to_zero_insertion  # noqa: E402

GRID = [  # (name, C_in, C_out, k, s, p, op, input (N, H, W))
    ("fsrcnn", 56, 1, 9, 2, 4, 1, (1, 256, 256)),
    ("dcgan", 64, 32, 4, 2, 1, 0, (8, 64, 64)),
]


def interleaved(models: dict, x: torch.Tensor, repeat: int) -> dict[str, dict[str, float]]:
    """Time the models round-robin (one call each per round), so load drifts hit all alike."""
    import statistics
    import time

    for m in models.values():
        for _ in range(2):
            m(x)
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(repeat):
        for key, m in models.items():
            t0 = time.perf_counter()
            m(x)
            times[key].append((time.perf_counter() - t0) * 1e3)
    out = {}
    for key, ts in times.items():
        q = statistics.quantiles(ts, n=4)
        out[key] = {"median_ms": statistics.median(ts), "iqr_ms": q[2] - q[0],
                    "min_ms": min(ts), "n": float(len(ts))}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    rows = []
    torch.manual_seed(0)
    for name, ci, co, k, s, p, op, (n, h, w) in GRID:
        layer = torch.nn.ConvTranspose2d(ci, co, k, stride=s, padding=p, output_padding=op)
        x = torch.randn(n, ci, h, w)
        models = {"conv_transpose": layer, "pixel_shuffle": to_pixel_shuffle(layer),
                  "zero_insertion": to_zero_insertion(layer)}
        with torch.inference_mode():
            ref = layer(x)
            for m in models.values():
                torch.testing.assert_close(m(x), ref, rtol=0, atol=1e-4)
            for threads in args.threads:
                torch.set_num_threads(threads)
                t = interleaved(models, x, args.repeat)
                base = t["conv_transpose"]["median_ms"]
                for key, r in t.items():
                    rows.append({"layer": name, "threads": threads, "model": key, **r,
                                 "speedup_vs_conv_transpose": base / r["median_ms"]})
                    print(f"{name:7s} threads={threads} {key:15s} "
                          f"median {r['median_ms']:8.2f} ms  IQR {r['iqr_ms']:6.2f}  "
                          f"min {r['min_ms']:8.2f}  "
                          f"x{base / r['median_ms']:.2f}")
    meta = metadata() | {"torch": torch.__version__}
    print(meta)
    if args.json:
        write_json(args.json, {"meta": meta, "rows": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
