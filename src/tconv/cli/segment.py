"""``tconv segment train|eval|compare``: an FCN whose decoder up-sampling is selectable.

Trains a small fully convolutional segmentation network whose decoder up-samples by a
transposed convolution (random or bilinear start), fixed interpolation, resize-convolution
or pixel shuffle, evaluates its mean IoU on held-out images, and compares the decoders at an
equal budget. Needs the torch and apps extras: pip install 'tconv[torch,apps]'.
"""

from __future__ import annotations

import argparse
import json
import pathlib

from ._outputs import (
    add_overwrite,
    check_compare_out,
    check_file_in,
    check_file_out,
    check_folder_out,
)
from ._train_options import (
    MAX_BATCH,
    MAX_COUNT,
    MAX_SEED,
    MAX_SIDE,
    add_loop_args,
    add_run_args,
    float_in,
    int_at_least,
    run_training,
)

__all__ = ["add_parser", "demo"]

_VARIANTS = ("transposed", "transposed_bilinear", "bilinear", "nearest", "resize_conv",
             "pixel_shuffle", "pixel_shuffle_icnr")

EPILOG = """\
Data (no downloads): 'shapes' (default) = generated disks, squares and triangles on
scikit-image textures, exact masks, reproducible by --data-seed (train and test splits are
disjoint); or a folder with images/ and masks/ (same file stems; masks hold class ids):
DATA/train and DATA/test if both exist, else every fifth image is held out; or any two
folders --images DIR --masks DIR (recursive, matched by relative name; masks single-channel
or palette PNGs, Pascal VOC convention: values are class ids, 255 = ignore; every fifth
pair held out). --num-classes defaults to the data's (max class id + 1). A folder that holds
a run is refused unless --resume or --overwrite; SIGTERM or Ctrl-C stops after the current
step with a checkpoint. Runs unchanged under torchrun (--batch-size is the global batch).
Decoder variants: transposed (random init), transposed_bilinear (FCN: starts as bilinear),
bilinear (fixed), nearest, resize_conv, pixel_shuffle, pixel_shuffle_icnr.

examples:
  tconv segment train --variant transposed_bilinear --steps 200 --out seg
  tconv segment train --variant transposed_bilinear --steps 400 --out seg --resume
  tconv segment eval --checkpoint seg/checkpoint.pt --out seg/predictions.png
  tconv segment compare --steps 200 --variants transposed bilinear --out seg-compare
"""


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--width", type=int_at_least(1, MAX_SIDE), default=16,
                   help="channels at full resolution")
    g.add_argument("--depth", type=int_at_least(1, 12), default=3, help="x2 down-sampling stages")
    g.add_argument("--num-classes", type=int_at_least(2, 255), default=None,
                   help="output classes, >= 2 (default: from the data; shapes: 4)")


def _train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--data", default="shapes", help="'shapes' or a folder (default: shapes)")
    g.add_argument("--images", type=pathlib.Path, default=None, metavar="DIR",
                   help="folder of images (with --masks; replaces --data)")
    g.add_argument("--masks", type=pathlib.Path, default=None, metavar="DIR",
                   help="folder of masks named like the images (255 = ignore)")
    g.add_argument("--size", type=int_at_least(1, MAX_SIDE), default=64,
                   help="image rows = columns (default 64)")
    g.add_argument("--n-train", type=int_at_least(1, MAX_COUNT), default=1000,
                   help="generated training images")
    g.add_argument("--data-seed", type=int_at_least(0, MAX_SEED), default=0)
    g.add_argument("--steps", type=int_at_least(1), default=600, help=">= 1 (default 600)")
    g.add_argument("--batch-size", type=int_at_least(1, MAX_BATCH), default=16,
                   help="global batch, >= 1 (divisible by the number of processes)")
    g.add_argument("--lr", type=float_in(0.0, strict=True), default=2e-3, help="> 0")
    g.add_argument("--seed", type=int_at_least(0, MAX_SEED), default=0)
    add_loop_args(g, checkpoint_every=200)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="FCN segmentation with selectable decoder up-sampling "
                       "(torch + apps extras)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__, epilog=EPILOG)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    acts = p.add_subparsers(dest="action", metavar="ACTION")

    t = acts.add_parser("train", help="train (or --resume) one FCN",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    t.add_argument("--variant", choices=_VARIANTS, default="transposed_bilinear")
    _model_args(t)
    _train_args(t)
    t.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/segment"))
    add_run_args(t)
    t.set_defaults(func=run_train)

    e = acts.add_parser("eval", help="mean IoU on the held-out split and a prediction picture",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    e.add_argument("--checkpoint", type=pathlib.Path, required=True)
    e.add_argument("--n-test", type=int_at_least(1, MAX_COUNT), default=200,
                   help="generated held-out images")
    e.add_argument("--out", type=pathlib.Path, default=None, help="prediction picture (PNG)")
    add_overwrite(e, "--out")
    e.set_defaults(func=run_eval)

    c = acts.add_parser("compare", help="same budget per decoder variant: mean IoU, artifact "
                        "score, prediction pictures",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    c.add_argument("--variants", nargs="+", choices=_VARIANTS,
                   default=["transposed", "transposed_bilinear", "bilinear", "resize_conv",
                            "pixel_shuffle"])
    _model_args(c)
    _train_args(c)
    c.add_argument("--n-test", type=int_at_least(1, MAX_COUNT), default=200,
                   help="generated held-out images")
    c.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/segment-compare"))
    add_run_args(c)
    c.set_defaults(func=run_compare)


def _train_config(args: argparse.Namespace):
    from ..apps.segment import TrainConfig

    return TrainConfig(out_dir=str(args.out), data=args.data, size=args.size,
                       n_train=args.n_train, data_seed=args.data_seed, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       checkpoint_every=args.checkpoint_every,
                       resume=args.resume, overwrite=args.overwrite,
                       progress=False if args.no_progress else None,
                       images=None if args.images is None else str(args.images),
                       masks=None if args.masks is None else str(args.masks),
                       device=args.device, amp=args.amp)


def _num_classes(args: argparse.Namespace, tcfg, data=None) -> int:
    """--num-classes, or the data's class count (4 for the generated shapes)."""
    from ..apps.segment import CLASSES
    from ..apps.segment.train import load_data

    if args.num_classes is not None:
        return int(args.num_classes)
    if tcfg.images is None and tcfg.data == "shapes":
        return len(CLASSES)
    return len((data if data is not None else load_data(tcfg)).classes)


def run_train(args: argparse.Namespace) -> int:
    check_folder_out("--out", args.out)

    def body() -> int:
        import torch

        from ..apps._distributed import env_world
        from ..apps.segment import SegConfig, train
        from ..apps.segment.train import load_data

        torch.set_num_threads(args.threads)
        tcfg = _train_config(args)
        main = env_world()[0] == 0
        data = (None if tcfg.images is None and tcfg.data == "shapes"
                else load_data(tcfg, log=print if main else None))
        mcfg = SegConfig.from_variant(args.variant, width=args.width, depth=args.depth,
                                      num_classes=_num_classes(args, tcfg, data))
        res = train(mcfg, tcfg, data=data, label=args.variant)
        if not main:
            return 0
        if res.history:
            print(f"step {res.history[-1][0]}: loss {res.history[-1][1]:.3f} "
                  f"({res.seconds:.1f} s for {res.steps_run} steps)")
        print(res.checkpoint)
        return 0

    return run_training("segment train", body)


def run_eval(args: argparse.Namespace) -> int:
    check_file_in("--checkpoint", args.checkpoint)
    if args.out is not None:
        check_file_out("--out", args.out, args.overwrite)
    from ..apps.dcgan.infer import save_png
    from ..apps.segment.evaluate import evaluate, prediction_panel
    from ..apps.segment.train import TrainConfig, load_data, load_model

    model, mcfg, state = load_model(args.checkpoint)
    tcfg = TrainConfig(**{k: v for k, v in state["train"].items() if k != "out_dir"})
    data = load_data(tcfg, "test", n=args.n_test)
    ev = evaluate(model, data)
    print(json.dumps({"checkpoint": str(args.checkpoint), "step": state["step"],
                      "method": mcfg.method, "init": mcfg.init, **ev.summary()}, indent=2))
    if args.out is not None:
        label = f"{mcfg.method}/{mcfg.init}"
        print(save_png(prediction_panel(data, {label: ev.predictions}), args.out))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    check_compare_out("segment compare", args.out, args.variants, args.resume,
                      args.overwrite)
    import torch

    from ..apps.segment.evaluate import compare

    torch.set_num_threads(args.threads)
    tcfg = _train_config(args)

    def body() -> int:
        compare(args.variants, {"width": args.width, "depth": args.depth,
                                "num_classes": _num_classes(args, tcfg)},
                tcfg, args.out, n_test=args.n_test)
        print(args.out / "report.md")
        return 0

    return run_training("segment compare", body)


def demo(out_dir: pathlib.Path, log) -> list[pathlib.Path]:
    """Data preview and a 40-step run of two decoders (FCN bilinear-init transposed vs
    random-init transposed) -- a few seconds; the full comparison is `tconv segment compare`."""
    import numpy as np
    import torch

    from ..apps.dcgan.infer import save_png
    from ..apps.segment import SegConfig, TrainConfig, make_shapes, train
    from ..apps.segment.data import colorize
    from ..apps.segment.evaluate import evaluate, prediction_panel

    torch.set_num_threads(1)
    out = out_dir / "segment"
    data = make_shapes(120, size=32, seed=0)
    test = make_shapes(24, size=32, seed=0, split="test")
    preview = np.concatenate([np.concatenate(
        [(data.images[i].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8),
         colorize(data.masks[i])], axis=0) for i in range(8)], axis=1)
    paths = [save_png(preview, out / "data_preview.png", scale=3)]
    log("generated shapes data set: image (top) and exact mask (bottom), classes "
        + ", ".join(data.classes))
    preds = {}
    for v in ("transposed", "transposed_bilinear"):
        cfg = TrainConfig(out_dir=str(out / v), steps=40, batch_size=8, size=32,
                          checkpoint_every=0, progress=False)
        res = train(SegConfig.from_variant(v, width=8, depth=2), cfg, data=data, label=v)
        ev = evaluate(res.model, test)
        preds[v] = ev.predictions
        log(f"{v:>20}: 40 steps, loss {res.history[-1][1]:.3f}, held-out mean IoU "
            f"{ev.mean_iou:.3f}, probability-map artifact score {ev.artifact_score:.4f}")
    paths.append(save_png(prediction_panel(test, preds, n=4), out / "predictions.png"))
    return paths
