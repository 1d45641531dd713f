"""Run ``tconv`` commands in child processes for the fault and multi-process tests.

A child is forked from the test process (no interpreter or torch start-up: the imports are
already done), gets the environment torchrun would give it, writes its stdout and stderr to
a file, and exits with ``main``'s return value. Tests keep torch at one thread, so the fork
never copies a busy thread pool.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pathlib
import socket
import sys
import time


def _child(argv: list[str], env: dict[str, str], log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)   # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)   # noqa: SIM115
    os.environ.update(env)
    code = 1
    try:
        from tconv.cli import main

        code = main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def spawn(argv: list[str], log: pathlib.Path, env: dict[str, str] | None = None
          ) -> mp.process.BaseProcess:
    """Start ``tconv *argv`` in a forked child; its output goes to ``log``."""
    p = mp.get_context("fork").Process(target=_child, args=(argv, env or {}, str(log)))
    p.start()
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun_env(rank: int, world: int, port: int) -> dict[str, str]:
    """The variables torchrun sets for one worker on one machine."""
    return {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
            "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_WORLD_SIZE": str(world),
            "GROUP_RANK": "0", "ROLE_RANK": str(rank), "ROLE_WORLD_SIZE": str(world)}


def wait_for_step(ckpt: pathlib.Path, step: int, procs, timeout: float = 120.0) -> int:
    """Poll until ``ckpt`` holds at least ``step`` steps; return the step it holds."""
    import torch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ckpt.exists():
            try:
                got = int(torch.load(ckpt, weights_only=True)["step"])
            except Exception:
                got = -1
            if got >= step:
                return got
        if all(not p.is_alive() for p in procs):
            return -1
        time.sleep(0.01)
    raise TimeoutError(f"{ckpt} did not reach step {step} in {timeout} s")
