"""Train the FCN on generated shapes (or a user folder): Adam + per-pixel cross-entropy.

Batches are drawn with one ``torch.Generator`` seeded by ``seed`` (random images, random
horizontal/vertical flips) and stored in each checkpoint, so ``resume`` continues bit for
bit like the uninterrupted run (same machine and thread count).
"""

from __future__ import annotations

import pathlib
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .._train import (
    load_checkpoint,
    load_resume,
    progress,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .data import SegData, load_folder, make_shapes
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
        steps, batch_size, lr: optimisation budget.
        seed: weights and batch order.
        checkpoint_every: in steps (0 = only at the end).
        resume: continue from ``out_dir/checkpoint.pt`` if it exists.
        progress: progress bar (``None``: when stderr is a terminal).
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

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "n_train", "size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig: {name}={getattr(self, name)} must be >= 1")
        if self.lr <= 0:
            raise ValueError(f"TrainConfig: lr={self.lr} must be > 0")


@dataclass
class TrainResult:
    checkpoint: pathlib.Path
    model: FCN
    history: list[tuple[int, float]] = field(default_factory=list)     # step, loss
    seconds: float = 0.0
    steps_run: int = 0


def load_data(cfg: TrainConfig, split: str = "train", n: int | None = None) -> SegData:
    """The ``"train"`` or ``"test"`` split that ``cfg`` names.

    Generated shapes: ``n`` images (default ``n_train``) of that split. A folder: its
    ``train/`` and ``test/`` sub-folders when both exist; otherwise every fifth image
    (sorted by name, index 4, 9, ...) is held out as the test split.
    """
    if split not in ("train", "test"):
        raise ValueError(f"load_data: split={split!r} must be 'train' or 'test'")
    if cfg.data == "shapes":
        return make_shapes(cfg.n_train if n is None else n, cfg.size, seed=cfg.data_seed,
                           split=split)
    root = pathlib.Path(cfg.data)
    if (root / "train").is_dir() and (root / "test").is_dir():
        return load_folder(root / split, cfg.size)
    data = load_folder(root, cfg.size)
    held_out = np.arange(len(data)) % 5 == 4
    keep = held_out if split == "test" else ~held_out
    if not keep.any():
        raise ValueError(f"load_data: {str(root)!r} has {len(data)} images, too few to hold "
                         "out every fifth as a test split; add train/ and test/ folders")
    return SegData(data.images[keep], data.masks[keep], data.classes)


def sample_batch(data: SegData, n: int, generator: torch.Generator,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random (image, mask) pairs with random flips, drawn with ``generator``."""
    idx = torch.randint(len(data), (n,), generator=generator)
    x = torch.from_numpy(data.images[idx.numpy()])
    y = torch.from_numpy(data.masks[idx.numpy()])
    flips = torch.rand(n, 2, generator=generator) < 0.5
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
    """Train (or resume) the FCN; return it with its loss history.

    Raises:
        ValueError: ``num_classes`` smaller than the data's, or ``resume`` with a checkpoint
            of another architecture or seed.
    """
    out = pathlib.Path(cfg.out_dir)
    ckpt = out / "checkpoint.pt"
    if data is None:
        data = load_data(cfg)
    if int(data.masks.max()) >= model_cfg.num_classes:
        raise ValueError(f"segment train: the masks hold class {int(data.masks.max())} but "
                         f"num_classes={model_cfg.num_classes}")
    torch.manual_seed(cfg.seed)
    model = FCN(model_cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    start, history = 0, []
    if cfg.resume and ckpt.exists():
        state = load_resume(ckpt, "segment train", config=model_cfg.to_dict(), seed=cfg.seed)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"], generator=gen)
        start = int(state["step"])
        history = [tuple(h) for h in state["history"]]

    def save(step: int) -> None:
        save_checkpoint(ckpt, {
            "config": model_cfg.to_dict(), "train": asdict(cfg), "seed": cfg.seed,
            "classes": list(data.classes), "model": model.state_dict(),
            "optimizer": opt.state_dict(), "step": step, "rng": rng_state(generator=gen),
            "history": [list(h) for h in history]})

    model.train()
    t0 = time.perf_counter()
    bar = progress(range(start, cfg.steps), desc=f"segment[{label or model_cfg.method}]",
                   total=cfg.steps, initial=start,
                   disable=None if cfg.progress is None else not cfg.progress)
    for step in bar:
        x, y = sample_batch(data, cfg.batch_size, gen)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        history.append((done, loss.item()))
        if hasattr(bar, "set_postfix") and done % 10 == 0:
            bar.set_postfix(loss=f"{loss.item():.3f}")
        if done == cfg.steps or (cfg.checkpoint_every and done % cfg.checkpoint_every == 0):
            save(done)
    if start >= cfg.steps and not ckpt.exists():
        save(start)
    return TrainResult(ckpt, model.eval(), history, time.perf_counter() - t0,
                       max(0, cfg.steps - start))
