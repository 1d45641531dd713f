"""Held-out evaluation of the up-scaler: PSNR / SSIM, checkerboard measures, throughput.

Protocol: held-out photos astronaut, camera, chelsea,
coffee, rocket; Y channel (BT.601 studio range); LR = PIL bicubic (antialiased) down-sample
rounded to 8 bit; every output clipped and rounded to 8 bit; border of ``scale`` pixels
shaved; PSNR and SSIM from scikit-image (``data_range=255``; SSIM with the Gaussian window,
sigma = 1.5, population covariance, as Wang et al. 2004).
The reference "bicubic" is PIL's (a = -0.5, as MATLAB ``imresize``).

Checkerboard measures, per method, mean over the five images:

* ``flat_spread``: the flat-region phase spread -- the mean error
  ``SR - HR`` of each of the ``s*s`` output phases over pixels whose 7x7 HR standard
  deviation is below 1.5 gray levels; max minus min across phases (gray levels).
* ``flat_spread_pooled``: the same spread with the flat pixels of all five images pooled
  before the phase means are taken. Per image, a phase mean over a few thousand pixels
  carries sampling noise of the same order as the bias it looks for (at x4, with 16
  phases, randomly assigned labels give 0.03-0.13 gray levels on these images), and
  max - min over noisy means is biased upwards; pooling divides that noise by about 2.
* ``periodic``: :func:`tconv.checkerboard.artifact_score` of the error image ``SR - HR``
  (the share of its non-DC spectral energy at the stride's frequencies);
* ``periodic_out``: the same score of the output itself (HR's own score is listed for
  reference: a sharper output has more energy at those frequencies, as HR does).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ...checkerboard import artifact_score
from .data import EVAL_IMAGES, eval_pairs, folder_pairs, load_photo, resize
from .infer import load_model, upscale_y, weights_path

__all__ = ["EvalConfig", "evaluate", "flat_phase_spread", "markdown_table", "crops_image",
           "bench_engine", "throughput"]

BASELINES = ("nearest", "bilinear", "bicubic")


@dataclass
class EvalConfig:
    """What ``tconv eval-upscaler`` evaluates."""

    scales: tuple[int, ...] = (2, 3, 4)
    heads: tuple[str, ...] = ("transposed", "pixel_shuffle", "resize_conv")
    images: tuple[str, ...] = EVAL_IMAGES
    engine: str = "numpy"
    out: pathlib.Path | None = None
    bench: bool = True
    bench_size: int = 512
    weights: dict = field(default_factory=dict)      # (scale, head) -> path override
    data: str | None = None     # a folder of HR images evaluated instead of ``images``


def flat_phase_stats(hr: np.ndarray, err: np.ndarray, scale: int, threshold: float = 1.5,
                     window: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Per-phase ``(sum of err, count)`` over flat HR pixels (7x7 std below ``threshold``),
    each ``(scale*scale,)``; the image border of ``scale`` pixels is left out."""
    from scipy.ndimage import uniform_filter

    hr = np.asarray(hr, np.float64)
    mean = uniform_filter(hr, window, mode="reflect")
    var = uniform_filter(hr * hr, window, mode="reflect") - mean * mean
    flat = np.sqrt(np.maximum(var, 0)) < threshold
    b = scale
    flat[:b], flat[-b:], flat[:, :b], flat[:, -b:] = False, False, False, False
    sums, counts = np.zeros(scale * scale), np.zeros(scale * scale)
    for r in range(scale):
        for c in range(scale):
            f = flat[r::scale, c::scale]
            sums[r * scale + c] = np.asarray(err, np.float64)[r::scale, c::scale][f].sum()
            counts[r * scale + c] = f.sum()
    return sums, counts


def flat_phase_spread(sr: np.ndarray, hr: np.ndarray, scale: int, threshold: float = 1.5,
                      window: int = 7) -> float:
    """Max - min over the ``scale**2`` phases of the mean error on flat HR regions (gray levels).

    Examples:
        >>> hr = np.full((32, 32), 100.0)
        >>> sr = hr + np.tile([[1.0, 0.0], [0.0, 0.0]], (16, 16))     # a stride-2 pattern
        >>> flat_phase_spread(sr, hr, 2)
        1.0
    """
    err = np.asarray(sr, np.float64) - np.asarray(hr, np.float64)
    return _spread(*flat_phase_stats(hr, err, scale, threshold, window))


def _spread(sums: np.ndarray, counts: np.ndarray) -> float:
    if (counts == 0).any():
        return float("nan")
    means = sums / counts
    return float(means.max() - means.min())


def _metrics(sr: np.ndarray, hr: np.ndarray, s: int
             ) -> tuple[dict[str, float], tuple[np.ndarray, np.ndarray]]:
    """The per-image metrics, and the flat-pixel phase sums and counts for pooling."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    sr8 = np.clip(np.round(sr), 0, 255)
    a, b = hr[s:-s, s:-s], sr8[s:-s, s:-s]
    stats = flat_phase_stats(hr, np.asarray(sr, np.float64) - hr, s)
    return {"psnr": float(peak_signal_noise_ratio(a, b, data_range=255)),
            "ssim": float(structural_similarity(a, b, data_range=255, gaussian_weights=True,
                                                sigma=1.5, use_sample_covariance=False)),
            "flat_spread": _spread(*stats),
            "periodic": float(artifact_score(sr - hr, s, border=s)),
            "periodic_out": float(artifact_score(sr, s, border=s))}, stats


def _learned_sr(model, lr: np.ndarray) -> np.ndarray:
    return upscale_y(model, (lr / 255.0).astype(np.float32), tile=192).astype(np.float64) * 255


def evaluate(cfg: EvalConfig, log=print) -> dict:
    """Per-image and mean metrics for each scale and method; also keeps SR images for crops.

    Returns ``{scale: {"methods": {name: {"per_image": {...}, "mean": {...}}}, "sr": {...}}}``.
    """
    results: dict = {}
    for s in cfg.scales:
        pairs = (folder_pairs(cfg.data, s, log, "eval-upscaler", "--data")
                 if cfg.data is not None else eval_pairs(s, cfg.images))
        methods: dict[str, dict] = {}
        srs: dict[str, dict[str, np.ndarray]] = {}
        models = {}
        for head in cfg.heads:
            path = cfg.weights.get((s, head), weights_path(s, head))
            if pathlib.Path(path).exists():
                models[f"learned-{head}"] = load_model(path, s, cfg.engine, head)
        for name in (*BASELINES, *models):
            per, srs[name], stats = {}, {}, []
            for img, (lr, hr) in pairs.items():
                if name in BASELINES:
                    sr = resize(lr, hr.shape[0], hr.shape[1], method=name)
                else:
                    sr = _learned_sr(models[name], lr)
                per[img], st = _metrics(sr, hr, s)
                stats.append(st)
                srs[name][img] = np.clip(np.round(sr), 0, 255).astype(np.uint8)
            mean = {k: float(np.mean([v[k] for v in per.values()])) for k in next(iter(
                per.values()))}
            mean["flat_spread_pooled"] = _spread(np.sum([a for a, _ in stats], axis=0),
                                                 np.sum([c for _, c in stats], axis=0))
            methods[name] = {"per_image": per, "mean": mean}
            log(f"x{s} {name:24s} PSNR {mean['psnr']:.3f} dB  SSIM {mean['ssim']:.4f}  "
                f"flat spread {mean['flat_spread']:.3f} (pooled "
                f"{mean['flat_spread_pooled']:.3f})  periodic {mean['periodic']:.4f}")
        srs["HR"] = {img: hr.astype(np.uint8) for img, (lr, hr) in pairs.items()}
        hr_periodic = float(np.mean([artifact_score(hr, s, border=s)
                                     for lr, hr in pairs.values()]))
        results[s] = {"methods": methods, "sr": srs, "hr_periodic": hr_periodic,
                      "set": ", ".join(pairs) if cfg.data is None else
                      f"{len(pairs)} image(s) under {cfg.data}"}
    return results


def _evaluated_set(results: dict) -> str:
    """The images the results were measured on, as the report's header names them."""
    for r in results.values():
        if "set" in r:
            return str(r["set"])
    return ", ".join(EVAL_IMAGES)


def markdown_table(results: dict, bench: dict | None = None) -> str:
    """The report: mean table per scale (gain over PIL bicubic), per-image PSNR, throughput."""
    lines = ["# Learned up-scaler: held-out evaluation", "",
             "Held-out: " + _evaluated_set(results)
             + ". Y channel (BT.601), LR = PIL bicubic "
             "(antialiased) down-sample rounded to 8 bit, outputs rounded to 8 bit, border "
             "shaved by the scale. Gain is over PIL bicubic. flat spread: flat-region phase "
             "spread (gray levels), mean over images / with the images' flat pixels pooled; "
             "periodic: tconv.checkerboard.artifact_score of SR - HR; "
             "periodic (out): artifact_score of the output (HR row: the ground truth's own).",
             ""]
    for s, res in results.items():
        m = res["methods"]
        ref = m["bicubic"]["mean"]["psnr"]
        lines += [f"## x{s}", "",
                  "| method | PSNR (dB) | gain (dB) | SSIM | flat spread | flat spread "
                  "(pooled) | periodic | periodic (out) |", "|---|---|---|---|---|---|---|---|"]
        for name, r in m.items():
            a = r["mean"]
            lines.append(f"| {name} | {a['psnr']:.2f} | {a['psnr'] - ref:+.2f} | "
                         f"{a['ssim']:.4f} | {a['flat_spread']:.3f} | "
                         f"{a['flat_spread_pooled']:.3f} | {a['periodic']:.2e} | "
                         f"{a['periodic_out']:.2e} |")
        lines.append(f"| HR | | | | | | | {res['hr_periodic']:.2e} |")
        imgs = list(next(iter(m.values()))["per_image"])
        lines += ["", "| PSNR per image | " + " | ".join(imgs) + " |",
                  "|---|" + "---|" * len(imgs)]
        for name, r in m.items():
            lines.append(f"| {name} | " + " | ".join(f"{r['per_image'][i]['psnr']:.2f}"
                                                   for i in imgs) + " |")
        lines.append("")
    if bench:
        lines += ["## Throughput (learned x2 transposed head, output megapixels/s)", "",
                  "| engine | input | seconds (median) | MP/s |", "|---|---|---|---|"]
        for eng, b in bench.items():
            lines.append(f"| {eng} | {b['size']}x{b['size']} | {b['seconds']:.3f} | "
                         f"{b['mpix_per_s']:.2f} |")
        lines.append("")
    return "\n".join(lines)


def crops_image(results: dict, scale: int, image: str = "astronaut",
                box: tuple[int, int, int] | None = None, zoom: int = 3):
    """A side-by-side PIL image of the same crop from HR and every method (nearest zoom)."""
    from PIL import Image, ImageDraw

    srs = results[scale]["sr"]
    names = ["HR", *[n for n in srs if n != "HR"]]
    hr = srs["HR"][image]
    if box is None:
        box = {"astronaut": (90, 170, 96), "chelsea": (80, 160, 96)}.get(
            image, (hr.shape[0] // 3, hr.shape[1] // 3,
                    max(1, min(96, hr.shape[0] - hr.shape[0] // 3,
                               hr.shape[1] - hr.shape[1] // 3))))
    r0, c0, n = box
    tiles = []
    for name in names:
        crop = srs[name][image][r0:r0 + n, c0:c0 + n]
        im = Image.fromarray(crop).resize((n * zoom, n * zoom), Image.Resampling.NEAREST)
        canvas = Image.new("L", (n * zoom, n * zoom + 16), 255)
        canvas.paste(im, (0, 16))
        ImageDraw.Draw(canvas).text((4, 2), name, fill=0)
        tiles.append(canvas)
    w, h = tiles[0].size
    sheet = Image.new("L", (w * len(tiles) + 4 * (len(tiles) - 1), h), 255)
    for i, t in enumerate(tiles):
        sheet.paste(t, (i * (w + 4), 0))
    return sheet


def bench_engine(engine: str, scale: int = 2, size: int = 512, repeats: int = 5,
                 head: str = "transposed") -> dict:
    """Time the learned model (this process) on a ``size x size`` photo crop: median seconds.

    The whole image is one tile (no tiling overhead); one warm-up run first.
    """
    y = (load_photo("astronaut")[..., 1].astype(np.float32) / 255.0)
    y = np.tile(y, (max(1, size // y.shape[0] + 1), max(1, size // y.shape[1] + 1)))
    y = np.ascontiguousarray(y[:size, :size])
    model = load_model(None, scale, engine, head)
    model(y)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(y)
        times.append(time.perf_counter() - t)
    sec = float(np.median(times))
    return {"engine": engine, "size": size, "scale": scale, "seconds": sec,
            "iqr": float(np.subtract(*np.percentile(times, [75, 25]))),
            "mpix_per_s": (size * scale) ** 2 / sec / 1e6}


def throughput(scale: int = 2, size: int = 512, repeats: int = 5) -> dict:
    """:func:`bench_engine` for each engine, each in a fresh subprocess."""
    out = {}
    for engine in ("numpy", "torch"):
        code = ("import json,sys; from tconv.apps.upscale.evaluate import bench_engine; "
                f"print(json.dumps(bench_engine({engine!r}, {scale}, {size}, {repeats})))")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=os.environ.copy(), check=False)
        if r.returncode != 0:
            raise RuntimeError(f"benchmark of engine {engine!r} failed: {r.stderr[-500:]}")
        out[engine] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def write_report(results: dict, out: pathlib.Path, bench: dict | None = None,
                 crop_image: str = "astronaut") -> list[pathlib.Path]:
    """Write ``report.md``, ``results.json`` and ``crops_x{s}.png`` into ``out``."""
    from ... import io as tio

    out.mkdir(parents=True, exist_ok=True)
    paths = [tio.atomic_write(out / "report.md", markdown_table(results, bench).encode(),
                              overwrite=True)]
    slim = {s: {**res["methods"], "HR": {"mean": {"periodic_out": res["hr_periodic"]}}}
            for s, res in results.items()}
    paths.append(tio.atomic_write(out / "results.json", (json.dumps(
        {"results": slim, "throughput": bench}, indent=1) + "\n").encode(), overwrite=True))
    for s in results:
        names = list(results[s]["sr"]["HR"])
        image = crop_image if crop_image in names else names[0]
        sheet = np.asarray(crops_image(results, s, image))
        paths.append(tio.write_image(out / f"crops_x{s}.png", sheet, overwrite=True))
    return paths
