"""Choosing where torch runs: ``--device auto|cpu|cuda|cuda:N|mps`` and ``--amp``.

``auto`` picks CUDA when torch sees a GPU, then Apple's MPS, then the CPU. Models are always
initialised on the CPU (so a seed gives the same starting weights on every device) and then
moved; checkpoints are saved from and loaded to the CPU (``map_location="cpu"``), so a run
started on a GPU resumes on a CPU and the other way round.

Mixed precision (``--amp``) is offered on CUDA only: ``torch.autocast`` in float16 with a
``GradScaler`` (its state travels in the checkpoint). On the CPU and MPS it is refused with a
message rather than silently ignored, so a run never differs from what its command says.
Channels-last memory layout is used on CUDA with ``--amp``, where convolutions in tensor-core
kernels prefer it; elsewhere the default layout is kept.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

__all__ = ["DEVICE_CHOICES_HELP", "resolve_device", "check_amp", "autocast", "make_scaler", "place",
           "use_channels_last"]

#: help text shared by every ``--device`` option
DEVICE_CHOICES_HELP = ("auto (CUDA, then MPS, then CPU; default), cpu, cuda, cuda:N or mps")

_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError('tconv.apps needs PyTorch: pip install "tconv[torch]"') from exc
    return torch


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str = "auto", fn: str = "train", local_rank: int = 0) -> Any:
    """The ``torch.device`` that ``spec`` names, checked against what this machine has.

    Args:
        spec: ``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.
        fn: the command, for messages.
        local_rank: under ``torchrun``, this process's GPU when ``spec`` is ``auto`` or
            ``cuda`` (one process per GPU).

    Raises:
        ValueError: an unknown spelling, or a device this machine does not have.

    Examples:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    torch = _torch()
    if not isinstance(spec, str) or not _DEVICE_RE.match(spec):
        raise ValueError(f"{fn}: --device {spec!r} must be one of {DEVICE_CHOICES_HELP}")
    if spec == "auto":
        if torch.cuda.is_available():
            spec = "cuda"
        elif _mps_available(torch):
            spec = "mps"
        else:
            return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available(torch):
            raise ValueError(f"{fn}: --device mps: this torch build sees no MPS device "
                             "(Apple silicon with a recent macOS); use --device cpu")
        return torch.device("mps")
    if not torch.cuda.is_available():
        raise ValueError(f"{fn}: --device {spec}: torch sees no CUDA GPU (torch "
                         f"{torch.__version__}); use --device cpu or auto")
    count = torch.cuda.device_count()
    index = local_rank if spec == "cuda" else int(spec.split(":")[1])
    if not 0 <= index < count:
        raise ValueError(f"{fn}: --device {spec} (GPU index {index}) is out of range: this "
                         f"machine has {count} CUDA GPU(s), indices 0..{count - 1}")
    return torch.device("cuda", index)


def check_amp(amp: bool, device: Any, fn: str = "train") -> None:
    """Refuse ``--amp`` off CUDA (float16 autocast is what it means, and only CUDA has it
    with a gradient scaler here)."""
    if amp and device.type != "cuda":
        raise ValueError(f"{fn}: --amp (float16 mixed precision) needs a CUDA device; this "
                         f"run uses {device}. Drop --amp, or pass --device cuda")


def autocast(device: Any, amp: bool) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` in float16 on CUDA when ``amp``; otherwise a no-op context."""
    if not amp:
        return contextlib.nullcontext()
    return _torch().autocast(device_type=device.type, dtype=_torch().float16)


def make_scaler(device: Any, amp: bool) -> Any:
    """A ``torch.amp.GradScaler`` for CUDA + ``amp``; ``None`` otherwise."""
    if not amp:
        return None
    return _torch().amp.GradScaler(device.type)


def use_channels_last(device: Any, amp: bool) -> bool:
    """Whether to keep activations channels-last (CUDA with mixed precision)."""
    return bool(amp and device.type == "cuda")


def place(module: Any, device: Any, channels_last: bool = False) -> Any:
    """``module`` moved to ``device`` (its weights channels-last when asked); returns it."""
    module = module.to(device)
    if channels_last:
        module = module.to(memory_format=_torch().channels_last)
    return module
