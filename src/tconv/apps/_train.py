"""Shared training-loop pieces: atomic checkpoints, bit-exact resume, progress bars, stops.

A checkpoint is one ``dict`` saved with ``torch.save`` to a temporary file in the target's
folder and moved into place with ``os.replace`` -- a crash mid-write leaves the previous
checkpoint intact, never a half-written one. ``load_checkpoint`` uses
``torch.load(weights_only=True)``, so a checkpoint may hold tensors, numbers, strings, lists,
tuples and dicts (model/optimizer ``state_dict()``, :func:`rng_state`) but no pickled objects.

Resume contract: a run that saves ``{"model", "optimizer", "step", "rng": rng_state(gen)}``
after step ``k`` and reloads it with :func:`set_rng_state` continues exactly as the
uninterrupted run would, bit for bit, provided all randomness comes from the captured
generators (torch's global one, an explicit ``torch.Generator``, NumPy's global one, or a
``numpy.random.Generator`` passed in).

Nothing non-finite is ever saved or loaded: :func:`save_checkpoint` and
:func:`load_checkpoint` refuse a state whose floating-point tensors hold NaN or infinity
(a diverged run keeps its last good checkpoint).

Stopping: inside :func:`interruptible` (the CLI wraps every training command in it), SIGTERM
and Ctrl-C only *request* a stop; the loop finishes its step, writes a checkpoint and raises
:class:`TrainingInterrupted`, which the CLI reports in one line (no traceback). A second
signal stops at once (the last checkpoint on disk is still whole: writes are atomic).

Example (training loop skeleton)::

    from tconv.apps._train import (save_checkpoint, load_checkpoint, rng_state,
                                   set_rng_state, progress)
    state = load_checkpoint(ckpt) if resume and ckpt.exists() else None
    if state:
        model.load_state_dict(state["model"]); opt.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"], np_rng=np_rng, generator=gen); start = state["step"]
    for step in progress(range(start, steps), desc="train", initial=start, total=steps):
        ...
        save_checkpoint(ckpt, {"model": model.state_dict(), "optimizer": opt.state_dict(),
                               "step": step + 1, "rng": rng_state(np_rng=np_rng, generator=gen)})
"""

from __future__ import annotations

import contextlib
import math
import os
import pathlib
import random
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import numpy as np

if TYPE_CHECKING:
    from ._distributed import Dist

_T = TypeVar("_T")

__all__ = ["save_checkpoint", "load_checkpoint", "rng_state", "set_rng_state", "progress",
           "atomic_write_bytes", "load_resume", "seed_everything", "check_run_dir",
           "check_finite_state", "check_loss", "interruptible", "stop_requested",
           "TrainingInterrupted", "check_int", "check_float"]


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError('tconv.apps needs PyTorch: pip install "tconv[torch]"') from exc
    return torch


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> pathlib.Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder + ``os.replace``),
    replacing an existing file: :func:`tconv.io.atomic_write` with ``overwrite=True``."""
    from ..io import atomic_write

    return atomic_write(path, data, overwrite=True)


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> pathlib.Path:
    """Save a training state ``dict`` to ``path`` atomically; return the path.

    Args:
        path: target file (its folder is created).
        state: tensors, numbers, strings and nested lists/tuples/dicts of them.
    """
    import io

    torch = _torch()
    check_finite_state(state, f"save_checkpoint({str(path)!r})")
    buf = io.BytesIO()
    torch.save(state, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``, no pickle).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a readable checkpoint.
    """
    torch = _torch()
    path = pathlib.Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_checkpoint: no checkpoint at {str(path)!r}")
    with open(path, "rb") as f:
        head = f.read(4)
    if head != b"PK\x03\x04":        # torch.save writes a zip archive since torch 1.6
        raise ValueError(f"load_checkpoint: {str(path)!r} is not a checkpoint (not a file "
                         "written by torch.save); give the checkpoint.pt of a run")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's own text (which suggests weights_only=False: running the file's code) is
        # not passed on; its first line says what was wrong
        text = str(exc).split("WeightsUnpickler error:")[-1].strip()
        why = text.splitlines()[0].split(". ")[0][:160] if text else ""
        if type(exc).__name__ == "UnpicklingError":
            why = ("it holds Python objects a checkpoint does not (refused: loading them "
                   f"could run code; {why})")
        raise ValueError(f"load_checkpoint: {str(path)!r} is not a readable checkpoint "
                         f"({type(exc).__name__}: {why})") from None
    if not isinstance(state, dict):
        raise ValueError(f"load_checkpoint: {str(path)!r} holds a {type(state).__name__}, "
                         "expected a dict")
    check_finite_state(state, f"load_checkpoint({str(path)!r})")
    return state


def load_resume(path: str | os.PathLike[str], fn: str, **expected: Any) -> dict[str, Any]:
    """Load a checkpoint to resume, refusing one made with other settings.

    Each keyword names a checkpoint entry and the value this run expects (for example
    ``config=cfg.to_dict(), seed=cfg.seed``); any mismatch raises ``ValueError`` naming both.
    """
    state = load_checkpoint(path)
    saved = {k: state.get(k) for k in expected}
    if saved != expected:
        raise ValueError(f"{fn}: --resume from {str(path)!r}: the checkpoint was made with "
                         f"{saved}, this run asks for {expected}")
    return state


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's global and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    _torch().manual_seed(seed)


def rng_state(np_rng: np.random.Generator | None = None,
              generator: Any | None = None) -> dict[str, Any]:
    """Capture every random state a training loop may use, as checkpoint-safe values.

    Args:
        np_rng: an explicit ``numpy.random.Generator`` (its bit-generator state is stored).
        generator: an explicit ``torch.Generator``.

    Returns:
        dict with ``torch`` (uint8 tensor), ``numpy_global``, ``python`` and, when given,
        ``np_rng`` / ``generator`` entries.
    """
    torch = _torch()
    st: dict[str, Any] = {"torch": torch.get_rng_state()}
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    st["numpy_global"] = {"kind": kind,
                          "keys": torch.from_numpy(np.asarray(keys).astype(np.int64)),
                          "pos": int(pos), "has_gauss": int(has_gauss),
                          "cached": float(cached)}
    py = random.getstate()
    st["python"] = {"version": py[0], "state": list(py[1]),
                    "gauss": py[2] if py[2] is None else float(py[2])}
    if np_rng is not None:
        st["np_rng"] = _bitgen_to_safe(np_rng.bit_generator.state)
    if generator is not None:
        st["generator"] = generator.get_state()
    return st


def set_rng_state(state: dict[str, Any], np_rng: np.random.Generator | None = None,
                  generator: Any | None = None) -> None:
    """Restore what :func:`rng_state` captured (into the same kinds of generators)."""
    torch = _torch()
    torch.set_rng_state(state["torch"])
    g = state["numpy_global"]
    np.random.set_state((g["kind"], g["keys"].numpy().astype(np.uint32), g["pos"],
                         g["has_gauss"], g["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if np_rng is not None:
        if "np_rng" not in state:
            raise ValueError("set_rng_state: the checkpoint holds no np_rng state")
        np_rng.bit_generator.state = _safe_to_bitgen(state["np_rng"])
    if generator is not None:
        if "generator" not in state:
            raise ValueError("set_rng_state: the checkpoint holds no torch.Generator state")
        generator.set_state(state["generator"])


def _bitgen_to_safe(obj: Any) -> Any:
    # Big Python ints (PCG64 state is 128-bit) are stored as decimal strings: weights_only
    # loading accepts str but not arbitrary-precision ints reliably across versions.
    if isinstance(obj, dict):
        return {k: _bitgen_to_safe(v) for k, v in obj.items()}
    if isinstance(obj, int) and not isinstance(obj, bool):
        return {"__int__": str(obj)}
    if isinstance(obj, np.ndarray):
        return {"__array__": obj.tolist(), "dtype": str(obj.dtype)}
    return obj


def _safe_to_bitgen(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__int__"}:
            return int(obj["__int__"])
        if set(obj) == {"__array__", "dtype"}:
            return np.asarray(obj["__array__"], dtype=obj["dtype"])
        return {k: _safe_to_bitgen(v) for k, v in obj.items()}
    return obj


def progress(iterable: Iterable[Any] | int | None = None, desc: str = "",
             total: int | None = None, initial: int = 0, disable: bool | None = None,
             **kwargs: Any) -> Iterator[Any]:
    """A tqdm progress bar over ``iterable`` (or ``range(iterable)`` for an int).

    Falls back to the plain iterable when tqdm (apps extra) is missing; ``disable=None`` hides
    the bar when stderr is not a terminal. Use ``bar.set_postfix(psnr=...)`` for live numbers.
    """
    if isinstance(iterable, int):
        total = iterable if total is None else total
        iterable = range(initial, iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iter(iterable if iterable is not None else ())
    return tqdm(iterable, desc=desc, total=total, initial=initial, disable=disable,
                dynamic_ncols=True, **kwargs)


# ---------------------------------------------------------------------------------------------
# checks shared by the training commands


def check_int(fn: str, name: str, value: Any, minimum: int,
              maximum: int | None = None) -> int:
    """``value`` as an int in ``minimum..maximum``; ``ValueError``/``TypeError`` naming
    ``name``."""
    rule = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fn}: {name}={value!r} must be an integer {rule}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{fn}: {name}={value} must be {rule}")
    return int(value)


def check_float(fn: str, name: str, value: Any, minimum: float | None = None,
                strict: bool = False, maximum: float | None = None,
                max_strict: bool = False) -> float:
    """``value`` as a finite float in the given range (``strict``: the bound excluded)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{fn}: {name}={value!r} must be a real number")
    v = float(value)
    lo = "" if minimum is None else (f" > {minimum:g}" if strict else f" >= {minimum:g}")
    hi = "" if maximum is None else (f" < {maximum:g}" if max_strict else f" <= {maximum:g}")
    rule = "a finite number" + lo + ("," if lo and hi else "") + hi
    if not math.isfinite(v):
        raise ValueError(f"{fn}: {name}={value!r} must be {rule}")
    if minimum is not None and (v < minimum or (strict and v == minimum)):
        raise ValueError(f"{fn}: {name}={value!r} must be {rule}")
    if maximum is not None and (v > maximum or (max_strict and v == maximum)):
        raise ValueError(f"{fn}: {name}={value!r} must be {rule}")
    return v


def check_run_dir(out: str | os.PathLike[str], resume: bool, overwrite: bool, fn: str,
                  names: tuple[str, ...] = ("checkpoint.pt",)) -> pathlib.Path:
    """Refuse to start a run in a folder that holds one, unless told what to do with it.

    ``resume`` continues the run there; ``overwrite`` starts afresh and replaces its files.

    Raises:
        ValueError: both ``resume`` and ``overwrite``, or ``out`` is a file.
        FileExistsError: ``out`` holds one of ``names`` and neither flag is given.
    """
    out = pathlib.Path(out)
    if resume and overwrite:
        raise ValueError(f"{fn}: --resume and --overwrite contradict each other: --resume "
                         "continues the run in the folder, --overwrite replaces it")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{fn}: --out {str(out)!r} is a file; the run needs a folder")
    found = [n for n in names if (out / n).exists()]
    if found and not resume and not overwrite:
        raise FileExistsError(f"{fn}: {str(out / found[0])!r} exists (a run is in "
                              f"{str(out)!r}); pass --resume to continue it, --overwrite to "
                              "start afresh and replace it, or choose another --out")
    return out


def list_images(root: pathlib.Path, suffixes: tuple[str, ...]) -> list[pathlib.Path]:
    """The files under ``root`` (recursive) whose suffix, in lower case, is one of
    ``suffixes``, hidden files and folders (a name starting with ".") skipped, in the order of
    their paths relative to ``root`` (the same on every file system)."""
    return sorted((p for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in suffixes
                   and not any(q.startswith(".") for q in p.relative_to(root).parts)),
                  key=lambda p: p.relative_to(root).as_posix())


def run_in_folder(fn: str, out_dir: str | os.PathLike[str], *, resume: bool, overwrite: bool,
                  batch: int, device: str, amp: bool,
                  body: Callable[[Dist, pathlib.Path], _T],
                  names: tuple[str, ...] = ("checkpoint.pt",),
                  batch_option: str = "--batch") -> _T:
    """The frame of every app's ``train``: check the run folder (:func:`check_run_dir`) and the
    global batch, join the process group (``torchrun``) or pick the device, check the mixed
    precision there, run ``body(dist, out)`` and leave the group whatever happens."""
    from ._devices import check_amp
    from ._distributed import check_global_batch, setup, teardown

    out = check_run_dir(out_dir, resume, overwrite, fn, names)
    check_global_batch(batch, fn, batch_option)
    dist = setup(device, fn)
    try:
        check_amp(amp, dist.device, fn)
        return body(dist, out)
    finally:
        teardown(dist)


def optimizer_step(loss: Any, opt: Any, scaler: Any = None, update: bool = True) -> None:
    """Back-propagate ``loss`` and step ``opt``; with a ``GradScaler`` (mixed precision),
    through it, and ``update`` its scale afterwards (``False`` when several optimizers step
    with one scaler: update it once after the last)."""
    if scaler is None:
        loss.backward()
        opt.step()
        return
    scaler.scale(loss).backward()
    scaler.step(opt)
    if update:
        scaler.update()


def check_finite_state(state: Any, where: str) -> None:
    """Raise ``ValueError`` if any floating-point tensor or array in ``state`` (nested dicts,
    lists, tuples) holds NaN or infinity, naming its key path."""
    torch = _torch()

    def walk(obj: Any, key: str) -> None:
        if isinstance(obj, torch.Tensor):
            if obj.is_floating_point() or obj.is_complex():
                if not bool(torch.isfinite(obj).all()):
                    raise ValueError(f"{where}: {key or 'value'} holds NaN or infinite values; "
                                     "non-finite weights are never saved or loaded")
        elif isinstance(obj, np.ndarray):
            if obj.dtype.kind in "fc" and not bool(np.isfinite(obj).all()):
                raise ValueError(f"{where}: {key or 'value'} holds NaN or infinite values; "
                                 "non-finite weights are never saved or loaded")
        elif isinstance(obj, dict):
            for k, v in obj.items():
                if k in ("history", "train"):       # logs may legitimately hold NaN
                    continue
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                walk(v, f"{key}[{i}]")

    walk(state, "")


def check_loss(loss: float, step: int, fn: str, ckpt: pathlib.Path) -> None:
    """Stop a diverged run: a non-finite loss raises ``ValueError`` before anything is saved
    (the last good checkpoint stays)."""
    if not math.isfinite(loss):
        kept = (f"the last good checkpoint {str(ckpt)!r} is kept" if ckpt.exists()
                else "no checkpoint was written")
        raise ValueError(f"{fn}: the loss is {loss} after step {step}: training diverged "
                         f"(try a lower learning rate); {kept}, nothing else is written")


# ---------------------------------------------------------------------------------------------
# stop requests (SIGTERM / Ctrl-C)


class TrainingInterrupted(Exception):
    """A run stopped on request after ``step``, with its checkpoint written."""

    def __init__(self, fn: str, step: int, checkpoint: pathlib.Path | None, signum: int):
        self.fn, self.step, self.checkpoint, self.signum = fn, step, checkpoint, signum
        name = signal.Signals(signum).name if signum else "a stop request"
        where = (f"checkpoint {str(checkpoint)!r} written; continue with --resume"
                 if checkpoint is not None else "no checkpoint (not the writing process)")
        super().__init__(f"{fn}: stopped by {name} after step {step}; {where}")

    @property
    def exit_code(self) -> int:
        """The shell convention: 128 + the signal number."""
        return 128 + (self.signum or signal.SIGINT)


def stop_interrupted(fn: str, done: int, ckpt: pathlib.Path, dist: Dist, bar: Any,
                     save: Callable[[int], object], signum: int | None) -> NoReturn:
    """Honour a stop request after step ``done``: write the checkpoint (``save``), wait for
    every process, close the progress ``bar`` and raise :class:`TrainingInterrupted`."""
    save(done)
    dist.barrier()
    if hasattr(bar, "close"):
        bar.close()
    raise TrainingInterrupted(fn, done, ckpt if dist.main else None, signum or signal.SIGTERM)


_STOP: dict[str, int | None] = {"signal": None}


def stop_requested() -> int | None:
    """The signal number of a pending stop request, or ``None``."""
    return _STOP["signal"]


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within this block SIGTERM and SIGINT request a stop (see :func:`stop_requested`)
    instead of killing the loop mid-step; a second signal raises ``KeyboardInterrupt``.

    The previous handlers are restored on exit. Outside the main thread (where Python does
    not allow handlers) the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if _STOP["signal"] is not None:
            raise KeyboardInterrupt
        _STOP["signal"] = signum

    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.getsignal(s) for s in sigs}
    _STOP["signal"] = None
    try:
        for s in sigs:
            signal.signal(s, handler)
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        _STOP["signal"] = None
