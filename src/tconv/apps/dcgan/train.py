"""Train a DCGAN: Adam(lr 2e-4, beta1 0.5), non-saturating loss, one D then one G step.

Every random draw (data crops, ``z``) comes from one ``torch.Generator`` seeded by
``seed`` and stored in the checkpoint, so a run resumed from a checkpoint continues bit
for bit like the uninterrupted run (on the same machine and thread count). Sample grids of
a fixed set of ``z`` are written as PNG during training; checkpoints are written atomically
(``tconv.apps._train.save_checkpoint``).
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .._train import (
    load_resume,
    progress,
    rng_state,
    save_checkpoint,
    set_rng_state,
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
        batch_size: images per step.
        lr, beta1: Adam settings (the paper's 2e-4 and 0.5).
        seed: seeds the weights, the data draws and ``z``.
        sample_every, checkpoint_every: in steps (0 = only at the end).
        n_samples: images in each sample grid.
        resume: continue from ``out_dir/checkpoint.pt`` if it exists.
        progress: show a progress bar (``None``: when stderr is a terminal).
        shrink_to: see :func:`load_source`.
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

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "n_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig: {name}={getattr(self, name)} must be >= 1")
        for name in ("sample_every", "checkpoint_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"TrainConfig: {name}={getattr(self, name)} must be >= 0")


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
    """Train (or resume) a DCGAN; return the networks and the loss history.

    Raises:
        ValueError: ``resume`` with a checkpoint of a different architecture or seed.
    """
    out = pathlib.Path(cfg.out_dir)
    ckpt = out / "checkpoint.pt"
    if source is None:
        source = load_source(cfg.data, model_cfg.image_size, model_cfg.channels,
                             cfg.shrink_to)
    g, d = build(model_cfg, cfg.seed)
    opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    gen = torch.Generator().manual_seed(cfg.seed)
    fixed_z = torch.randn(cfg.n_samples, model_cfg.latent_dim,
                          generator=torch.Generator().manual_seed(cfg.seed + 1))
    start, history = 0, []
    if cfg.resume and ckpt.exists():
        state = load_resume(ckpt, "dcgan train", config=model_cfg.to_dict(), seed=cfg.seed)
        g.load_state_dict(state["generator"])
        d.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        set_rng_state(state["rng"], generator=gen)
        start = int(state["step"])
        history = [tuple(h) for h in state["history"]]

    def save(step: int) -> None:
        save_checkpoint(ckpt, {
            "config": model_cfg.to_dict(), "train": asdict(cfg), "seed": cfg.seed,
            "generator": g.state_dict(), "discriminator": d.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
            "rng": rng_state(generator=gen), "history": [list(h) for h in history]})

    bce = nn.BCEWithLogitsLoss()
    ones = torch.ones(cfg.batch_size)
    zeros = torch.zeros(cfg.batch_size)
    sample_paths: list[pathlib.Path] = []
    g.train()
    d.train()
    t0 = time.perf_counter()
    bar = progress(range(start, cfg.steps), desc=f"dcgan[{model_cfg.method}]",
                   total=cfg.steps, initial=start, disable=None if cfg.progress is None
                   else not cfg.progress)
    for step in bar:
        real = source.sample(cfg.batch_size, gen)
        z = torch.randn(cfg.batch_size, model_cfg.latent_dim, generator=gen)
        fake = g(z)
        # discriminator: real -> 1, fake -> 0
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(d(real), ones) + bce(d(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        # generator: non-saturating loss, make D call the fakes real
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(d(fake), ones)
        loss_g.backward()
        opt_g.step()
        done = step + 1
        history.append((done, loss_d.item(), loss_g.item()))
        if hasattr(bar, "set_postfix") and done % 10 == 0:
            bar.set_postfix(D=f"{loss_d.item():.3f}", G=f"{loss_g.item():.3f}")
        if done == cfg.steps or (cfg.sample_every and done % cfg.sample_every == 0):
            path = out / "samples" / f"step_{done:06d}.png"
            sample_paths.append(save_grid(sample(g, 0, z=fixed_z), path))
        if done == cfg.steps or (cfg.checkpoint_every and done % cfg.checkpoint_every == 0):
            save(done)
    if start >= cfg.steps and not ckpt.exists():
        save(start)
    return TrainResult(ckpt, g, d, history, sample_paths, time.perf_counter() - t0,
                       max(0, cfg.steps - start))
