"""``tconv upscale``, ``tconv train-upscaler``, ``tconv eval-upscaler`` and the demo hook.

Thin: arguments are parsed into :class:`tconv.apps.upscale.model.UpscalerConfig` /
``TrainConfig`` / ``UpscaleOptions`` and handed to the library. torch, Pillow and
scikit-image are imported inside the functions that need them.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from ._outputs import check_file_in
from ._train_options import device_spec, int_at_least

#: the largest --tile (input pixels per side; far above any image the tiles are for)
MAX_TILE = 65536


def _tile(text: str) -> int:
    """argparse type of --tile: 0 (the whole image at once) or 8..MAX_TILE."""
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if value != 0 and not 8 <= value <= MAX_TILE:
        raise argparse.ArgumentTypeError(f"must be 0 (the whole image at once) or an integer "
                                         f"in 8..{MAX_TILE}, got {text!r}")
    return value

__all__ = ["add_parser", "demo"]

TRAIN_EPILOG = """\
Trains on the photos scikit-image bundles (no downloads); held-out: astronaut, camera,
chelsea, coffee, rocket. LR inputs are PIL bicubic (antialiased) down-samples rounded to 8 bit.
--steps fixes the run (deterministic under --seed); --minutes stops early with a checkpoint
that --resume continues on the same trajectory.

examples:
  tconv train-upscaler --scale 2 --steps 200 --out up-x2
  tconv train-upscaler --scale 2 --steps 400 --minutes 1 --out up-x2-long   # stops after a minute
  tconv train-upscaler --scale 2 --steps 400 --out up-x2-long --resume      # and goes on
  tconv train-upscaler --scale 3 --head pixel_shuffle --minutes 5 --out up-x3-ps
"""


UPSCALE_EPILOG = """\
The learned model runs on luminance (Y of BT.601 YCbCr); Cb, Cr and alpha are up-sampled
bicubic. 8/16-bit PNG, JPEG and TIFF; gray, RGB, RGBA. Outputs keep the input's format and
bit depth, are written via a temporary file + rename and never replace an existing file
unless --overwrite. Images over --max-pixels (default 100 megapixels) are refused. EXIF
orientation is applied; multi-frame files give their first frame (with a warning).
Everything is checked before any work (-o suffix, writable folders, existing outputs,
weights); a bad file is reported and skipped, and the run exits 1 at the end. SIGTERM or
Ctrl-C leaves only complete outputs: rerun with --skip-existing to finish. Under torchrun
(RANK/WORLD_SIZE set) file i of the list goes to rank i % WORLD_SIZE, e.g.
torchrun --nproc_per_node=4 -m tconv upscale photos/ -o photos-x2/ --scale 2

examples:
  tconv upscale photo.png --scale 2                    # writes photo_x2.png
  tconv upscale photo.png -o big.png --scale 4 --engine torch
  tconv upscale photo.png big.png -o shots-x3/ --scale 3 --method bicubic   # into a folder
  tconv upscale photo.png -o tiled.png --scale 2 --max-pixels 200000000 --tile 256
"""

EVAL_EPILOG = """\
PSNR / SSIM (scikit-image) on Y of the held-out photos (astronaut, camera, chelsea, coffee,
rocket), border shaved by the scale, against nearest, bilinear and PIL bicubic; checkerboard
measures; NumPy vs torch throughput (each engine in its own process).

examples:
  tconv eval-upscaler --out eval-out
  tconv eval-upscaler --scales 2 --heads transposed --no-bench --out eval-x2
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
    u.add_argument("--engine", choices=("numpy", "torch"), default=None,
                   help="numpy (default on the CPU, no torch needed) or torch (default on "
                        "--device cuda/mps)")
    u.add_argument("--device", type=device_spec, default=None, metavar="DEVICE",
                   help="auto (CUDA, then MPS, then CPU), cpu (default), cuda, cuda:N or mps; "
                        "a GPU runs the torch engine")
    u.add_argument("--weights", type=pathlib.Path, default=None,
                   help="weights .npz (its folder's manifest.json must list its sha256)")
    u.add_argument("--tile", type=_tile, default=192, help="tile size in input pixels "
                   "(0: whole image at once; else >= 8)")
    u.add_argument("--max-pixels", type=int_at_least(1, 2**40), default=None,
                   help="refuse larger inputs (default 100000000)")
    u.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    u.add_argument("--skip-existing", action="store_true",
                   help="keep outputs that exist and do the rest (resumes an interrupted "
                        "batch; every output present is complete)")
    u.set_defaults(func=run_upscale)

    from ._upscaler_training import add_eval_parser, add_train_parser

    add_eval_parser(sub, EVAL_EPILOG)
    add_train_parser(sub, TRAIN_EPILOG)


def run_upscale(args: argparse.Namespace) -> int:
    from ..apps.upscale.batch import upscale_files
    from ..apps.upscale.infer import UpscaleOptions, choose_engine

    if args.weights is not None:
        check_file_in("--weights", args.weights)
        if args.method != "learned":
            raise ValueError(f"upscale: --weights is read with --method learned only, not "
                             f"with --method {args.method}")
    engine, device = choose_engine(args.engine, args.device)
    opts = UpscaleOptions(scale=args.scale, method=args.method, engine=engine,
                          tile=args.tile or None, weights=args.weights,
                          max_pixels=args.max_pixels, overwrite=args.overwrite)
    try:
        report = upscale_files(args.inputs, args.output, opts,
                               skip_existing=args.skip_existing, device=device)
    except KeyboardInterrupt:                  # while planning or loading: nothing written
        print("tconv upscale: interrupted before any output was written", file=sys.stderr)
        return 130
    except OSError as exc:
        if isinstance(exc, (FileExistsError, FileNotFoundError)):
            raise
        print(f"tconv upscale: error: {exc}", file=sys.stderr)
        return 1
    if report.interrupted is not None:
        return report.interrupted
    return 1 if report.failed else 0


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
