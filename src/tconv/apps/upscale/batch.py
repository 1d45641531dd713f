"""``tconv upscale`` on files and folders: plan, check, shard, run, report.

What a run promises (each promise is held by a test in ``tests/apps/test_upscale_hostile.py``
and ``tests/apps/test_upscale_faults.py``):

* **Fail fast.** The output name (``-o`` suffix), the writability of every output folder,
  existing outputs, and the weights (names, shapes, dtypes, finiteness against the config)
  are checked before any image is read.
* **One bad file never ends a run.** A file that cannot be read, decoded, up-scaled or
  written (including ``MemoryError``) is reported once on stderr and skipped; the run goes on
  and exits 1 with a summary.
* **Nothing partial, nothing clobbered.** Each output is encoded into a hidden temporary
  file in the target folder and renamed into place (:func:`tconv.io.write_image`); an
  existing output is never replaced without ``overwrite``. On SIGTERM or Ctrl-C the file in
  progress is abandoned and its temporary file removed; the run exits 143 / 130 with a
  one-line message. After ``kill -9`` a hidden ``.NAME.*.part`` file may remain; the next run
  that writes ``NAME`` removes it.
* **Resumable, shardable.** ``skip_existing`` skips outputs already present (complete, by the
  rename above), so an interrupted job is finished by running it again. Under ``torchrun``
  (``RANK``/``WORLD_SIZE``, or an initialised ``torch.distributed`` group) the planned list,
  identical on every process, is split ``i % world == rank``: each file is done by exactly
  one process, and the union of the outputs equals a 1-process run file for file.
"""

from __future__ import annotations

import os
import pathlib
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ... import io as tio

__all__ = ["READ_SUFFIXES", "Job", "plan", "shard", "upscale_files"]

#: suffixes picked up when a folder is given (files given by name may be any image)
READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")


@dataclass
class Job:
    """One input file and the output it becomes."""

    src: pathlib.Path
    dst: pathlib.Path


def _supported() -> str:
    return ", ".join(tio.WRITE_FORMATS)


def _expand(inputs: Sequence[pathlib.Path]) -> list[pathlib.Path]:
    files = []
    for p in inputs:
        if p.is_dir():
            files += sorted(f for f in p.iterdir()
                            if f.is_file() and f.suffix.lower() in READ_SUFFIXES
                            and not f.name.startswith("."))
        elif p.exists():
            files.append(p)
        else:
            raise FileNotFoundError(f"upscale: no such file or folder {str(p)!r}")
    return files


def _out_name(src: pathlib.Path, scale: int) -> str:
    # outputs keep the input's format where tconv writes it (GIF and others become PNG)
    suffix = src.suffix if src.suffix.lower() in tio.WRITE_FORMATS else ".png"
    return f"{src.stem}_x{scale}{suffix}"


def plan(inputs: Sequence[pathlib.Path], output: pathlib.Path | None, scale: int
         ) -> list[Job]:
    """The ``(src, dst)`` list of a run, checked before any image is read.

    ``output``: ``None`` (next to each input, ``NAME_x{scale}.ext``), an existing folder or a
    name without a suffix (a folder, created), or a file name with a suffix tconv writes
    (one input only).

    Raises:
        FileNotFoundError: an input that does not exist.
        ValueError: no image files, an output suffix tconv does not write, a file output for
            several inputs, or two inputs that would write the same output.
    """
    files = _expand(inputs)
    if not files:
        raise ValueError("upscale: no image files found in " + ", ".join(map(str, inputs))
                         + f" (folders are scanned for {', '.join(READ_SUFFIXES)})")
    many = len(files) > 1 or any(p.is_dir() for p in inputs)
    folder: pathlib.Path | None = None
    if output is not None:
        if output.is_dir():
            folder = output
        elif output.suffix:
            if output.suffix.lower() not in tio.WRITE_FORMATS:
                raise ValueError(f"upscale: -o {str(output)!r}: tconv does not write "
                                 f"{output.suffix!r} files (supported: {_supported()}); "
                                 "for a folder give a name without a suffix or create it "
                                 "first")
            if many:
                raise ValueError(f"upscale: -o {str(output)!r} is a file name but there are "
                                 f"{len(files)} inputs; give a folder")
            return [Job(files[0], output)]
        else:
            folder = output
    jobs = [Job(f, (folder if folder is not None else f.parent) / _out_name(f, scale))
            for f in files]
    # a folder up-scaled in place holds the outputs of an earlier run: never inputs again
    outputs = {j.dst.absolute() for j in jobs}
    jobs = [j for j in jobs if j.src.absolute() not in outputs]
    seen: dict[pathlib.Path, pathlib.Path] = {}
    for job in jobs:
        key = job.dst.resolve() if job.dst.parent.exists() else job.dst.absolute()
        if key in seen:
            raise ValueError(f"upscale: {str(seen[key])!r} and {str(job.src)!r} would both "
                             f"write {str(job.dst)!r}; up-scale them into different folders")
        seen[key] = job.src
    return jobs


def check_writable(jobs: Sequence[Job]) -> None:
    """Create the output folders and prove each writable with a temporary file, so an
    unwritable destination is found before any work (not after it)."""
    for folder in sorted({j.dst.parent for j in jobs}):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".tconv-write-check.", dir=folder)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ValueError(f"upscale: cannot write into {str(folder)!r} "
                             f"({type(exc).__name__}: {exc.strerror or exc})") from None


def shard(jobs: Sequence[Job], rank: int, world: int) -> list[tuple[int, Job]]:
    """This process's share: job ``i`` (of the list every process plans alike) goes to
    process ``i % world``. Returns ``(global index, job)`` pairs."""
    return [(i, j) for i, j in enumerate(jobs) if i % world == rank]


def _rank_world() -> tuple[int, int]:
    """``(rank, world)``: an initialised ``torch.distributed`` group, else torchrun's
    environment (no process group is needed to split a file list), else ``(0, 1)``."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank()), int(dist.get_world_size())
    from .._distributed import env_world

    rank, world, _ = env_world()
    return rank, world


class _Terminated(BaseException):
    """Raised in the main thread by SIGTERM: unwinds like Ctrl-C (temp files removed)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    # SIGTERM's default action kills without unwinding, which would strand the temporary
    # file of the output in progress; raise instead. Restored on exit; main thread only.
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated(signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _remove_stale_parts(dst: pathlib.Path) -> None:
    # temp files of dst left by a run that was killed with SIGKILL (no chance to clean up)
    try:
        for p in dst.parent.glob(f".{dst.name}.*.part"):
            p.unlink(missing_ok=True)
    except OSError:
        pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, MemoryError):
        return ("out of memory (MemoryError); try a smaller --tile, or check the image is "
                "what it claims to be")
    if isinstance(exc, (ValueError, OSError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


@dataclass
class RunReport:
    """What :func:`upscale_files` did on this process."""

    done: list[pathlib.Path] = field(default_factory=list)
    skipped: list[pathlib.Path] = field(default_factory=list)
    failed: list[tuple[pathlib.Path, str]] = field(default_factory=list)
    interrupted: int | None = None          # the exit code of an interruption (130 / 143)


def upscale_files(inputs: Sequence[pathlib.Path], output: pathlib.Path | None, opts: Any,
                  *, skip_existing: bool = False, device: str | None = None,
                  log: Callable[[str], None] | None = None,
                  out: Callable[[str], None] = print) -> RunReport:
    """Up-scale ``inputs`` (files and folders) as ``tconv upscale`` does.

    Args:
        inputs, output: as :func:`plan`.
        opts: :class:`tconv.apps.upscale.infer.UpscaleOptions`.
        skip_existing: leave outputs that already exist (complete by construction) and do the
            rest: how an interrupted job is finished.
        device: for the torch engine, ``auto|cpu|cuda|cuda:N|mps``.
        log: where messages go (default: stderr); ``out`` gets each written path.

    Returns:
        A :class:`RunReport`; the caller turns it into an exit code.
    """
    from .infer import load_model, upscale_array

    if log is None:
        def log(msg: str) -> None:
            print(msg, file=sys.stderr, flush=True)
    if skip_existing and opts.overwrite:
        raise ValueError("upscale: --skip-existing and --overwrite contradict each other; "
                         "give one")
    report = RunReport()
    rank, world = 0, 1
    mine: list[tuple[int, Job]] = []
    bar: Any = None
    try:
        # SIGTERM unwinds (temp file removed) from here on, planning and loading included
        with _sigterm_unwinds():
            jobs = plan(inputs, output, opts.scale)
            rank, world = _rank_world()
            mine = shard(jobs, rank, world)
            if not opts.overwrite and not skip_existing:
                existing = [j.dst for _, j in mine if j.dst.exists()]
                if existing:
                    names = ", ".join(repr(str(p)) for p in existing[:3])
                    more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
                    raise FileExistsError(f"upscale: output exists: {names}{more}; pass "
                                          "--overwrite to replace, or --skip-existing to "
                                          "keep what exists and do the rest")
            model = None
            if opts.method == "learned":   # bad weights (or no torch) stop the run before any
                model = load_model(opts.weights, opts.scale, opts.engine, device=device)
            check_writable([j for _, j in mine])     # image, and before a folder is made
            from .._train import progress

            bar = progress(total=len(jobs), desc=f"upscale x{opts.scale}",
                           disable=True if (rank != 0 or len(jobs) < 2) else None)
            for i, job in mine:
                if skip_existing and job.dst.exists():
                    report.skipped.append(job.dst)
                else:
                    _one(job, opts, model, report, log, out, upscale_array)
                if hasattr(bar, "update"):  # rank 0: the global count (files i..i+world-1
                    bar.update(min(i + world, len(jobs)) - bar.n)    # are the others')
    except KeyboardInterrupt:
        report.interrupted = 130
    except _Terminated:
        report.interrupted = 143
    finally:
        if hasattr(bar, "close"):
            bar.close()
    if report.interrupted is not None:
        what = "SIGTERM" if report.interrupted == 143 else "interrupted (Ctrl-C)"
        if not report.done:
            log(f"tconv upscale: {what} before any output was written; nothing partial is "
                "left. Run the same command with --skip-existing to finish.")
        else:
            log(f"tconv upscale: {what} after {len(report.done)} of {len(mine)} file(s); "
                "written outputs are complete, the one in progress was discarded. Run the "
                "same command with --skip-existing to finish.")
    elif report.failed:
        where = f" on rank {rank} of {world}" if world > 1 else ""
        log(f"tconv upscale: {len(report.failed)} of {len(mine)} file(s) failed{where}: "
            + ", ".join(repr(str(p)) for p, _ in report.failed[:5])
            + (" ..." if len(report.failed) > 5 else ""))
    return report


def _one(job: Job, opts: Any, model: Any, report: RunReport, log: Callable[[str], None],
         out: Callable[[str], None], upscale_array: Callable[..., Any]) -> None:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", tio.MultiFrameWarning)
            img, info = tio.read_image(job.src, max_pixels=opts.max_pixels)
        for w in caught:
            if issubclass(w.category, tio.MultiFrameWarning):
                log(f"tconv upscale: warning: {w.message}")
        ext = job.dst.suffix.lower()
        if tio.WRITE_FORMATS[ext] == "JPEG" and img.ndim == 3 and img.shape[2] == 4:
            raise ValueError(f"{str(job.src)!r} has alpha, which JPEG cannot store; "
                             "write a .png")
        result = upscale_array(img, opts, model)
        _remove_stale_parts(job.dst)
        exif = info.get("exif") if result.dtype.itemsize == 1 else None
        tio.write_image(job.dst, result, overwrite=opts.overwrite, exif=exif)
    except Exception as exc:            # noqa: BLE001 - reported, and the run goes on
        report.failed.append((job.src, _describe(exc)))
        log(f"tconv upscale: skipped {str(job.src)!r}: {_describe(exc)}")
        return
    report.done.append(job.dst)
    out(str(job.dst))
