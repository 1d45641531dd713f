"""Options shared by the training commands (``dcgan train``, ``segment train``,
``train-upscaler``): validated argparse types, ``--device``/``--amp``, ``--resume``/
``--overwrite``, and the one-line report of an interrupted run.

A type below rejects a value the way argparse rejects a choice -- ``tconv dcgan train:
error: argument --steps: must be an integer >= 1, got '0'`` and exit status 2 -- before
anything is read or allocated. No extra is imported here.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["int_at_least", "float_in", "device_spec", "add_device_args", "add_run_args",
           "add_loop_args", "run_training", "every_help", "MAX_BATCH", "MAX_THREADS",
           "MAX_SEED", "MAX_SIDE", "MAX_COUNT"]


def int_at_least(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """argparse type: an integer ``>= minimum`` (and ``<= maximum``: a bound on what one
    option may make the run allocate or start)."""
    rule = (f"an integer >= {minimum}" if maximum is None
            else f"an integer in {minimum}..{maximum}")

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    parse.__name__ = rule
    return parse


#: upper bounds of the size options (far above any sensible run, far below an accident)
MAX_BATCH = 65536
MAX_THREADS = 1024
MAX_SEED = 2**63 - 2
MAX_SIDE = 8192
MAX_COUNT = 10_000_000


def float_in(minimum: float | None = None, strict: bool = False,
             maximum: float | None = None, max_strict: bool = False) -> Callable[[str], float]:
    """argparse type: a finite float in a range (``strict``: the bound excluded)."""
    lo = "" if minimum is None else (f" > {minimum:g}" if strict else f" >= {minimum:g}")
    hi = "" if maximum is None else (f" < {maximum:g}" if max_strict else f" <= {maximum:g}")
    rule = "a finite number" + lo + ("," if lo and hi else "") + hi

    def parse(text: str) -> float:
        try:
            value = float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}") from None
        bad = not math.isfinite(value)
        bad |= minimum is not None and (value < minimum or (strict and value == minimum))
        bad |= maximum is not None and (value > maximum or (max_strict and value == maximum))
        if bad:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text!r}")
        return value

    parse.__name__ = rule
    return parse


def device_spec(text: str) -> str:
    """argparse type: the spelling of ``--device`` (whether the machine has it is checked
    when the run starts)."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError("must be auto, cpu, cuda, cuda:N (N >= 0) or mps, "
                                         f"got {text!r}")
    return text


def every_help(what: str, default: int) -> str:
    return f"{what} every N steps, N >= 1; 0: only at the end (default {default})"


def add_device_args(g: Any) -> None:
    """``--device`` and ``--amp`` on an argument group."""
    from ..apps._devices import DEVICE_CHOICES_HELP

    g.add_argument("--device", type=device_spec, default="auto", metavar="DEVICE",
                   help=f"where to train: {DEVICE_CHOICES_HELP}; under torchrun, cuda means "
                        "this process's GPU (LOCAL_RANK)")
    g.add_argument("--amp", action="store_true",
                   help="float16 mixed precision (CUDA only; refused on CPU and MPS)")


def add_loop_args(g: Any, checkpoint_every: int) -> None:
    """The options of a training loop's process on an argument group: ``--checkpoint-every``
    (default ``checkpoint_every``), ``--threads``, ``--no-progress``, ``--device`` and
    ``--amp``."""
    g.add_argument("--checkpoint-every", type=int_at_least(0), default=checkpoint_every,
                   help=every_help("checkpoint", checkpoint_every))
    g.add_argument("--threads", type=int_at_least(1, MAX_THREADS), default=1,
                   help="torch threads on the CPU, >= 1 (default 1)")
    g.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    add_device_args(g)


def add_run_args(p: Any) -> None:
    """``--resume`` / ``--overwrite`` (a folder holding a run is never silently replaced)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--resume", action="store_true", help="continue the run in OUT")
    g.add_argument("--overwrite", action="store_true",
                   help="start afresh in OUT even if it holds a run (its files are replaced)")


def run_training(fn: str, body: Callable[[], int]) -> int:
    """Run ``body`` with SIGTERM/Ctrl-C turned into a checkpointed stop; report an
    interrupted run in one line on stderr and return 128 + the signal number."""
    from ..apps._train import TrainingInterrupted, interruptible

    try:
        with interruptible():
            return body()
    except TrainingInterrupted as exc:
        print(f"tconv {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"tconv {fn}: interrupted; the last checkpoint written is whole (writes are "
              "atomic); continue with --resume", file=sys.stderr, flush=True)
        return 130
