"""``tconv segment train|eval|compare``: an FCN whose decoder up-sampling is selectable.

Thin: arguments become :class:`tconv.apps.segment.SegConfig` and ``TrainConfig`` and go to
the library. torch, Pillow and scikit-image are imported inside the functions.
"""

from __future__ import annotations

import argparse
import json
import pathlib

__all__ = ["add_parser", "demo"]

_VARIANTS = ("transposed", "transposed_bilinear", "bilinear", "nearest", "resize_conv",
             "pixel_shuffle", "pixel_shuffle_icnr")

EPILOG = """\
Data (no downloads): 'shapes' (default) = generated disks, squares and triangles on
scikit-image textures, exact masks, reproducible by --data-seed (train and test splits are
disjoint); or a folder with images/ and masks/ (same file stems; masks hold class ids):
DATA/train and DATA/test if both exist, else every fifth image is held out.
Decoder variants: transposed (random init), transposed_bilinear (FCN: starts as bilinear),
bilinear (fixed), nearest, resize_conv, pixel_shuffle, pixel_shuffle_icnr.

examples:
  tconv segment train --variant transposed_bilinear --steps 200 --out /tmp/seg
  tconv segment train --variant transposed_bilinear --steps 400 --out /tmp/seg --resume
  tconv segment eval --checkpoint /tmp/seg/checkpoint.pt --out /tmp/seg/predictions.png
  tconv segment compare --steps 200 --variants transposed bilinear --out /tmp/seg-compare
"""


def _model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument("--width", type=int, default=16, help="channels at full resolution")
    g.add_argument("--depth", type=int, default=3, help="x2 down-sampling stages")
    g.add_argument("--num-classes", type=int, default=4)


def _train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--data", default="shapes", help="'shapes' or a folder (default: shapes)")
    g.add_argument("--size", type=int, default=64, help="image rows = columns (default 64)")
    g.add_argument("--n-train", type=int, default=1000, help="generated training images")
    g.add_argument("--data-seed", type=int, default=0)
    g.add_argument("--steps", type=int, default=600)
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--lr", type=float, default=2e-3)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--checkpoint-every", type=int, default=200)
    g.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")


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
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    t.set_defaults(func=run_train)

    e = acts.add_parser("eval", help="mean IoU on the held-out split and a prediction picture",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    e.add_argument("--checkpoint", type=pathlib.Path, required=True)
    e.add_argument("--n-test", type=int, default=200, help="generated held-out images")
    e.add_argument("--out", type=pathlib.Path, default=None, help="prediction picture (PNG)")
    e.set_defaults(func=run_eval)

    c = acts.add_parser("compare", help="same budget per decoder variant: mean IoU, artifact "
                        "score, prediction pictures",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    c.add_argument("--variants", nargs="+", choices=_VARIANTS,
                   default=["transposed", "transposed_bilinear", "bilinear", "resize_conv",
                            "pixel_shuffle"])
    _model_args(c)
    _train_args(c)
    c.add_argument("--n-test", type=int, default=200, help="generated held-out images")
    c.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/segment-compare"))
    c.set_defaults(func=run_compare)


def _train_config(args: argparse.Namespace):
    from ..apps.segment import TrainConfig

    return TrainConfig(out_dir=str(args.out), data=args.data, size=args.size,
                       n_train=args.n_train, data_seed=args.data_seed, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                       checkpoint_every=args.checkpoint_every,
                       resume=getattr(args, "resume", False),
                       progress=False if args.no_progress else None)


def run_train(args: argparse.Namespace) -> int:
    import torch

    from ..apps.segment import SegConfig, train

    torch.set_num_threads(args.threads)
    mcfg = SegConfig.from_variant(args.variant, width=args.width, depth=args.depth,
                                  num_classes=args.num_classes)
    res = train(mcfg, _train_config(args), label=args.variant)
    if res.history:
        print(f"step {res.history[-1][0]}: loss {res.history[-1][1]:.3f} "
              f"({res.seconds:.1f} s for {res.steps_run} steps)")
    print(res.checkpoint)
    return 0


def run_eval(args: argparse.Namespace) -> int:
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
    import torch

    from ..apps.segment.evaluate import compare

    torch.set_num_threads(args.threads)
    compare(args.variants, {"width": args.width, "depth": args.depth,
                            "num_classes": args.num_classes},
            _train_config(args), args.out, n_test=args.n_test)
    print(args.out / "report.md")
    return 0


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
