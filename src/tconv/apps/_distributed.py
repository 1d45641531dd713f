"""Training on several processes with PyTorch's own engine: ``torchrun`` + DDP.

Every training command runs unchanged under ``torchrun``. torchrun starts one process per
GPU (or per CPU worker) and sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`setup` reads them, joins the process group (NCCL on CUDA, gloo on the
CPU) and picks this process's device. Without those variables it is a 1-process run and no
process group is made.

The recipe does not depend on the number of processes:

* **Global batch.** ``--batch B`` is the batch of one optimizer step for the whole job; each
  of the ``W`` processes computes ``B / W`` of it (``B`` must be divisible by ``W``).
  DistributedDataParallel averages the gradients over processes, so the step equals the
  1-process step on the same ``B`` samples (to float rounding).
* **Data.** Every process holds the same random generators (seeded alike, restored from the
  same checkpoint) and draws the *whole* global batch's random choices; process ``r`` then
  builds only samples ``r*B/W .. (r+1)*B/W - 1`` (:meth:`Dist.part`). The sharding is
  deterministic, disjoint and complete, and the generator state after a step is the same on
  every process and for every ``W`` -- which is why a checkpoint written by 2 processes
  resumes on 1 or 8.
* **Writes.** Rank 0 alone writes samples, checkpoints (atomic) and weights.
* **Stopping.** A stop request (SIGTERM/Ctrl-C) or a non-finite loss on any process is
  shared with the others by one small all-reduce per step, so every process stops after the
  same step and rank 0 checkpoints it.

BatchNorm (the DCGAN and the segmentation network) normalises over the global batch, as
with 1 process: on CUDA it becomes torch's ``SyncBatchNorm``; torch offers that on GPUs
only, so on the CPU :class:`CPUSyncBatchNorm` does the same over gloo (mean and variance
from all-reduced sums; in backward the all-reduced sums of ``dy`` and ``dy * x_hat``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ._devices import resolve_device

__all__ = ["Dist", "setup", "teardown", "env_world", "check_global_batch",
           "convert_cpu_sync_batchnorm"]


def env_world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's variables; ``(0, 1, 0)`` without."""
    def get(name: str, default: int) -> int:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"distributed: environment {name}={raw!r} must be an integer "
                             "(set by torchrun)") from None

    world = get("WORLD_SIZE", 1)
    rank = get("RANK", 0)
    local = get("LOCAL_RANK", rank)
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"distributed: RANK={rank}, WORLD_SIZE={world}, LOCAL_RANK={local} "
                         "must satisfy 0 <= RANK < WORLD_SIZE and LOCAL_RANK >= 0")
    return rank, world, local


@dataclass
class Dist:
    """This process's place in the job: ``rank`` of ``world``, its ``device``."""

    rank: int
    world: int
    local_rank: int
    device: Any
    owns_group: bool = False

    @property
    def main(self) -> bool:
        """True on the one process that writes files and prints progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def part(self, batch: int) -> slice:
        """The indices of the global batch this process builds."""
        n = batch // self.world
        return slice(self.rank * n, (self.rank + 1) * n)

    def wrap(self, model: Any) -> Any:
        """``model`` wrapped in DistributedDataParallel (BatchNorm synced on CUDA); the
        model itself when this is a 1-process run."""
        if not self.distributed:
            return model
        import torch
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return DistributedDataParallel(model, device_ids=[self.device.index])
        return DistributedDataParallel(convert_cpu_sync_batchnorm(model))

    def step_sync(self, loss: float, *flags: bool) -> tuple[float, tuple[bool, ...]]:
        """Mean loss over processes and, per flag, whether any process raised it (one
        all-reduce)."""
        (mean,), raised = self.sync([loss], flags)
        return mean, raised

    def sync(self, values: list[float] | tuple[float, ...], flags: tuple[bool, ...] = ()
             ) -> tuple[tuple[float, ...], tuple[bool, ...]]:
        """Means of ``values`` over processes and, per flag, whether any process raised it,
        in one all-reduce."""
        if not self.distributed:
            return tuple(float(v) for v in values), tuple(bool(f) for f in flags)
        import torch
        import torch.distributed as dist

        t = torch.tensor([*values, *(float(f) for f in flags)], dtype=torch.float64,
                         device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        got = t.tolist()
        n = len(values)
        return (tuple(v / self.world for v in got[:n]), tuple(v > 0 for v in got[n:]))

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()


def check_global_batch(batch: int, fn: str, option: str = "--batch") -> int:
    """The per-process batch ``batch / WORLD_SIZE``, checked before any process group is
    joined (so a bad ``--batch`` fails at once on every process)."""
    _, world, _ = env_world()
    if batch % world:
        raise ValueError(f"{fn}: {option} {batch} must be divisible by the number of "
                         f"processes WORLD_SIZE={world} (the global batch is split evenly); "
                         f"use a multiple of {world}")
    return batch // world


def setup(device: str = "auto", fn: str = "train") -> Dist:
    """Read torchrun's environment, resolve ``device`` and join the process group.

    A process group that already exists (a caller made it) is used as it is.

    Raises:
        ValueError: bad torchrun variables or an unavailable device.
    """
    rank, world, local = env_world()
    dev = resolve_device(device, fn, local_rank=local)
    if world == 1:
        return Dist(0, 1, 0, dev)
    import torch.distributed as dist

    if dist.is_initialized():
        if dist.get_world_size() != world or dist.get_rank() != rank:
            raise ValueError(f"{fn}: the existing process group (rank {dist.get_rank()} of "
                             f"{dist.get_world_size()}) disagrees with RANK={rank}, "
                             f"WORLD_SIZE={world}")
        return Dist(rank, world, local, dev)
    if dev.type == "cuda":
        import torch

        torch.cuda.set_device(dev)
        dist.init_process_group("nccl", device_id=dev)
    elif dev.type == "cpu":
        dist.init_process_group("gloo")
    else:
        raise ValueError(f"{fn}: training on several processes needs --device cpu or cuda; "
                         f"{dev} has no process-group backend")
    return Dist(rank, world, local, dev, owns_group=True)


def teardown(d: Dist) -> None:
    """Leave the process group :func:`setup` made (not one a caller made)."""
    if d.owns_group:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def convert_cpu_sync_batchnorm(model: Any) -> Any:
    """Replace every ``BatchNorm2d`` of ``model`` (in place) by a :class:`CPUSyncBatchNorm`
    sharing its parameters and buffers (the state dict keeps its keys); return ``model``."""
    import torch

    sync = _cpu_sync_bn_class()
    for name, child in list(model.named_children()):
        if type(child) is torch.nn.BatchNorm2d:
            new = sync(child.num_features, child.eps, child.momentum, child.affine,
                       child.track_running_stats)
            new.weight, new.bias = child.weight, child.bias
            new.running_mean, new.running_var = child.running_mean, child.running_var
            new.num_batches_tracked = child.num_batches_tracked
            new.train(child.training)
            setattr(model, name, new)
        else:
            convert_cpu_sync_batchnorm(child)
    return model


_CLASSES: dict[str, Any] = {}


def _cpu_sync_bn_class() -> Any:
    """Build the torch classes on first use (this module imports no torch at import)."""
    if "bn" in _CLASSES:
        return _CLASSES["bn"]
    import torch
    import torch.distributed as dist

    class _SyncBN(torch.autograd.Function):
        # y = x_hat * w + b with x_hat = (x - mean) * invstd, mean and invstd over (N, H, W)
        # of every process; dx = w * invstd * (dy - mean(dy) - x_hat * mean(dy * x_hat)),
        # the two means all-reduced over every process too
        @staticmethod
        def forward(ctx: Any, x: Any, weight: Any, bias: Any, mean: Any, invstd: Any,
                    n: Any) -> Any:
            x_hat = (x - mean[None, :, None, None]) * invstd[None, :, None, None]
            ctx.save_for_backward(x_hat, weight, invstd, n)
            return x_hat * weight[None, :, None, None] + bias[None, :, None, None]

        @staticmethod
        def backward(ctx: Any, dy: Any) -> Any:
            x_hat, weight, invstd, n = ctx.saved_tensors
            c = dy.shape[1]
            dims = [0, 2, 3]
            local = torch.cat([dy.double().sum(dims), (dy.double() * x_hat).sum(dims)])
            g = local.clone()
            dist.all_reduce(g)
            mean_dy = (g[:c] / n).to(dy.dtype)[None, :, None, None]
            mean_dy_xhat = (g[c:] / n).to(dy.dtype)[None, :, None, None]
            dx = (weight * invstd)[None, :, None, None] * (dy - mean_dy - x_hat * mean_dy_xhat)
            # weight and bias: this process's sums; DDP averages them like any gradient
            return dx, local[c:].to(dy.dtype), local[:c].to(dy.dtype), None, None, None

    class CPUSyncBatchNorm(torch.nn.BatchNorm2d):
        """``BatchNorm2d`` whose training statistics span every process of the group."""

        def forward(self, x: Any) -> Any:
            if not self.training or not self.affine or not dist.is_initialized():
                return super().forward(x)
            with torch.no_grad():        # mean and variance over every process, in float64
                c = x.shape[1]
                xd = x.double()
                t = torch.cat([xd.sum([0, 2, 3]), xd.new_tensor([x.numel() // c])])
                dist.all_reduce(t)
                n = t[c]
                mean = t[:c] / n
                sq = ((xd - mean[None, :, None, None]) ** 2).sum([0, 2, 3])
                dist.all_reduce(sq)
                var = sq / n
                tracked, r_mean, r_var = (self.num_batches_tracked, self.running_mean,
                                          self.running_var)
                if self.track_running_stats and tracked is not None and r_mean is not None \
                        and r_var is not None:
                    tracked.add_(1)
                    m = (self.momentum if self.momentum is not None
                         else 1.0 / float(tracked))
                    unbiased = sq / (n - 1).clamp_min(1)
                    r_mean.mul_(1 - m).add_(m * mean.to(x.dtype))
                    r_var.mul_(1 - m).add_(m * unbiased.to(x.dtype))
            return _SyncBN.apply(x, self.weight, self.bias, mean.to(x.dtype),
                                 (var + self.eps).rsqrt().to(x.dtype), n)

    _CLASSES["bn"] = CPUSyncBatchNorm
    return CPUSyncBatchNorm
