"""Train a DCGAN: Adam(lr 2e-4, beta1 0.5), non-saturating loss, one D then one G step.

Every random draw (data crops, ``z``) comes from one ``torch.Generator`` seeded by
``seed`` and stored in the checkpoint, so a run resumed from a checkpoint continues bit
for bit like the uninterrupted run (on the same machine and thread count). Sample grids of
a fixed set of ``z`` are written as PNG during training; checkpoints are written atomically
(``tconv.apps._train.save_checkpoint``).

Under ``torchrun`` (:mod:`tconv.apps._distributed`) ``batch_size`` is the global batch: every
process draws the whole batch's random choices and builds its own share; rank 0 alone
writes. BatchNorm statistics span the global batch (synchronised over the processes).
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .._train import (
    check_float,
    check_int,
    check_loss,
    load_resume,
    optimizer_step,
    progress,
    rng_state,
    run_in_folder,
    save_checkpoint,
    set_rng_state,
    stop_interrupted,
    stop_requested,
)
from .data import ImageSource, load_source
from .infer import sample, save_grid
from .model import DCGANConfig, Discriminator, Generator, init_weights

__all__ = ["TrainConfig", "TrainResult", "train", "build"]


@dataclass
class TrainConfig:
    """How to train (the architecture is :class:`DCGANConfig`).

    Args:
        out_dir: folder for ``checkpoint.pt`` and ``samples/step_XXXXXX.png``.
        data: ``"skimage"``, a folder of images or an IDX file (see :func:`load_source`).
        steps: total number of (D, G) update pairs.
        batch_size: images per step (the global batch under ``torchrun``).
        lr, beta1: Adam settings (the paper's 2e-4 and 0.5).
        seed: seeds the weights, the data draws and ``z``.
        sample_every, checkpoint_every: in steps (0 = only at the end).
        n_samples: images in each sample grid.
        resume: continue from ``out_dir/checkpoint.pt`` if it exists.
        overwrite: start afresh even if ``out_dir`` holds a run.
        progress: show a progress bar (``None``: when stderr is a terminal).
        shrink_to: see :func:`load_source`.
        device, amp: see :mod:`tconv.apps._devices`.
    """

    out_dir: str = "runs/dcgan"
    data: str = "skimage"
    steps: int = 2000
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    sample_every: int = 500
    checkpoint_every: int = 500
    n_samples: int = 64
    resume: bool = False
    progress: bool | None = None
    shrink_to: int = 96
    overwrite: bool = False
    device: str = "auto"
    amp: bool = False

    def __post_init__(self) -> None:
        fn = "dcgan train"
        for name, low, high in (("steps", 1, None), ("batch_size", 1, 65536),
                                ("n_samples", 1, 65536), ("sample_every", 0, None),
                                ("checkpoint_every", 0, None), ("seed", 0, 2**63 - 2),
                                ("shrink_to", 1, 8192)):
            check_int(fn, name, getattr(self, name), low, high)
        check_float(fn, "lr", self.lr, 0.0, strict=True)
        check_float(fn, "beta1", self.beta1, 0.0, maximum=1.0, max_strict=True)


@dataclass
class TrainResult:
    checkpoint: pathlib.Path
    generator: Generator
    discriminator: Discriminator
    history: list[tuple[int, float, float]] = field(default_factory=list)  # step, D, G
    sample_paths: list[pathlib.Path] = field(default_factory=list)
    seconds: float = 0.0
    steps_run: int = 0


def build(model_cfg: DCGANConfig, seed: int) -> tuple[Generator, Discriminator]:
    """Both networks, initialised N(0, 0.02) from ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    g = init_weights(Generator(model_cfg))
    d = init_weights(Discriminator(model_cfg))
    return g, d


def train(model_cfg: DCGANConfig, cfg: TrainConfig,
          source: ImageSource | None = None) -> TrainResult:
    """Train (or resume) a DCGAN; return the networks (on the CPU) and the loss history.

    Raises:
        FileExistsError: ``out_dir`` holds a run and neither ``resume`` nor ``overwrite``.
        ValueError: ``resume`` with a checkpoint of a different architecture or seed, a
            non-finite loss (the last good checkpoint is kept), or an unusable device.
        TrainingInterrupted: a stop was requested (see :func:`tconv.apps._train.interruptible`);
            the checkpoint of the last step is written.
    """
    return run_in_folder("dcgan train", cfg.out_dir, resume=cfg.resume,
                         overwrite=cfg.overwrite, batch=cfg.batch_size, device=cfg.device,
                         amp=cfg.amp, batch_option="--batch-size",
                         body=lambda dist, out: _train(model_cfg, cfg, source, dist, out))


def _train(model_cfg: DCGANConfig, cfg: TrainConfig, source: ImageSource | None, dist,
           out: pathlib.Path) -> TrainResult:
    from .._devices import autocast, make_scaler, place, use_channels_last

    fn = "dcgan train"
    dev = dist.device
    ckpt = out / "checkpoint.pt"
    if source is None:
        source = load_source(cfg.data, model_cfg.image_size, model_cfg.channels,
                             cfg.shrink_to, log=print if dist.main else None)
    g, d = build(model_cfg, cfg.seed)                   # on the CPU: same weights anywhere
    cl = use_channels_last(dev, cfg.amp)
    g, d = place(g, dev, cl), place(d, dev, cl)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    scaler = make_scaler(dev, cfg.amp)
    gen = torch.Generator().manual_seed(cfg.seed)
    fixed_z = torch.randn(cfg.n_samples, model_cfg.latent_dim,
                          generator=torch.Generator().manual_seed(cfg.seed + 1)).to(dev)
    start, history = 0, []
    if cfg.resume and ckpt.exists():
        state = load_resume(ckpt, fn, config=model_cfg.to_dict(), seed=cfg.seed)
        g.load_state_dict(state["generator"])
        d.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"], generator=gen)
        start = int(state["step"])
        history = [tuple(h) for h in state["history"]]
    elif cfg.overwrite and dist.main:
        ckpt.unlink(missing_ok=True)        # a fresh run: never resume the replaced one
    dist.barrier()
    g_net, d_net = dist.wrap(g), dist.wrap(d)

    def save(step: int) -> None:
        if not dist.main:
            return
        st = {"config": model_cfg.to_dict(), "train": asdict(cfg), "seed": cfg.seed,
              "generator": g.state_dict(), "discriminator": d.state_dict(),
              "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
              "rng": rng_state(generator=gen), "history": [list(h) for h in history]}
        if scaler is not None:
            st["scaler"] = scaler.state_dict()
        save_checkpoint(ckpt, st)

    bce = nn.BCEWithLogitsLoss()
    part = dist.part(cfg.batch_size)
    n = part.stop - part.start
    ones = torch.ones(n, device=dev)
    zeros = torch.zeros(n, device=dev)
    sample_paths: list[pathlib.Path] = []
    g.train()
    d.train()
    t0 = time.perf_counter()
    bar = progress(range(start, cfg.steps), desc=f"dcgan[{model_cfg.method}]",
                   total=cfg.steps, initial=start,
                   disable=True if not dist.main else
                   (None if cfg.progress is None else not cfg.progress))
    for step in bar:
        real = source.sample(cfg.batch_size, gen, part).to(dev)
        z = torch.randn(cfg.batch_size, model_cfg.latent_dim, generator=gen)[part].to(dev)
        if cl:
            real = real.contiguous(memory_format=torch.channels_last)
        with autocast(dev, cfg.amp):
            fake = g_net(z)
        # discriminator: real -> 1, fake -> 0
        opt_d.zero_grad(set_to_none=True)
        with autocast(dev, cfg.amp):
            loss_d = bce(d_net(real).float(), ones) + bce(d_net(fake.detach()).float(), zeros)
        optimizer_step(loss_d, opt_d, scaler, update=False)
        # generator: non-saturating loss, make D call the fakes real
        opt_g.zero_grad(set_to_none=True)
        with autocast(dev, cfg.amp):
            loss_g = bce(d_net(fake).float(), ones)
        optimizer_step(loss_g, opt_g, scaler, update=False)
        if scaler is not None:
            scaler.update()
        done = step + 1
        signum = stop_requested()
        (ld, lg), (interrupted,) = dist.sync((loss_d.item(), loss_g.item()),
                                             (signum is not None,))
        check_loss(ld + lg, done, fn, ckpt)
        history.append((done, ld, lg))
        if interrupted:
            stop_interrupted(fn, done, ckpt, dist, bar, save, signum)
        if hasattr(bar, "set_postfix") and done % 10 == 0:
            bar.set_postfix(D=f"{ld:.3f}", G=f"{lg:.3f}")
        if dist.main and (done == cfg.steps or (cfg.sample_every
                                                and done % cfg.sample_every == 0)):
            path = out / "samples" / f"step_{done:06d}.png"
            sample_paths.append(save_grid(sample(g, 0, z=fixed_z), path))
        if done == cfg.steps or (cfg.checkpoint_every and done % cfg.checkpoint_every == 0):
            save(done)
    if start >= cfg.steps and not ckpt.exists():
        save(start)
    dist.barrier()
    return TrainResult(ckpt, g.cpu(), d.cpu(), history, sample_paths,
                       time.perf_counter() - t0, max(0, cfg.steps - start))
