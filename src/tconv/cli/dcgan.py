"""``tconv dcgan train|sample|compare``: a DCGAN whose generator up-sampling is selectable.

Trains a small DCGAN (Radford et al. 2016) whose x2 up-sampling steps are transposed
convolutions, resize-convolutions or pixel shuffles, samples from a checkpoint, and compares
the methods at an equal budget (checkerboard artifact score of the samples). Needs the torch
and apps extras: pip install 'tconv[torch,apps]'.
"""

from __future__ import annotations

import argparse
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
    MAX_SEED,
    MAX_SIDE,
    add_loop_args,
    add_run_args,
    every_help,
    float_in,
    int_at_least,
    run_training,
)

__all__ = ["add_parser", "demo"]

_METHODS = ("transposed", "resize_conv", "pixel_shuffle")
_VARIANTS = _METHODS + ("transposed_icnr", "pixel_shuffle_icnr")

EPILOG = """\
Data (no downloads): 'skimage' (default) = random crops of the textures and photos that
scikit-image ships; or a folder of images (recursive; PNG/JPEG/TIFF/WebP, 8/16-bit, gray/
RGB/RGBA; unreadable files are reported and skipped); or an MNIST/Fashion-MNIST IDX file you
already have (gzip or not). Deterministic under --seed for a given --threads; --resume
continues OUT/checkpoint.pt exactly where it stopped. A folder that holds a run is refused
unless --resume or --overwrite. SIGTERM or Ctrl-C stops after the current step with a
checkpoint. Runs unchanged under torchrun (--batch-size is the global batch).

examples:
  tconv dcgan train --steps 300 --out dcgan
  tconv dcgan train --steps 600 --out dcgan --resume      # continues to step 600
  tconv dcgan train --method resize_conv --data . --steps 300 --out dcgan-photos
  tconv dcgan sample --checkpoint dcgan/checkpoint.pt --n 64 --out samples.png
  tconv dcgan compare --steps 300 --out dcgan-compare
  tconv dcgan compare --steps 300 --variants pixel_shuffle pixel_shuffle_icnr --out ps
"""


def _model_args(p: argparse.ArgumentParser, *, method: bool = True, init: bool = True,
                ) -> None:
    g = p.add_argument_group("model")
    if method:
        g.add_argument("--method", choices=_METHODS, default="transposed",
                       help="generator up-sampling (default: transposed, as in the paper)")
    if init:
        g.add_argument("--init", choices=("default", "icnr"), default="default",
                       help="'icnr': N(0, 0.02) base kernel copied to every phase "
                            "(pixel_shuffle, transposed); default: the paper's N(0, 0.02)")
    g.add_argument("--image-size", type=int_at_least(8, 1024), default=32,
                   help="power of two >= 8 (default 32)")
    g.add_argument("--channels", type=int, choices=(1, 3), default=1)
    g.add_argument("--latent-dim", type=int_at_least(1, MAX_SIDE), default=64)
    g.add_argument("--g-features", type=int_at_least(1, MAX_SIDE), default=32)
    g.add_argument("--d-features", type=int_at_least(1, MAX_SIDE), default=32)


def _train_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--data", default="skimage",
                   help="'skimage', a folder of images, or an IDX file (default: skimage)")
    g.add_argument("--steps", type=int_at_least(1), default=2000,
                   help="D+G update pairs, >= 1 (default 2000)")
    g.add_argument("--batch-size", type=int_at_least(1, MAX_BATCH), default=64,
                   help="global batch, >= 1 (divisible by the number of processes)")
    g.add_argument("--lr", type=float_in(0.0, strict=True), default=2e-4, help="> 0")
    g.add_argument("--beta1", type=float_in(0.0, maximum=1.0, max_strict=True), default=0.5,
                   help="Adam's beta1, in [0, 1) (default 0.5)")
    g.add_argument("--seed", type=int_at_least(0, MAX_SEED), default=0)
    g.add_argument("--sample-every", type=int_at_least(0), default=500,
                   help=every_help("PNG grid", 500))
    add_loop_args(g, checkpoint_every=500)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dcgan", help="DCGAN with selectable up-sampling (torch + apps extras)",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=__doc__, epilog=EPILOG)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    acts = p.add_subparsers(dest="action", metavar="ACTION")

    t = acts.add_parser("train", help="train (or --resume) one DCGAN",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    _model_args(t)
    _train_args(t)
    t.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/dcgan"),
                   help="folder for checkpoint.pt and samples/ (default runs/dcgan)")
    add_run_args(t)
    t.set_defaults(func=run_train)

    s = acts.add_parser("sample", help="write a grid of samples from a checkpoint",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    s.add_argument("--checkpoint", type=pathlib.Path, required=True)
    s.add_argument("--n", type=int_at_least(1, MAX_BATCH), default=64,
                   help="number of samples, >= 1 (default 64)")
    s.add_argument("--seed", type=int_at_least(0, MAX_SEED), default=0, help="seed of z")
    s.add_argument("--out", type=pathlib.Path, default=pathlib.Path("samples.png"))
    add_overwrite(s, "--out")
    s.set_defaults(func=run_sample)

    c = acts.add_parser("compare", help="same budget per up-sampling method: artifact "
                        "scores, patch SWD, sample grids",
                        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EPILOG)
    c.add_argument("--variants", nargs="+", choices=_VARIANTS, default=list(_METHODS),
                   help="up-sampling variants (method, or method_icnr for ICNR init on the "
                        "N(0, 0.02) base); default: the three methods")
    _model_args(c, method=False, init=False)
    _train_args(c)
    c.add_argument("--n-eval", type=int_at_least(1, MAX_BATCH), default=256,
                   help="samples scored per method")
    c.add_argument("--out", type=pathlib.Path, default=pathlib.Path("runs/dcgan-compare"))
    add_run_args(c)
    c.set_defaults(func=run_compare)


def _configs(args: argparse.Namespace, method: str = "transposed"):
    from ..apps.dcgan import DCGANConfig, TrainConfig

    mcfg = DCGANConfig(latent_dim=args.latent_dim, channels=args.channels,
                       image_size=args.image_size, g_features=args.g_features,
                       d_features=args.d_features, method=getattr(args, "method", method),
                       init=getattr(args, "init", "default"))
    tcfg = TrainConfig(out_dir=str(args.out), data=args.data, steps=args.steps,
                       batch_size=args.batch_size, lr=args.lr, beta1=args.beta1,
                       seed=args.seed, sample_every=args.sample_every,
                       checkpoint_every=args.checkpoint_every,
                       resume=args.resume, overwrite=args.overwrite,
                       progress=False if args.no_progress else None,
                       device=args.device, amp=args.amp)
    return mcfg, tcfg


def run_train(args: argparse.Namespace) -> int:
    check_folder_out("--out", args.out)

    def body() -> int:
        import torch

        from ..apps._distributed import env_world
        from ..apps.dcgan import train

        torch.set_num_threads(args.threads)
        mcfg, tcfg = _configs(args)
        res = train(mcfg, tcfg)
        if env_world()[0] != 0:
            return 0
        if res.history:
            step, d, g = res.history[-1]
            print(f"step {step}: D loss {d:.3f}, G loss {g:.3f} ({res.seconds:.1f} s for "
                  f"{res.steps_run} steps)")
        for path in res.sample_paths[-1:]:
            print(path)
        print(res.checkpoint)
        return 0

    return run_training("dcgan train", body)


def run_sample(args: argparse.Namespace) -> int:
    check_file_in("--checkpoint", args.checkpoint)
    check_file_out("--out", args.out, args.overwrite)
    from ..apps.dcgan.infer import load_generator, sample, save_grid

    g, _ = load_generator(args.checkpoint)
    print(save_grid(sample(g, args.n, seed=args.seed), args.out))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    check_compare_out("dcgan compare", args.out, args.variants, args.resume, args.overwrite)
    import torch

    from ..apps.dcgan.compare import compare

    torch.set_num_threads(args.threads)
    mcfg, tcfg = _configs(args)

    def body() -> int:
        compare(args.variants, mcfg, tcfg, args.out, n_eval=args.n_eval)
        print(args.out / "report.md")
        return 0

    return run_training("dcgan compare", body)


def demo(out_dir: pathlib.Path, log) -> list[pathlib.Path]:
    """Training-data preview, untrained generators per method (checkerboard at init, each
    sample contrast-stretched), and a
    30-step run -- a few seconds, no long training."""
    import torch

    from ..apps.dcgan import DCGANConfig, TrainConfig, load_source, train
    from ..apps.dcgan.compare import artifact_scores
    from ..apps.dcgan.infer import sample, save_grid
    from ..apps.dcgan.train import build

    torch.set_num_threads(1)
    out = out_dir / "dcgan"
    paths = []
    source = load_source("skimage", 32, 1)
    real = source.preview(32, seed=0)
    paths.append(save_grid(real, out / "data_preview.png"))
    log(f"training data: {len(source.images)} scikit-image pictures, random 32x32 crops; "
        f"artifact score (s=2) of real crops {artifact_scores(real, (2,))[2][0]:.4f}")
    z = torch.randn(32, 64, generator=torch.Generator().manual_seed(0))
    for m in _METHODS:
        g, _ = build(DCGANConfig(method=m), seed=0)
        fake = sample(g, 0, z=z)
        paths.append(save_grid(fake, out / f"untrained_{m}.png", normalize=True))
        log(f"untrained generator, {m:>13}: artifact score (s=2) "
            f"{artifact_scores(fake, (2,))[2][0]:.4f}")
    res = train(DCGANConfig(), TrainConfig(out_dir=str(out / "run"), steps=30, batch_size=16,
                                           sample_every=30, checkpoint_every=30,
                                           n_samples=32, progress=False), source=source)
    log(f"30 steps (transposed, batch 16): D loss {res.history[-1][1]:.3f}, G loss "
        f"{res.history[-1][2]:.3f} in {res.seconds:.1f} s; full runs: tconv dcgan compare")
    paths += res.sample_paths
    return paths
