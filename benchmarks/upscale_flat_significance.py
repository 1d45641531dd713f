"""Is an up-scaler's flat-region phase spread more than noise? (the #6 checkerboard figure)

``tconv eval-upscaler`` reports the *flat spread*: over flat HR pixels (7x7 std below 1.5
gray levels) of the five held-out images, pooled, the max - min over the ``scale**2`` output
phases of the mean error ``SR - HR``. This script asks whether a spread is more than sampling
noise. Null model: the phase label carries no effect. Inside each LR pixel's ``s x s`` block
of output pixels the phase labels are permuted at random (the block's errors and their
spatial correlation stay), and the spread is recomputed; ``--draws`` permutations give the
null distribution, and ``p`` is the share of draws whose spread reaches the observed one.

The row "learned - bicubic" is the paired test: the spread of what the model adds to the
bicubic skip (its output minus bicubic's, on the same flat pixels), so the HR image's own
texture, common to both errors, drops out.

    python benchmarks/upscale_flat_significance.py              # bicubic and the shipped heads
    python benchmarks/upscale_flat_significance.py --scales 4 --draws 500
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.ndimage import uniform_filter


def phase_blocks(sr: np.ndarray, hr: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    """``(errors, flat)`` as ``(LR pixels, s*s phases)`` arrays, the border of ``s`` left out."""
    hr64 = hr.astype(np.float64)
    mean = uniform_filter(hr64, 7, mode="reflect")
    var = uniform_filter(hr64 * hr64, 7, mode="reflect") - mean * mean
    flat = np.sqrt(np.maximum(var, 0)) < 1.5
    flat[:s], flat[-s:], flat[:, :s], flat[:, -s:] = False, False, False, False
    rows, cols = (hr.shape[0] // s) * s, (hr.shape[1] // s) * s

    def blocks(a: np.ndarray) -> np.ndarray:
        return a[:rows, :cols].reshape(rows // s, s, cols // s, s).transpose(0, 2, 1, 3) \
            .reshape(-1, s * s)

    return blocks(np.asarray(sr, np.float64) - hr64), blocks(flat)


def spread(err: np.ndarray, flat: np.ndarray) -> float:
    means = (err * flat).sum(0) / flat.sum(0)
    return float(means.max() - means.min())


def main() -> int:
    from tconv.apps.upscale.data import EVAL_IMAGES, eval_pairs, resize
    from tconv.apps.upscale.evaluate import _learned_sr
    from tconv.apps.upscale.infer import load_model, weights_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", default="2,3,4")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print("| scale | method | pooled flat spread | null median | null 95 % | p | flat pixels |")
    print("|---|---|---|---|---|---|---|")
    for s in (int(v) for v in args.scales.split(",")):
        pairs = eval_pairs(s, EVAL_IMAGES)
        model = load_model(weights_path(s, "transposed"), s, "numpy", "transposed")
        outs = {name: [] for name in ("bicubic", "learned")}
        for lr, hr in pairs.values():
            outs["bicubic"].append(resize(lr, hr.shape[0], hr.shape[1], method="bicubic"))
            outs["learned"].append(_learned_sr(model, lr))
        for name in ("bicubic", "learned", "learned - bicubic"):
            errs, flats = [], []
            for i, (_, hr) in enumerate(pairs.values()):
                if name == "learned - bicubic":          # what the model adds, paired
                    e, f = phase_blocks(outs["learned"][i] - outs["bicubic"][i] + hr, hr, s)
                else:
                    e, f = phase_blocks(outs[name][i], hr, s)
                errs.append(e)
                flats.append(f)
            err, flat = np.concatenate(errs), np.concatenate(flats)
            observed = spread(err, flat)
            null = []
            for _ in range(args.draws):
                perm = np.argsort(rng.random(err.shape), axis=1)
                null.append(spread(np.take_along_axis(err, perm, 1),
                                   np.take_along_axis(flat, perm, 1)))
            null_a = np.asarray(null)
            print(f"| x{s} | {name} | {observed:.4f} | {np.median(null_a):.4f} | "
                  f"{np.quantile(null_a, 0.95):.4f} | {np.mean(null_a >= observed):.3f} | "
                  f"{int(flat.sum())} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
