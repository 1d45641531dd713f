"""``tconv upscale``, ``tconv train-upscaler``, ``tconv eval-upscaler`` and the demo hook.

Thin: arguments are parsed into :class:`tconv.apps.upscale.model.UpscalerConfig` /
``TrainConfig`` / ``UpscaleOptions`` and handed to the library. torch, Pillow and
scikit-image are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

__all__ = ["add_parser", "demo"]

TRAIN_EPILOG = """\
Trains on the photos scikit-image bundles (no downloads); held-out: astronaut, camera,
chelsea, coffee, rocket. LR inputs are PIL bicubic (antialiased) down-samples rounded to 8 bit.
--steps fixes the run (deterministic under --seed); --minutes stops early with a checkpoint
that --resume continues on the same trajectory.

examples:
  tconv train-upscaler --scale 2 --steps 200 --out /tmp/up-x2
  tconv train-upscaler --scale 2 --steps 400 --out /tmp/up-x2 --resume
  tconv train-upscaler --scale 3 --head pixel_shuffle --minutes 5 --out /tmp/up-x3-ps
"""


UPSCALE_EPILOG = """\
The learned model runs on luminance (Y of BT.601 YCbCr); Cb, Cr and alpha are up-sampled
bicubic. 8/16-bit PNG, JPEG and TIFF; gray, RGB, RGBA. Outputs keep the input's format and
bit depth, are written via a temporary file + rename and never replace an existing file
unless --overwrite. Images over --max-pixels (default 100 megapixels) are refused.

examples:
  tconv upscale photo.png --scale 2                    # writes photo_x2.png
  tconv upscale photo.jpg -o big.png --scale 4 --engine torch
  tconv upscale shots/ -o shots-x3/ --scale 3 --method bicubic
  tconv upscale huge.tif --scale 2 --max-pixels 200000000 --tile 256
"""

EVAL_EPILOG = """\
PSNR / SSIM (scikit-image) on Y of the held-out photos (astronaut, camera, chelsea, coffee,
rocket), border shaved by the scale, against nearest, bilinear and PIL bicubic; checkerboard
measures; NumPy vs torch throughput (each engine in its own process).

examples:
  tconv eval-upscaler --out eval-out
  tconv eval-upscaler --scales 2 --heads transposed --no-bench --out /tmp/eval-x2
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("upscale", formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="up-scale images x2/x3/x4 with the learned transposed conv",
                       description="Up-scale photos with the shipped learned model "
                                   "(NumPy engine, no torch needed) or an interpolator.",
                       epilog=UPSCALE_EPILOG)
    u.add_argument("inputs", nargs="+", type=pathlib.Path, metavar="IN",
                   help="image files or folders")
    u.add_argument("-o", "--output", type=pathlib.Path, default=None, metavar="OUT",
                   help="output file (one input) or folder; default: IN_x{scale}.ext")
    u.add_argument("--scale", type=int, choices=(2, 3, 4), required=True)
    u.add_argument("--method", choices=("learned", "bicubic", "bilinear", "nearest"),
                   default="learned")
    u.add_argument("--engine", choices=("numpy", "torch"), default="numpy")
    u.add_argument("--weights", type=pathlib.Path, default=None,
                   help="weights .npz (its folder's manifest.json must list its sha256)")
    u.add_argument("--tile", type=int, default=192, help="tile size in input pixels "
                   "(0: whole image at once)")
    u.add_argument("--max-pixels", type=int, default=None,
                   help="refuse larger inputs (default 100000000)")
    u.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    u.set_defaults(func=run_upscale)

    e = sub.add_parser("eval-upscaler", formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="PSNR/SSIM/checkerboard/throughput of the learned up-scaler",
                       description="Evaluate the shipped up-scalers on the held-out photos.",
                       epilog=EVAL_EPILOG)
    e.add_argument("--scales", type=int, nargs="+", choices=(2, 3, 4), default=[2, 3, 4])
    e.add_argument("--heads", nargs="+", default=["transposed", "pixel_shuffle",
                                                    "resize_conv"],
                   choices=("transposed", "pixel_shuffle", "resize_conv"),
                   help="learned heads to include (those with shipped weights)")
    e.add_argument("--engine", choices=("numpy", "torch"), default="numpy")
    e.add_argument("--out", type=pathlib.Path, default=pathlib.Path("upscaler-eval"))
    e.add_argument("--no-bench", action="store_true", help="skip the throughput benchmark")
    e.add_argument("--bench-size", type=int, default=512)
    e.set_defaults(func=run_eval)

    p = sub.add_parser("train-upscaler", formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="train the FSRCNN-style up-scaler (torch extra)",
                       description="Train the learned up-scaler on luminance.",
                       epilog=TRAIN_EPILOG)
    p.add_argument("--scale", type=int, choices=(2, 3, 4), required=True)
    p.add_argument("--head", choices=("transposed", "pixel_shuffle", "resize_conv"),
                   default="transposed", help="up-sampling head (default: transposed)")
    p.add_argument("--no-skip", action="store_true",
                   help="do not add the bicubic skip (learn the whole image, not the residual)")
    p.add_argument("--skip-a", type=float, default=-0.5,
                   help="cubic coefficient of the skip path: -0.5 PIL/MATLAB (default), "
                        "-0.75 torch's interpolate")
    p.add_argument("--smooth-frac", type=float, default=0.1,
                   help="share of training patches drawn from generated smooth images "
                        "(default 0.1; 0 for photos only)")
    p.add_argument("--flat-weight", type=float, default=0.0,
                   help="weight of the flat-region phase-bias penalty (default 0: MSE only)")
    p.add_argument("--head-moments", type=int, choices=(0, 1, 2), default=1,
                   help="with --balance-phases: equalise the phases' tap sums (0), also first "
                        "moments (1, default: ramps) or also second moments (2: curvature; "
                        "needs a kernel >= 3*scale)")
    p.add_argument("--head-size", type=int, default=0,
                   help="kernel of the transposed head (default 0: FSRCNN's 9, padding 4); "
                        "another K is centred, and a multiple of the scale overlaps evenly")
    p.add_argument("--gate", type=float, nargs=2, default=(0.0, 0.0), metavar=("LOW", "HIGH"),
                   help="train with the flatness gate: fade the learned residual out where the "
                        "3x3 local std of the input is below LOW..HIGH gray levels (the "
                        "shipped models add 1.5 3 after training; default off)")
    p.add_argument("--steps", type=int, default=20000, help="optimizer steps (default 20000)")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop after this many minutes of training (checkpoint kept)")
    p.add_argument("--out", type=pathlib.Path, default=pathlib.Path("upscaler-run"),
                   help="folder for checkpoint.pt, weights.npz and manifest.json")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--eval-every", type=int, default=2000,
                   help="held-out PSNR every N steps (0: never)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    p.add_argument("--balance-phases", action="store_true",
                   help="keep the head checkerboard-free on constant input (projection after "
                        "every step)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    from ..apps.upscale.model import UpscalerConfig
    from ..apps.upscale.train import TrainConfig, train

    cfg = TrainConfig(model=UpscalerConfig(scale=args.scale, head=args.head,
                                           skip=not args.no_skip, skip_a=args.skip_a,
                                           head_size=args.head_size,
                                           head_moments=args.head_moments,
                                           gate_low=args.gate[0], gate_high=args.gate[1]),
                      out=args.out, steps=args.steps, minutes=args.minutes, batch=args.batch,
                      seed=args.seed, eval_every=args.eval_every, resume=args.resume,
                      threads=args.threads, balance_phases=args.balance_phases,
                      smooth_frac=args.smooth_frac, flat_weight=args.flat_weight)
    train(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    print(cfg.out / "weights.npz")
    return 0


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


def _expand(inputs: list[pathlib.Path]) -> list[pathlib.Path]:
    files = []
    for p in inputs:
        if p.is_dir():
            files += sorted(f for f in p.iterdir()
                            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
                            and not f.name.startswith("."))
        else:
            files.append(p)
    return files


def _target(src: pathlib.Path, out: pathlib.Path | None, scale: int, many: bool
            ) -> pathlib.Path:
    name = f"{src.stem}_x{scale}{src.suffix}"
    if out is None:
        return src.with_name(name)
    if many or out.is_dir() or out.suffix.lower() not in IMAGE_SUFFIXES:
        return out / name
    return out


def run_upscale(args: argparse.Namespace) -> int:
    from .. import io as tio
    from ..apps._train import progress
    from ..apps.upscale.infer import UpscaleOptions, load_model, upscale_array

    opts = UpscaleOptions(scale=args.scale, method=args.method, engine=args.engine,
                          tile=args.tile or None, weights=args.weights,
                          max_pixels=args.max_pixels, overwrite=args.overwrite)
    files = _expand(args.inputs)
    if not files:
        raise ValueError("upscale: no image files found in " + ", ".join(map(str,
                                                                                args.inputs)))
    many = len(files) > 1 or any(p.is_dir() for p in args.inputs)
    if args.output is not None and many and args.output.suffix.lower() in IMAGE_SUFFIXES:
        raise ValueError(f"upscale: -o {str(args.output)!r} looks like a file but there are "
                         f"{len(files)} inputs; give a folder")
    model = load_model(opts.weights, opts.scale, opts.engine) if opts.method == "learned" \
        else None                        # tampered / missing weights stop before any work
    failed = 0
    for src in progress(files, desc=f"upscale x{opts.scale}", disable=None if many else True):
        dst = _target(src, args.output, opts.scale, many)
        try:
            if dst.exists() and not opts.overwrite:
                raise FileExistsError(f"{str(dst)!r} exists; pass --overwrite to replace it")
            img, _ = tio.read_image(src, max_pixels=opts.max_pixels)
            out = upscale_array(img, opts, model)
            tio.write_image(dst, out, overwrite=opts.overwrite)
            print(dst)
        except (ValueError, OSError) as exc:
            failed += 1
            print(f"tconv upscale: skipped {str(src)!r}: {exc}", file=sys.stderr)
    if failed:
        print(f"tconv upscale: {failed} of {len(files)} file(s) failed", file=sys.stderr)
    return 1 if failed else 0


def run_eval(args: argparse.Namespace) -> int:
    from ..apps.upscale.evaluate import EvalConfig, evaluate, throughput, write_report

    cfg = EvalConfig(scales=tuple(args.scales), heads=tuple(args.heads), engine=args.engine,
                     out=args.out, bench=not args.no_bench, bench_size=args.bench_size)
    results = evaluate(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    bench = throughput(2, cfg.bench_size) if cfg.bench else None
    paths = write_report(results, args.out, bench)
    print((args.out / "report.md").read_text())
    for p in paths:
        print(p)
    return 0


def demo(out_dir: pathlib.Path, log) -> list[pathlib.Path]:
    """Up-scale astronaut x2 with every method (shipped weights, NumPy engine); write the
    PSNR/SSIM table (Markdown + HTML) and the crops PNG. No training, a few seconds."""
    import html

    from .. import io as tio
    from ..apps.upscale.evaluate import EvalConfig, evaluate, markdown_table, write_report

    out = pathlib.Path(out_dir) / "upscale"
    cfg = EvalConfig(scales=(2,), images=("astronaut",), bench=False)
    results = evaluate(cfg, log=lambda m: None)
    table = markdown_table(results)
    log(table.split("## x2", 1)[1].split("| PSNR per image", 1)[0].strip())
    paths = write_report(results, out)
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td><td>{r['mean']['psnr']:.2f}</td>"
        f"<td>{r['mean']['ssim']:.4f}</td><td>{r['mean']['flat_spread']:.3f}</td></tr>"
        for n, r in results[2]["methods"].items())
    frag = ("<section id='upscale'><h2>Learned x2 up-scaling (astronaut, Y channel)</h2>"
            "<table><tr><th>method</th><th>PSNR (dB)</th><th>SSIM</th>"
            f"<th>flat-region phase spread</th></tr>{rows}</table>"
            "<p><img src='crops_x2.png' alt='crops: HR and every method'></p></section>\n")
    paths.append(tio.atomic_write(out / "upscale.html", frag.encode(), overwrite=True))
    return paths
