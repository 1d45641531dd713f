"""Choose the up-scaler's flatness gate on the training photos, then report it held out.

The shipped transposed heads fade their learned residual out where the LR input is flat
(:func:`tconv.apps.upscale.model.flatness_gate`: smoothstep of the 3x3 local standard
deviation between ``low`` and ``high`` gray levels). This script makes that choice
reproducible. For each candidate ``(low, high = 2*low)`` it runs the shipped weights with the
gate on the *training* photos (``TRAIN_IMAGES``; the held-out five are never looked at for
the choice) and prints the mean PSNR gain over PIL bicubic at x2, x3, x4 and their mean; the
candidate with the best mean gain is chosen. Then it prints, for the held-out photos, the gain
and the pooled flat-region phase spread (``tconv eval-upscaler``'s checkerboard measure)
without the gate, with the chosen gate, and of bicubic.

    python benchmarks/upscale_gate.py          # about a minute on 2 cores
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

CANDIDATES = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


def _model(scale: int, low: float, high: float):
    from tconv import io as tio
    from tconv.apps.upscale.infer import NumpyUpscaler, weights_path
    from tconv.apps.upscale.model import UpscalerConfig

    arrays, meta = tio.load_weights(weights_path(scale, "transposed"))
    cfg = dataclasses.replace(UpscalerConfig(**meta["config"]), gate_low=low, gate_high=high)
    return NumpyUpscaler(cfg, arrays)


def _gain_and_stats(model, pairs, s: int):
    from skimage.metrics import peak_signal_noise_ratio as psnr

    from tconv.apps.upscale.data import resize
    from tconv.apps.upscale.evaluate import _learned_sr, flat_phase_stats

    gains, sums, counts, bsums = [], 0.0, 0.0, 0.0
    for lr, hr in pairs.values():
        bic = resize(lr, hr.shape[0], hr.shape[1], method="bicubic")
        sr = _learned_sr(model, lr)
        core = (slice(s, -s), slice(s, -s))
        q_sr, q_bic = (np.clip(np.round(z), 0, 255)[core] for z in (sr, bic))
        gains.append(psnr(hr[core], q_sr, data_range=255)
                     - psnr(hr[core], q_bic, data_range=255))
        a, c = flat_phase_stats(hr, sr - hr, s)
        b, _ = flat_phase_stats(hr, bic - hr, s)
        sums, counts, bsums = sums + a, counts + c, bsums + b
    return float(np.mean(gains)), sums / counts, bsums / counts


def main() -> int:
    from tconv.apps.upscale.data import EVAL_IMAGES, TRAIN_IMAGES, eval_pairs

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    scales = (2, 3, 4)
    train = {s: eval_pairs(s, TRAIN_IMAGES) for s in scales}
    print("Training photos: mean PSNR gain over bicubic (dB)\n")
    print("| gate (low, high) | x2 | x3 | x4 | mean |")
    print("|---|---|---|---|---|")
    best, best_gain = None, -np.inf
    for low in (0.0, *CANDIDATES):
        high = 2 * low
        g = [_gain_and_stats(_model(s, low, high), train[s], s)[0] for s in scales]
        label = "off" if low == 0 else f"{low:g}, {high:g}"
        print(f"| {label} | {g[0]:.3f} | {g[1]:.3f} | {g[2]:.3f} | {np.mean(g):.3f} |",
              flush=True)
        if low and np.mean(g) > best_gain:
            best, best_gain = (low, high), float(np.mean(g))
    assert best is not None
    print(f"\nchosen: low={best[0]:g}, high={best[1]:g} gray levels\n")
    print("Held-out photos: gain (dB) and pooled flat-region phase spread (gray levels)\n")
    print("| scale | gain, no gate | gain, gate | spread, no gate | spread, gate | "
          "spread, bicubic |")
    print("|---|---|---|---|---|---|")
    for s in scales:
        pairs = eval_pairs(s, EVAL_IMAGES)
        g0, m0, mb = _gain_and_stats(_model(s, 0.0, 0.0), pairs, s)
        g1, m1, _ = _gain_and_stats(_model(s, *best), pairs, s)
        print(f"| x{s} | {g0:.3f} | {g1:.3f} | {np.ptp(m0):.4f} | {np.ptp(m1):.4f} | "
              f"{np.ptp(mb):.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
