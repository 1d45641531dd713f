"""Train the up-scaler on the bundled scikit-image photos (torch extra).

Recipe: Adam, MSE on luminance in [0, 1],
batch 32 of 24x24 LR patches; learning rate 1e-3 for the body and 1e-4 for the head,
cosine-decayed over ``steps`` to 5 %; head initialised N(0, 1e-3), Kaiming elsewhere.

Against checkerboard (the shipped models use all three): ``balance_phases`` projects the
head after every step onto weights whose phases agree on constant and ramp features
(:func:`.model.balance_head`); ``smooth_frac`` mixes generated smooth fields into the
patches; ``flat_weight`` adds :func:`flat_phase_penalty`, the variance across output phases
of the mean error on flat HR pixels (what the evaluation's flat-region spread measures).

Determinism: the run is a function of ``(config, seed, steps)``. All randomness comes from one
``numpy.random.Generator`` (patch sampling) and torch's global generator (initialisation),
both stored in every checkpoint, so resuming after step ``k`` gives bit-exactly the weights of
the uninterrupted run (single-threaded CPU torch). ``minutes`` and ``stop_at`` only decide
*where to stop* (a checkpoint is written there; ``--resume`` continues the same trajectory).
"""

from __future__ import annotations

import math
import pathlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .._train import (
    check_finite_state,
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
from .data import TRAIN_IMAGES, PatchSampler, eval_pairs, folder_pairs
from .model import Upscaler, UpscalerConfig, balance_head

__all__ = ["TrainConfig", "train", "evaluate_psnr", "export_weights"]


@dataclass
class TrainConfig:
    """Everything a training run depends on (``tconv train-upscaler`` fills this in).

    ``data`` (a folder of photos) replaces the bundled training photos; ``val`` (a folder)
    replaces the held-out photos for the PSNR printed every ``eval_every`` steps (0: never).
    ``checkpoint_every`` (0: only at the end and at a stop). ``device``/``amp``: see
    :mod:`tconv.apps._devices`; under ``torchrun`` ``batch`` is the global batch.
    ``overwrite`` starts afresh in an ``out`` that holds a run.
    """

    model: UpscalerConfig = field(default_factory=UpscalerConfig)
    out: pathlib.Path = pathlib.Path("upscaler-run")
    steps: int = 20000
    minutes: float | None = None
    stop_at: int | None = None
    batch: int = 32
    patch: int = 24
    images: tuple[str, ...] = TRAIN_IMAGES
    lr_body: float = 1e-3
    lr_head: float = 1e-4
    final_lr_frac: float = 0.05
    seed: int = 0
    eval_every: int = 2000
    checkpoint_every: int = 500
    resume: bool = False
    balance_phases: bool = False
    smooth_frac: float = 0.0
    flat_weight: float = 0.0
    threads: int | None = 1
    progress: bool = True
    data: str | None = None
    val: str | None = None
    device: str = "auto"
    amp: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        fn = "train-upscaler"
        for name, low, high in (("steps", 1, None), ("batch", 1, 65536), ("patch", 4, 1024),
                                ("eval_every", 0, None), ("checkpoint_every", 0, None),
                                ("seed", 0, 2**63 - 2)):
            check_int(fn, name, getattr(self, name), low, high)
        if self.stop_at is not None:
            check_int(fn, "stop_at", self.stop_at, 1)
        if self.threads is not None:
            check_int(fn, "threads", self.threads, 1, 1024)
        if self.minutes is not None:
            check_float(fn, "minutes", self.minutes, 0.0)
        check_float(fn, "lr_body", self.lr_body, 0.0, strict=True)
        check_float(fn, "lr_head", self.lr_head, 0.0, strict=True)
        check_float(fn, "final_lr_frac", self.final_lr_frac, 0.0, maximum=1.0)
        check_float(fn, "smooth_frac", self.smooth_frac, 0.0, maximum=1.0, max_strict=True)
        check_float(fn, "flat_weight", self.flat_weight, 0.0)


def lr_factor(step: int, steps: int, final: float) -> float:
    """Cosine decay from 1 to ``final`` over ``steps``."""
    t = min(step / max(steps, 1), 1.0)
    return final + (1.0 - final) * 0.5 * (1.0 + math.cos(math.pi * t))


def evaluate_psnr(model, scale: int, pairs=None, device=None) -> dict[str, float]:
    """Held-out PSNR (dB) per image + ``"mean"``: Y, 8-bit rounded, border ``scale`` shaved."""
    import torch
    from skimage.metrics import peak_signal_noise_ratio

    pairs = eval_pairs(scale) if pairs is None else pairs
    res = {}
    model.eval()
    with torch.no_grad():
        for name, (lr, hr) in pairs.items():
            x = torch.from_numpy((lr / 255.0).astype(np.float32))[None, None]
            if device is not None:
                x = x.to(device)
            sr = model(x)[0, 0].float().cpu().numpy().astype(np.float64) * 255.0
            sr = np.clip(np.round(sr), 0, 255)
            s = scale
            res[name] = float(peak_signal_noise_ratio(hr[s:-s, s:-s], sr[s:-s, s:-s],
                                                      data_range=255))
    model.train()
    res["mean"] = float(np.mean([v for k, v in res.items()]))
    return res


def flat_phase_penalty(err, hr, scale: int, threshold: float = 1.5 / 255, window: int = 7):
    """Variance across the ``scale**2`` output phases of the mean error on flat HR pixels.

    The training twin of :func:`.evaluate.flat_phase_spread` (same 7x7 standard-deviation
    test): zero when every phase is, on average, as right as the others on flat regions --
    a stride-periodic bias is what a checkerboard is. ``err`` and ``hr`` are ``(N, 1, H, W)``.
    """
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        mean = F.avg_pool2d(hr, window, 1, window // 2, count_include_pad=False)
        sq = F.avg_pool2d(hr * hr, window, 1, window // 2, count_include_pad=False)
        flat = ((sq - mean * mean).clamp_min(0).sqrt() < threshold).to(err.dtype)
    n, _, h, w = err.shape
    s = scale
    cnt = flat.reshape(n, h // s, s, w // s, s).sum(dim=(0, 1, 3))
    if bool((cnt == 0).any()):
        return err.new_zeros(())
    means = (err * flat).reshape(n, h // s, s, w // s, s).sum(dim=(0, 1, 3)) / cnt
    return ((means - means.mean()) ** 2).mean()


def _state(model, opt, step, rng, history, cfg) -> dict:
    return {"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
            "rng": rng_state(np_rng=rng), "history": history,
            "config": _state_config(cfg)}


def _state_config(cfg: TrainConfig) -> dict:
    d = {"model": cfg.model.to_dict(), "seed": cfg.seed, "steps": cfg.steps,
         "batch": cfg.batch, "patch": cfg.patch}
    for key in ("smooth_frac", "flat_weight", "balance_phases"):
        if getattr(cfg, key):
            d[key] = getattr(cfg, key)
    return d


def train(cfg: TrainConfig, log: Callable[[str], None] = print):
    """Run (or resume) training; return ``(model, history)``.

    Writes ``cfg.out / "checkpoint.pt"`` atomically every ``checkpoint_every`` steps and at
    the end, and ``cfg.out / "weights.npz"`` (+ manifest) at the end. Under ``torchrun``
    every process trains its share of each global batch and rank 0 alone writes.

    Raises:
        FileExistsError: ``out`` holds a run and neither ``resume`` nor ``overwrite``.
        ValueError: a checkpoint made with other settings, a non-finite loss (diverged run;
            the last good checkpoint is kept), or an unusable device.
        TrainingInterrupted: a stop was requested (SIGTERM/Ctrl-C inside
            :func:`tconv.apps._train.interruptible`); the checkpoint of the last step is
            written.
    """
    return run_in_folder("train-upscaler", cfg.out, resume=cfg.resume, overwrite=cfg.overwrite,
                         batch=cfg.batch, device=cfg.device, amp=cfg.amp,
                         names=("checkpoint.pt", "weights.npz"),
                         body=lambda dist, out: _train(cfg, log if dist.main else _quiet, dist,
                                                       out, out / "checkpoint.pt"))


def _quiet(msg: str) -> None:
    pass


def _train(cfg: TrainConfig, log: Callable[[str], None], dist, out: pathlib.Path,
           ckpt: pathlib.Path):
    import torch

    from .._devices import autocast, make_scaler, place, use_channels_last

    fn = "train-upscaler"
    if cfg.threads and dist.device.type == "cpu":
        torch.set_num_threads(cfg.threads)
    dev = dist.device
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = Upscaler(cfg.model)              # initialised on the CPU: same weights anywhere
    if cfg.balance_phases:
        _balance_(model)
    cl = use_channels_last(dev, cfg.amp)
    model = place(model, dev, cl)
    opt = torch.optim.Adam([{"params": model.body_parameters(), "lr": cfg.lr_body},
                            {"params": model.head_parameters(), "lr": cfg.lr_head}])
    scaler = make_scaler(dev, cfg.amp)
    base = [cfg.lr_body, cfg.lr_head]
    step, history = 0, []
    if cfg.resume and ckpt.exists():
        mine = _state_config(cfg)
        st = load_resume(ckpt, fn, config=mine)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        if scaler is not None and st.get("scaler"):
            scaler.load_state_dict(st["scaler"])
        set_rng_state(st["rng"], np_rng=rng)
        step, history = int(st["step"]), list(st["history"])
        log(f"resumed from {ckpt} at step {step}")
    elif cfg.overwrite and dist.main:
        ckpt.unlink(missing_ok=True)       # a fresh run: never resume the replaced one
    dist.barrier()
    net = dist.wrap(model)
    sampler = PatchSampler(cfg.model.scale, cfg.patch, tuple(cfg.images), cfg.smooth_frac,
                           folder=cfg.data, log=log)
    pairs = None
    if cfg.eval_every and dist.main:
        pairs = (folder_pairs(cfg.val, cfg.model.scale, log, fn) if cfg.val is not None
                 else eval_pairs(cfg.model.scale))
    part = dist.part(cfg.batch)

    def save(done: int) -> None:
        if dist.main:
            st = _state(model, opt, done, rng, history, cfg)
            if scaler is not None:
                st["scaler"] = scaler.state_dict()
            save_checkpoint(ckpt, st)

    t0 = time.monotonic()
    bar = progress(range(step, cfg.steps), desc=f"x{cfg.model.scale} {cfg.model.head}",
                   total=cfg.steps, initial=step,
                   disable=None if cfg.progress and dist.main else True)
    loss_v = float("nan")
    done = step
    for step in bar:
        f = lr_factor(step, cfg.steps, cfg.final_lr_frac)
        for g, b in zip(opt.param_groups, base):
            g["lr"] = b * f
        lr_np, hr_np = sampler.batch(rng, cfg.batch, part)
        x, y = torch.from_numpy(lr_np).to(dev), torch.from_numpy(hr_np).to(dev)
        if cl:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(dev, cfg.amp):
            pred = net(x).float()
        loss = torch.nn.functional.mse_loss(pred, y)
        if cfg.flat_weight:
            loss = loss + cfg.flat_weight * flat_phase_penalty(pred - y, y, cfg.model.scale)
        opt.zero_grad(set_to_none=True)
        optimizer_step(loss, opt, scaler)
        if cfg.balance_phases:
            _balance_(model)
        done = step + 1
        signum = stop_requested()
        timed = ((cfg.minutes is not None and time.monotonic() - t0 > cfg.minutes * 60)
                 or (cfg.stop_at is not None and done >= cfg.stop_at))
        loss_v, (interrupted, stop) = dist.step_sync(float(loss.detach()), signum is not None,
                                                     timed)
        check_loss(loss_v, done, fn, ckpt)
        if interrupted:
            stop_interrupted(fn, done, ckpt, dist, bar, save, signum)
        if pairs is not None and (done % cfg.eval_every == 0 or done == cfg.steps):
            ps = evaluate_psnr(model, cfg.model.scale, pairs, dev)
            elapsed = time.monotonic() - t0
            history.append({"step": done, "loss": loss_v, "psnr": ps["mean"],
                            "seconds": elapsed})
            log(f"step {done}: loss {loss_v:.3e}  held-out PSNR {ps['mean']:.3f} dB "
                f"({elapsed / 60:.1f} min)")
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(psnr=f"{ps['mean']:.2f}")
        if ((cfg.checkpoint_every and done % cfg.checkpoint_every == 0) or done == cfg.steps
                or stop):
            save(done)
        if stop:
            log(f"stopped at step {done} of {cfg.steps} (resume with --resume)")
            break
    if hasattr(bar, "close"):
        bar.close()
    if dist.main:
        export_weights(model, out / "weights.npz", extra={"train": {
            "seed": cfg.seed, "steps": cfg.steps, "steps_done": int(done),
            "batch": cfg.batch, "patch": cfg.patch, "smooth_frac": cfg.smooth_frac,
            "flat_weight": cfg.flat_weight, "balance_phases": cfg.balance_phases,
            "data": cfg.data or "skimage", "processes": dist.world,
            "history": history}})
    dist.barrier()
    return model.cpu(), history


def _balance_(model) -> None:
    """Project the head onto checkerboard-free weights (after an optimizer step; no grad)."""
    import torch

    sd = {k: v.detach().cpu().numpy() for k, v in model.head.state_dict().items()}
    new = balance_head({f"head.{k}": v for k, v in sd.items()}, model.cfg)
    with torch.no_grad():
        for k, v in model.head.state_dict().items():
            v.copy_(torch.from_numpy(new[f"head.{k}"]).to(v.device))


def export_weights(model, path: pathlib.Path, extra: dict | None = None) -> pathlib.Path:
    """Save a trained model's parameters as ``.npz`` + sha256 manifest entry (no pickle)."""
    from ... import io as tio

    arrays = {k: v.detach().cpu().numpy().astype(np.float32)
              for k, v in model.state_dict().items()}
    check_finite_state(arrays, f"export_weights({str(path)!r})")
    meta = {"config": model.cfg.to_dict(), **(extra or {})}
    return tio.save_weights(path, arrays, meta)


def config_dict(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["out"] = str(cfg.out)
    return d


def ship(run_dir: pathlib.Path, command: str, minutes: float, machine: str,
         dest: pathlib.Path | None = None, balance: bool = True,
         gate: tuple[float, float] | None = None) -> pathlib.Path:
    """Copy a finished run's verified ``weights.npz`` into the package weights folder.

    The manifest entry keeps the run's config and training record and adds the command, the
    wall-clock minutes and the machine that produced it. With ``balance`` the head is
    projected onto checkerboard-free weights first (:func:`.model.balance_head`; recorded in
    the manifest as ``post_processing``). ``gate=(low, high)`` sets the model's flatness gate
    (:func:`.model.flatness_gate`; the weights are unchanged). Returns the shipped file's path.
    """
    from ... import io as tio
    from .infer import weights_path

    arrays, meta = tio.load_weights(pathlib.Path(run_dir) / "weights.npz")
    cfg = UpscalerConfig(**meta["config"])
    target = weights_path(cfg.scale, cfg.head)
    if dest is not None:
        target = pathlib.Path(dest) / target.name
    train_meta = dict(meta.get("train", {}))
    train_meta.update(command=command, minutes=round(float(minutes), 1), machine=machine)
    if balance:
        arrays = balance_head(arrays, cfg)
        train_meta["post_processing"] = ("head phase sums and first moments balanced (tconv."
                                         "apps.upscale.model.balance_head): checkerboard-free "
                                         "on constant and ramp input")
    meta = {k: v for k, v in meta.items() if k not in ("sha256", "train")}
    if gate is not None:
        cfg = UpscalerConfig(**{**meta["config"], "gate_low": gate[0], "gate_high": gate[1]})
        meta["config"] = cfg.to_dict()
        train_meta["gate"] = f"flatness gate low={gate[0]:g}, high={gate[1]:g} gray levels"
    meta["train"] = train_meta
    return tio.save_weights(target, arrays, meta)
