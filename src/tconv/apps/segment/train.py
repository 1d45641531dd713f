"""Train the FCN on generated shapes (or a user folder): Adam + per-pixel cross-entropy.

Batches are drawn with one ``torch.Generator`` seeded by ``seed`` (random images, random
horizontal/vertical flips) and stored in each checkpoint, so ``resume`` continues bit for
bit like the uninterrupted run (same machine and thread count). Mask pixels of value 255
(:data:`.data.IGNORE`) count in no loss and no score. Under ``torchrun``, ``batch_size`` is
the global batch (see :mod:`tconv.apps._distributed`); rank 0 alone writes.
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .._train import (
    check_float,
    check_int,
    check_loss,
    load_checkpoint,
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
from .data import IGNORE, SegData, load_folder, load_pairs, make_shapes
from .model import FCN, SegConfig

__all__ = ["TrainConfig", "TrainResult", "train", "load_data", "sample_batch", "load_model"]


@dataclass
class TrainConfig:
    """How to train (the architecture is :class:`SegConfig`).

    Args:
        out_dir: folder for ``checkpoint.pt``.
        data: ``"shapes"`` (generated) or a folder with ``images/`` and ``masks/``.
        size: image rows = columns (generated data; resize target for a folder).
        n_train: generated training images.
        data_seed: seed of the generated data set (the test split uses the same seed).
        steps, batch_size, lr: optimisation budget (``batch_size``: the global batch).
        seed: weights and batch order.
        checkpoint_every: in steps (0 = only at the end).
        resume: continue from ``out_dir/checkpoint.pt`` if it exists.
        progress: progress bar (``None``: when stderr is a terminal).
        images, masks: two folders of images and masks (:func:`.data.load_pairs`), used
            instead of ``data`` when given; every fifth pair is held out as the test split.
        overwrite: start afresh even if ``out_dir`` holds a run.
        device, amp: see :mod:`tconv.apps._devices`.
    """

    out_dir: str = "runs/segment"
    data: str = "shapes"
    size: int = 64
    n_train: int = 1000
    data_seed: int = 0
    steps: int = 600
    batch_size: int = 16
    lr: float = 2e-3
    seed: int = 0
    checkpoint_every: int = 200
    resume: bool = False
    progress: bool | None = None
    images: str | None = None
    masks: str | None = None
    overwrite: bool = False
    device: str = "auto"
    amp: bool = False

    def __post_init__(self) -> None:
        fn = "segment train"
        for name, low, high in (("steps", 1, None), ("batch_size", 1, 65536),
                                ("n_train", 1, 10_000_000), ("size", 1, 8192),
                                ("checkpoint_every", 0, None), ("seed", 0, 2**63 - 2),
                                ("data_seed", 0, 2**63 - 2)):
            check_int(fn, name, getattr(self, name), low, high)
        check_float(fn, "lr", self.lr, 0.0, strict=True)
        if (self.images is None) != (self.masks is None):
            raise ValueError(f"{fn}: images={self.images!r} and masks={self.masks!r} must be "
                             "given together (--images DIR --masks DIR)")


@dataclass
class TrainResult:
    checkpoint: pathlib.Path
    model: FCN
    history: list[tuple[int, float]] = field(default_factory=list)     # step, loss
    seconds: float = 0.0
    steps_run: int = 0


def load_data(cfg: TrainConfig, split: str = "train", n: int | None = None,
              log=None) -> SegData:
    """The ``"train"`` or ``"test"`` split that ``cfg`` names.

    Generated shapes: ``n`` images (default ``n_train``) of that split. A folder: its
    ``train/`` and ``test/`` sub-folders when both exist; otherwise every fifth image
    (sorted by name, index 4, 9, ...) is held out as the test split.
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_data: split={split!r} must be 'train' or 'test'")
    if cfg.images is not None:
        data = load_pairs(cfg.images, cfg.masks or "", cfg.size, log=log)
        return _every_fifth(data, split, cfg.images)
    if cfg.data == "shapes":
        return make_shapes(cfg.n_train if n is None else n, cfg.size, seed=cfg.data_seed,
                           split=split)
    root = pathlib.Path(cfg.data)
    if (root / "train").is_dir() and (root / "test").is_dir():
        return load_folder(root / split, cfg.size)
    return _every_fifth(load_folder(root, cfg.size), split, str(root))


def _every_fifth(data: SegData, split: str, where: str) -> SegData:
    held_out = np.arange(len(data)) % 5 == 4
    keep = held_out if split == "test" else ~held_out
    if not keep.any():
        raise ValueError(f"load_data: {where!r} has {len(data)} images, too few to hold "
                         "out every fifth as a test split (5 or more are needed)")
    return SegData(data.images[keep], data.masks[keep], data.classes)


def sample_batch(data: SegData, n: int, generator: torch.Generator,
                 part: slice | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random (image, mask) pairs with random flips, drawn with ``generator``.

    With ``part``, only those pairs of the ``n`` are returned (one process's share of a
    global batch); ``generator`` advances exactly as for all ``n``.
    """
    idx = torch.randint(len(data), (n,), generator=generator)
    flips = torch.rand(n, 2, generator=generator) < 0.5
    if part is not None:
        idx, flips = idx[part], flips[part]
        n = len(idx)
    x = torch.from_numpy(data.images[idx.numpy()])
    y = torch.from_numpy(data.masks[idx.numpy()])
    for i in range(n):                  # flip rows / columns per image (labels follow)
        dims = [d for d, f in zip((-2, -1), flips[i].tolist(), strict=True) if f]
        if dims:
            x[i], y[i] = x[i].flip(dims), y[i].flip(dims)
    return x, y


def load_model(path: str | pathlib.Path) -> tuple[FCN, SegConfig, dict]:
    """Model (eval mode), config and the raw checkpoint ``dict``."""
    state = load_checkpoint(path)
    if "model" not in state or "config" not in state:
        raise ValueError(f"load_model: {str(path)!r} is not a segmentation checkpoint (keys "
                         f"{sorted(state)}; expected 'model' and 'config')")
    cfg = SegConfig(**state["config"])
    model = FCN(cfg)
    model.load_state_dict(state["model"])
    return model.eval(), cfg, state


def train(model_cfg: SegConfig, cfg: TrainConfig, data: SegData | None = None,
          label: str | None = None) -> TrainResult:
    """Train (or resume) the FCN; return it (on the CPU) with its loss history.

    Raises:
        FileExistsError: ``out_dir`` holds a run and neither ``resume`` nor ``overwrite``.
        ValueError: ``num_classes`` smaller than the data's, ``resume`` with a checkpoint
            of another architecture or seed, a non-finite loss, or an unusable device.
        TrainingInterrupted: a stop was requested (see :func:`tconv.apps._train.interruptible`);
            the checkpoint of the last step is written.
    """
    return run_in_folder("segment train", cfg.out_dir, resume=cfg.resume,
                         overwrite=cfg.overwrite, batch=cfg.batch_size, device=cfg.device,
                         amp=cfg.amp, batch_option="--batch-size",
                         body=lambda dist, out: _train(model_cfg, cfg, data, label, dist, out))


def _train(model_cfg: SegConfig, cfg: TrainConfig, data: SegData | None, label: str | None,
           dist, out: pathlib.Path) -> TrainResult:
    from .._devices import autocast, make_scaler, place, use_channels_last

    fn = "segment train"
    dev = dist.device
    ckpt = out / "checkpoint.pt"
    if data is None:
        data = load_data(cfg, log=print if dist.main else None)
    labels = data.masks[data.masks != IGNORE]
    if labels.size and int(labels.max()) >= model_cfg.num_classes:
        raise ValueError(f"{fn}: the masks hold class {int(labels.max())} but "
                         f"num_classes={model_cfg.num_classes}")
    torch.manual_seed(cfg.seed)
    model = FCN(model_cfg)                       # on the CPU: same weights anywhere
    cl = use_channels_last(dev, cfg.amp)
    model = place(model, dev, cl)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scaler = make_scaler(dev, cfg.amp)
    gen = torch.Generator().manual_seed(cfg.seed)
    start, history = 0, []
    if cfg.resume and ckpt.exists():
        state = load_resume(ckpt, fn, config=model_cfg.to_dict(), seed=cfg.seed)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"], generator=gen)
        start = int(state["step"])
        history = [tuple(h) for h in state["history"]]
    elif cfg.overwrite and dist.main:
        ckpt.unlink(missing_ok=True)        # a fresh run: never resume the replaced one
    dist.barrier()
    net = dist.wrap(model)

    def save(step: int) -> None:
        if not dist.main:
            return
        st = {"config": model_cfg.to_dict(), "train": asdict(cfg), "seed": cfg.seed,
              "classes": list(data.classes), "model": model.state_dict(),
              "optimizer": opt.state_dict(), "step": step, "rng": rng_state(generator=gen),
              "history": [list(h) for h in history]}
        if scaler is not None:
            st["scaler"] = scaler.state_dict()
        save_checkpoint(ckpt, st)

    part = dist.part(cfg.batch_size)
    model.train()
    t0 = time.perf_counter()
    bar = progress(range(start, cfg.steps), desc=f"segment[{label or model_cfg.method}]",
                   total=cfg.steps, initial=start,
                   disable=True if not dist.main else
                   (None if cfg.progress is None else not cfg.progress))
    for step in bar:
        x, y = sample_batch(data, cfg.batch_size, gen, part)
        x, y = x.to(dev), y.to(dev)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev, cfg.amp):
            logits = net(x).float()
        # mean over the scored pixels (255 = ignore; a batch of ignored pixels gives 0)
        loss = (F.cross_entropy(logits, y, ignore_index=IGNORE, reduction="sum")
                / (y != IGNORE).sum().clamp_min(1))
        opt.zero_grad(set_to_none=True)
        optimizer_step(loss, opt, scaler)
        done = step + 1
        signum = stop_requested()
        loss_v, (interrupted,) = dist.step_sync(loss.item(), signum is not None)
        check_loss(loss_v, done, fn, ckpt)
        history.append((done, loss_v))
        if interrupted:
            stop_interrupted(fn, done, ckpt, dist, bar, save, signum)
        if hasattr(bar, "set_postfix") and done % 10 == 0:
            bar.set_postfix(loss=f"{loss_v:.3f}")
        if done == cfg.steps or (cfg.checkpoint_every and done % cfg.checkpoint_every == 0):
            save(done)
    if start >= cfg.steps and not ckpt.exists():
        save(start)
    dist.barrier()
    return TrainResult(ckpt, model.cpu().eval(), history, time.perf_counter() - t0,
                       max(0, cfg.steps - start))
