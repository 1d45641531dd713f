"""``tconv train-upscaler`` and ``tconv eval-upscaler`` (registered by :mod:`.upscale`).

Arguments become :class:`tconv.apps.upscale.train.TrainConfig` / ``EvalConfig``; every
number is checked by its argparse type (:mod:`._train_options`) before anything runs.
torch, Pillow and scikit-image are imported inside the functions.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

from ._outputs import add_overwrite, check_folder_in, check_folder_out
from ._train_options import (
    MAX_BATCH,
    MAX_SEED,
    MAX_SIDE,
    add_loop_args,
    add_run_args,
    float_in,
    int_at_least,
    run_training,
)

__all__ = ["add_train_parser", "add_eval_parser", "run_train", "run_eval"]

TRAIN_INTRO = """\
Own photos: --data DIR trains on every PNG/JPEG/TIFF/WebP under DIR (recursive; 8/16-bit;
gray/RGB/RGBA) with the same degradation (Y, PIL bicubic antialiased down-sampling rounded
to 8 bit), random crops, rotations and flips; unreadable files are reported and skipped.
--val DIR replaces the held-out photos of the printed PSNR. A folder that holds a run is
refused unless --resume (continue) or --overwrite (start afresh). SIGTERM or Ctrl-C stops
after the current step with a checkpoint. Runs unchanged under torchrun (--batch is the
global batch; docs/distributed.md).

"""

TRAIN_EXAMPLES = """\
  tconv train-upscaler --scale 2 --steps 300 --data . --val . --eval-every 100 --out up-own
  tconv train-upscaler --scale 2 --steps 300 --data . --out up-own --overwrite --device cpu
"""

EVAL_INTRO = """\
--data DIR evaluates any folder of high-resolution images (Set5/Set14/DIV2K-valid layout:
one HR image per file, searched recursively) instead of the held-out photos: each is
mod-cropped, down-sampled (PIL bicubic, antialiased, 8 bit) and restored by every method.

"""

EVAL_EXAMPLES = """\
  tconv eval-upscaler --data . --scales 2 --heads transposed --no-bench --out eval-own
"""


def add_eval_parser(sub: argparse._SubParsersAction, epilog: str) -> None:
    e = sub.add_parser("eval-upscaler", formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="PSNR/SSIM/checkerboard/throughput of the learned up-scaler",
                       description="Evaluate the shipped up-scalers on the held-out photos "
                                   "or on a folder of high-resolution images.",
                       epilog=EVAL_INTRO + epilog + EVAL_EXAMPLES)
    e.add_argument("--scales", type=int, nargs="+", choices=(2, 3, 4), default=[2, 3, 4])
    e.add_argument("--heads", nargs="+", default=["transposed", "pixel_shuffle",
                                                    "resize_conv"],
                   choices=("transposed", "pixel_shuffle", "resize_conv"),
                   help="learned heads to include (those with shipped weights)")
    e.add_argument("--data", type=pathlib.Path, default=None, metavar="DIR",
                   help="folder of HR images to evaluate (default: the held-out photos)")
    e.add_argument("--engine", choices=("numpy", "torch"), default="numpy")
    e.add_argument("--out", type=pathlib.Path, default=pathlib.Path("upscaler-eval"))
    add_overwrite(e, "the report in --out")
    e.add_argument("--no-bench", action="store_true", help="skip the throughput benchmark")
    e.add_argument("--bench-size", type=int_at_least(16, MAX_SIDE), default=512,
                   help="side of the benchmark image, >= 16 (default 512)")
    e.set_defaults(func=run_eval)


def add_train_parser(sub: argparse._SubParsersAction, epilog: str) -> None:
    p = sub.add_parser("train-upscaler", formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="train the FSRCNN-style up-scaler (torch extra)",
                       description="Train the learned up-scaler on luminance.",
                       epilog=TRAIN_INTRO + epilog + TRAIN_EXAMPLES)
    p.add_argument("--scale", type=int, choices=(2, 3, 4), required=True)
    p.add_argument("--head", choices=("transposed", "pixel_shuffle", "resize_conv"),
                   default="transposed", help="up-sampling head (default: transposed)")
    p.add_argument("--no-skip", action="store_true",
                   help="do not add the bicubic skip (learn the whole image, not the residual)")
    p.add_argument("--skip-a", type=float_in(-1.0, maximum=0.0), default=-0.5,
                   help="cubic coefficient of the skip path, in [-1, 0]: -0.5 PIL/MATLAB "
                        "(default), -0.75 torch's interpolate")
    p.add_argument("--smooth-frac", type=float_in(0.0, maximum=1.0, max_strict=True),
                   default=0.1,
                   help="share of training patches drawn from generated smooth images, in "
                        "[0, 1) (default 0.1; 0 for photos only)")
    p.add_argument("--flat-weight", type=float_in(0.0), default=0.0,
                   help="weight of the flat-region phase-bias penalty, finite and >= 0 "
                        "(default 0: MSE only)")
    p.add_argument("--head-moments", type=int, choices=(0, 1, 2), default=1,
                   help="with --balance-phases: equalise the phases' tap sums (0), also first "
                        "moments (1, default: ramps) or also second moments (2: curvature; "
                        "needs a kernel >= 3*scale)")
    p.add_argument("--head-size", type=int_at_least(0, 64), default=0,
                   help="kernel of the transposed head (default 0: FSRCNN's 9, padding 4); "
                        "another K is centred, and a multiple of the scale overlaps evenly")
    p.add_argument("--gate", type=float_in(0.0), nargs=2, default=(0.0, 0.0),
                   metavar=("LOW", "HIGH"),
                   help="train with the flatness gate: fade the learned residual out where the "
                        "3x3 local std of the input is below LOW..HIGH gray levels (the "
                        "shipped models add 1.5 3 after training; default off)")
    d = p.add_argument_group("data")
    d.add_argument("--data", type=pathlib.Path, default=None, metavar="DIR",
                   help="train on the photos under DIR (default: scikit-image's photos)")
    d.add_argument("--val", type=pathlib.Path, default=None, metavar="DIR",
                   help="held-out photos for the printed PSNR (default: scikit-image's)")
    t = p.add_argument_group("run")
    t.add_argument("--steps", type=int_at_least(1), default=20000,
                   help="optimizer steps, >= 1 (default 20000)")
    t.add_argument("--minutes", type=float_in(0.0), default=None,
                   help="stop after this many minutes of training, with a checkpoint "
                        "(0: after one step)")
    t.add_argument("--out", type=pathlib.Path, default=pathlib.Path("upscaler-run"),
                   help="folder for checkpoint.pt, weights.npz and manifest.json")
    add_run_args(t)
    t.add_argument("--seed", type=int_at_least(0, MAX_SEED), default=0)
    t.add_argument("--batch", type=int_at_least(1, MAX_BATCH), default=32,
                   help="global batch, >= 1 (divisible by the number of processes)")
    t.add_argument("--patch", type=int_at_least(4, 1024), default=24,
                   help="LR patch side, >= 4 (default 24)")
    t.add_argument("--lr", type=float_in(0.0, strict=True), default=1e-3,
                   help="learning rate of the body, > 0 (the head gets a tenth; default 1e-3)")
    t.add_argument("--eval-every", type=int_at_least(0), default=2000,
                   help="held-out PSNR every N steps (0: never; default 2000)")
    add_loop_args(t, checkpoint_every=500)
    p.add_argument("--balance-phases", action="store_true",
                   help="keep the head checkerboard-free on constant input (projection after "
                        "every step)")
    p.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    check_folder_out("--out", args.out)
    for flag, folder in (("--data", args.data), ("--val", args.val)):
        if folder is not None:
            check_folder_in(flag, folder)
    from ..apps.upscale.model import UpscalerConfig
    from ..apps.upscale.train import TrainConfig, train

    cfg = TrainConfig(model=UpscalerConfig(scale=args.scale, head=args.head,
                                           skip=not args.no_skip, skip_a=args.skip_a,
                                           head_size=args.head_size,
                                           head_moments=args.head_moments,
                                           gate_low=args.gate[0], gate_high=args.gate[1]),
                      out=args.out, steps=args.steps, minutes=args.minutes, batch=args.batch,
                      patch=args.patch, lr_body=args.lr, lr_head=args.lr / 10,
                      seed=args.seed, eval_every=args.eval_every,
                      checkpoint_every=args.checkpoint_every, resume=args.resume,
                      overwrite=args.overwrite, threads=args.threads,
                      balance_phases=args.balance_phases, smooth_frac=args.smooth_frac,
                      flat_weight=args.flat_weight,
                      data=None if args.data is None else str(args.data),
                      val=None if args.val is None else str(args.val),
                      device=args.device, amp=args.amp, progress=not args.no_progress)

    def body() -> int:
        from ..apps._distributed import env_world

        train(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
        if env_world()[0] == 0:
            print(cfg.out / "weights.npz")
        return 0

    return run_training("train-upscaler", body)


def run_eval(args: argparse.Namespace) -> int:
    check_folder_out("--out", args.out, args.overwrite, marker="report.md")
    if args.data is not None:
        check_folder_in("--data", args.data)
    from ..apps.upscale.evaluate import EvalConfig, evaluate, throughput, write_report

    cfg = EvalConfig(scales=tuple(args.scales), heads=tuple(args.heads), engine=args.engine,
                     out=args.out, bench=not args.no_bench, bench_size=args.bench_size,
                     data=None if args.data is None else str(args.data))
    results = evaluate(cfg, log=lambda m: print(m, file=sys.stderr, flush=True))
    bench = throughput(2, cfg.bench_size) if cfg.bench else None
    paths = write_report(results, args.out, bench)
    print((args.out / "report.md").read_text())
    for p in paths:
        print(p)
    return 0
