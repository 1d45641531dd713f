"""The cost model: which algorithm ``conv_transpose(..., algorithm="auto")`` runs, and which
fast path inside it, decided in one place from the layer's shape features.

Every candidate does the useful multiply-adds ``N * C_in * C_out/g * prod(S_in) * prod(K)``
(``phase`` adds the zero gap of its grid); what differs is the memory traffic around them:

* ``gemm``: one ``(C_out/g * prod(K), C_in/g)`` product per block, then col2im adds
  ``C_out * prod(K)`` numbers per input position into ``y`` (strided read-modify-writes).
* ``phase``: one product per sub-pixel phase block on a zero-gapped grid, then each phase's
  tap planes summed into its outputs; each output written once.
* ``direct`` (compiled, numba): each phase is an implicit product over shifted windows of the
  grid -- no product planes, no col2im -- paid for with a loop that is slower per
  multiply-add than BLAS when the reduction ``C_in/g * taps`` is long.

The rules below compare those costs through a few constants (:class:`Constants`): their
defaults are in this module, a calibrated set is read from ``cost_constants.json`` beside it
(written by ``benchmarks/calibrate.py``) or from the file named by ``TCONV_COST_FILE``. A
file may also hold sets calibrated on particular processors, under ``"hosts"`` keyed by the
processor's LLVM name (:func:`host_cpu`, the target numba compiles for): on such a host its
values replace the general set's (the relative speed of BLAS and the compiled kernels
differs between processor families, and so do the crossovers the constants place).
:func:`decide` returns a :class:`Decision` that says which rule fired and why;
``tconv.explain_algorithm`` prints it for a layer.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import pathlib
from typing import Any

import numpy as np

from .._checks import ConvParams
from . import _native, _parallel

__all__ = ["Constants", "Decision", "Features", "constants", "decide", "features", "host_cpu",
           "compiled_loops", "register_blocks", "segments", "weight_sums",
           "gemm_channels_last", "host_avx512", "single_product", "single_term",
           "scatter_sum", "gather_gradients", "take_cols", "take_rows",
           "shared_im2col"]

#: the calibrated constants shipped with the package (``benchmarks/calibrate.py`` writes it)
CONSTANTS_FILE = pathlib.Path(__file__).with_name("cost_constants.json")


@dataclasses.dataclass(frozen=True)
class Constants:
    """The cost model's constants (ratios of per-number costs, measured on one machine by
    ``benchmarks/calibrate.py``; the defaults below hold on x86-64 with AVX2 or AVX-512)."""

    #: compiled loops when ``C_in/g <= direct_depth * prod(stride)`` (and a phase has
    #: several taps): the loop's per-multiply-add cost exceeds BLAS's by less than the
    #: product planes / col2im pass it skips, which is ``C_out*prod(K)`` numbers against
    #: ``C_in/g`` multiply-adds per output
    direct_depth: float = 8.0
    #: ... and at most this many input channels per group whatever the stride (a large
    #: stride makes many phases of few taps, where BLAS's products stay efficient)
    direct_max_depth: int = 1 << 30
    #: ... and also for reductions up to this many terms (``C_in/g`` times the taps of a
    #: phase) when the layer has at most ``direct_max_cout`` output channels per group:
    #: thin outputs make BLAS's products short and wide
    direct_max_terms: int = 2048
    direct_max_cout: int = 1
    #: ... and only while the phase grid computes at most this many times the useful
    #: products (the loops walk the grid's zero gap too: small inputs, large strides)
    direct_max_overhead: float = 1e9
    #: depthwise layers: compiled loops below this last-dim stride, sub-pixel products
    #: (phase) from it on
    subpixel_stride: int = 8
    #: the input gradient (the strided conv of ``grad_out``) by compiled loops: float32, a
    #: kernel longer than the stride, every stride at most ``input_grad_max_stride`` and
    #: ``C_in/g <= input_grad_depth * prod(stride)`` (few output rows make BLAS's product
    #: short, while im2col copies ``C_out/g * prod(K)`` numbers a position); in float64
    #: the bound times ``input_grad_float64`` (the loops' vectors hold half the numbers)
    input_grad_depth: float = 16.0
    input_grad_max_stride: int = 4
    input_grad_float64: float = 0.25
    #: ... and at least this many input positions an image (the loops' vector rows)
    input_grad_min_positions: int = 64
    #: ... also at any depth for thin float32 outputs, ``C_out/g <= input_grad_max_cout``
    #: (BLAS's product then sums only ``C_out/g * prod(K)`` terms an output)
    input_grad_max_cout: int = 0
    #: ``gemm`` when ``C_out/g`` is at most this (few output channels: col2im is cheap and
    #: no padded copy of the input is needed)
    gemm_max_cout: int = 4
    #: without the compiled kernels, ``gemm`` or ``phase`` by the trade between them:
    #: ``phase`` computes ``(grid overhead - 1) * C_in/g`` extra multiply-adds per number
    #: that ``gemm``'s col2im adds, and that col2im (NumPy's strided adds, one a tap) costs
    #: a call per run of ``S_in[-1]`` numbers (``C_out/g`` channels-last): ``gemm`` when
    #: ``(overhead - 1) * C_in/g * run > numpy_gemm_extra``
    numpy_gemm_extra: float = 300.0
    #: ... except in 1-D layers, which run ``phase`` without the compiled kernels (1; 0: the
    #: trade decides them too): their grid overhead is a border effect only, and a product
    #: a phase with contiguous tap sums beats gemm's strided adds there
    numpy_phase_1d: int = 1
    #: small layers (depthwise ones only without the compiled kernels) run ``gemm`` with its
    #: col2im as one scatter of the product numbers into the output (a compiled pass;
    #: ``np.bincount`` without numba) where the product holds at most this many numbers
    #: (``N * C_out * prod(K) * prod(S_in)``): a few calls in all, where the other paths'
    #: planning, kernel calls and per-tap or per-phase NumPy calls cost more
    scatter_max: int = 131072
    #: ... the same bound without the compiled kernels (whose other paths cost more still)
    numpy_scatter_max: int = 65536
    #: the backward of a layer whose ``gemm`` product and input each hold at most this many
    #: numbers -- any layer, grouped, depthwise and 1x1 ones included: both gradients from
    #: one gather of ``grad_out``'s windows and one batched product each (a few NumPy calls
    #: in all, and copies of the input's size), where the other paths issue calls a group,
    #: a block or a kernel tap
    gather_max: int = 131072
    #: ... the same bound without the compiled kernels
    numpy_gather_max: int = 262144
    #: ... and at most this many multiply-adds a group (``macs / groups``): a deep
    #: reduction makes the gathered products' shapes slow in BLAS where the other paths
    #: run the same multiply-adds well, while each group's calls there cost the same
    gather_group_macs: int = 1048576
    #: the shared-im2col backward takes each block's windows of grad_out with one
    #: ``np.take`` through a remembered index (positions x ``C_out/g * prod(K)``) where
    #: the rows copied are shorter than ``take_cols_run`` (NumPy's strided copies run one
    #: inner loop a row, costing more than its numbers) and the index
    #: holds at most ``take_cols_index`` numbers (0: never; a larger index no longer stays
    #: in cache, and reading it costs more than the copy's short loops)
    take_cols_run: int = 32
    take_cols_index: int = 1 << 16
    #: ``gemm`` chosen for wide outputs on small images: ``C_out/g >= gemm_wide *
    #: S_in[-1]`` (phase would pay a large zero gap)
    gemm_wide: float = 8.0
    #: ... and ahead of the compiled loops from ``C_out/g >= loops_wide * S_in[-1]`` (their
    #: rows of a phase are that short while gemm's one product is long; 0: never)
    loops_wide: float = 16.0
    #: inside ``gemm``: col2im channels-last when ``C_out/g >= gemm_channels_last *
    #: S_in[-1]`` (the channels-first adds would run along rows that short)
    gemm_channels_last: float = 8.0
    #: ``gemm`` when the phase grid computes more than this many times the useful products
    phase_max_overhead: float = 1.25
    #: layers where each output is one term of one product (:func:`single_product`): the
    #: compiled register blocks (``direct``, float32 on AVX-512) from a reduction of at most
    #: ``single_direct_depth`` input channels a group (the product is then cheap and the
    #: output's passes dominate: ``direct`` writes it once; 0: never)
    single_direct_depth: int = 16
    #: ... else ``phase``'s blocked products when its grid computes at most this many
    #: times the useful products, else ``gemm``'s one product (0: always ``gemm``)
    single_phase_overhead: float = 0.0
    #: register-block segments (AVX-512 float32): terms a phase from which outputs are
    #: stored in place, the most terms whose weight block stays in L1, and how many more
    #: columns segments may compute than the flat walk
    segment_min_terms: int = 16
    segment_max_terms: int = 2048
    segment_cost: float = 1.25
    #: float32 1-D layers (compiled kernels available, several taps a phase) run ``gemm``
    #: from ``C_in/g >= gemm_min_depth_1d`` input channels on rows of ``S_in >=
    #: gemm_min_run_1d`` positions: their one long product and col2im's long contiguous
    #: runs beat the register-block segments and a product a phase; shallower layers,
    #: shorter rows and float64 keep the rules below
    gemm_min_depth_1d: int = 128
    gemm_min_run_1d: int = 64
    #: the weight gradient by compiled correlation sums, reading the input gradient's
    #: polyphase planes (split once for both): when that gradient runs compiled and
    #: ``C_in/g <= weight_sums_depth``
    weight_sums_depth: int = 16
    #: both gradients by im2col + BLAS, each block's im2col of ``grad_out`` copied once and
    #: read by both products, wherever the compiled correlation sums do not run (1); 0:
    #: each gradient by its own rule (compiled loops where those fire)
    shared_im2col: int = 1
    #: ``phase`` folds every phase into the columns of one product (depth-to-space, no
    #: loop over phases or taps) from ``prod(stride) >= fold_min_phases`` phases, where
    #: that product computes at most ``fold_max_overhead`` times the useful multiply-adds
    #: (and the register-block segments do not apply)
    fold_min_phases: int = 32
    fold_max_overhead: float = 2.0
    #: ... and where the compiled loops or the register-block segments apply, only from
    #: ``prod(stride) >= fold_over_loops_phases`` phases (fewer, longer phases: the loops
    #: keep their rows in cache and skip the depth-to-space copy) or below
    #: ``fold_loops_min_positions`` input positions an image, ``prod(S_in)`` (a phase's
    #: rows of outputs then are too short for the loops' vector tiles)
    fold_over_loops_phases: int = 256
    fold_loops_min_positions: int = 64
    #: large float32 2-D and 3-D layers run the compiled register blocks (``direct``) from
    #: ``blocks_min_macs`` multiply-adds (0: never) on at least ``blocks_min_positions``
    #: input positions in the batch (``N * prod(S_in)``), a kernel of several taps, and a
    #: phase grid of at most ``blocks_max_overhead`` times the useful products (the blocks
    #: walk the grid, its zero gap too: small images): where those kernels multiply as
    #: fast as BLAS, writing each output once beats BLAS's product planes and their col2im
    #: or phase sums (a processor's own set turns it on; where BLAS is the faster kernel
    #: it loses)
    blocks_min_macs: int = 0
    blocks_min_positions: int = 2048
    blocks_max_overhead: float = 1.25

    def __hash__(self) -> int:
        # a key of the cached decisions, hashed on each call: computed once
        h: int | None = self.__dict__.get("_hash")
        if h is None:
            h = hash(dataclasses.astuple(self))
            object.__setattr__(self, "_hash", h)
        return h

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Constants:
        names = {f.name: f.type for f in dataclasses.fields(cls)}
        known = {k: v for k, v in values.items() if k in names}
        return dataclasses.replace(cls(), **{
            k: (int(v) if isinstance(getattr(cls(), k), int) else float(v))
            for k, v in known.items()})


@functools.lru_cache(maxsize=8)
def _load(path: str, host: str = "") -> Constants:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return Constants()
    if not isinstance(data, dict):
        return Constants()
    values = data.get("constants", data)
    values = dict(values) if isinstance(values, dict) else {}
    hosts = data.get("hosts")
    block = hosts.get(host) if isinstance(hosts, dict) and host else None
    if isinstance(block, dict) and isinstance(block.get("constants"), dict):
        values.update(block["constants"])
    return Constants.from_dict(values)


@functools.lru_cache(maxsize=1)
def host_cpu() -> str:
    """The processor's LLVM name (``"znver4"``, ``"skylake-avx512"``, ...: the target numba
    compiles the kernels for), the key of a host's own calibration; ``""`` when llvmlite is
    not installed or cannot tell."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return ""
    try:
        return str(llvm.get_host_cpu_name())
    except Exception:  # noqa: BLE001 - an unknown host: the general constants
        return ""


def constants() -> Constants:
    """The constants in force: ``TCONV_COST_FILE`` if set, else the shipped calibration,
    else the defaults; in either file, this processor's own set (``"hosts"``, keyed by
    :func:`host_cpu`) over the general one."""
    path = _parallel.getenv("TCONV_COST_FILE") or str(CONSTANTS_FILE)
    return _load(path, host_cpu())


@functools.lru_cache(maxsize=1)
def host_avx512() -> bool:
    """The processor has AVX-512F (the register-block kernels' 16-lane vectors are then one
    register; elsewhere LLVM splits them and the portable loops are faster)."""
    try:
        import llvmlite.binding as llvm
    except ImportError:
        return False
    try:
        return bool(llvm.get_host_cpu_features().get("avx512f", False))
    except Exception:  # noqa: BLE001 - an unknown host: assume the portable kernels
        return False


@dataclasses.dataclass(frozen=True)
class Features:
    """The shape features the rules read."""

    ndim: int
    batch: int
    c_in: int
    c_out: int
    groups: int
    size: tuple[int, ...]
    out: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str | None
    macs: int
    cig: int
    cog: int
    #: most kernel taps a sub-pixel phase has along each dim, multiplied
    taps_per_phase: int
    #: the kernel reaches past the stride in some dim (phases have several taps)
    overlap: bool
    #: products of the phase grid over useful products (the zero gap)
    grid_overhead: float
    compiled: bool
    avx512: bool


def features(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
             dtype: np.typing.DTypeLike | None = None) -> Features:
    from . import phase

    size = tuple(x_shape[2:])
    out = p.transposed_size(size)
    cig, cog = x_shape[1] // p.groups, w_shape[1]
    taps = math.prod(-(-k // max(s // math.gcd(s, d), 1))
                     for k, s, d in zip(p.kernel, p.stride, p.dilation))
    compiled = _native.available()
    return Features(
        ndim=len(size), batch=x_shape[0], c_in=x_shape[1], c_out=cog * p.groups,
        groups=p.groups, size=size, out=out, kernel=p.kernel, stride=p.stride,
        dtype=None if dtype is None else np.dtype(dtype).name,
        macs=x_shape[0] * x_shape[1] * cog * math.prod(size) * math.prod(p.kernel),
        cig=cig, cog=cog, taps_per_phase=taps,
        overlap=any(d * (k - 1) + 1 > s for k, s, d in zip(p.kernel, p.stride, p.dilation)),
        grid_overhead=phase.grid_overhead(size, out, p) if all(size) else 1.0,
        compiled=compiled, avx512=compiled and host_avx512())


@dataclasses.dataclass(frozen=True)
class Decision:
    """What ``auto`` runs for one layer and why."""

    algorithm: str
    #: compiled loops for the input gradient in ``conv_transpose_backward``
    backward_compiled: bool
    #: register-block segments / tiles (AVX-512 float32 forward)
    segments: bool
    reasons: tuple[str, ...]
    features: Features
    #: compiled correlation sums for the weight gradient (on the input gradient's planes)
    weight_sums: bool = False
    #: both gradients by im2col + BLAS from one shared im2col of grad_out
    shared_im2col: bool = False
    #: ``phase`` folds this layer's phases into one product's columns (the algorithm
    #: ``auto`` runs where the register-block segments do not apply)
    folded: bool = False
    #: ``gemm``'s small-layer path: one batched product, col2im as one scatter
    scatter: bool = False
    #: the small-layer backward: one gather of grad_out's windows, one batched product for
    #: each gradient (:func:`gather_gradients`)
    gather: bool = False
    #: the product-size bound of :func:`gather_gradients` in force
    gather_bound: int = 0
    #: the shared im2col takes its windows through an index (:func:`take_cols`)
    take_cols: bool = False

    def __str__(self) -> str:
        f = self.features
        lines = [f"algorithm: {self.algorithm}",
                 f"layer: N={f.batch} C_in={f.c_in} C_out={f.c_out} groups={f.groups} "
                 f"S_in={f.size} K={f.kernel} stride={f.stride} -> S_out={f.out}"
                 + (f" {f.dtype}" if f.dtype else ""),
                 f"features: {f.macs:,} multiply-adds, C_in/g={f.cig}, C_out/g={f.cog}, "
                 f"taps per phase={f.taps_per_phase}, phase grid overhead="
                 f"{f.grid_overhead:.2f}, compiled kernels="
                 f"{'yes' if f.compiled else 'no'}"
                 + (" (AVX-512)" if f.avx512 else ""),
                 "why:"]
        lines += [f"  - {r}" for r in self.reasons]
        from . import depthwise

        if self.gather:
            numbers = f.batch * f.c_out * math.prod(f.kernel) * math.prod(f.size)
            inputs = f.batch * f.c_in * math.prod(f.size)
            lines.append(f"backward: a small layer (a product of {numbers:,} and an input "
                         f"of {inputs:,} numbers <= {self.gather_bound:,}, "
                         f"{f.macs // f.groups:,} multiply-adds a group): both gradients "
                         "from one gather of grad_out's windows, one batched matrix product "
                         "each")
            return "\n".join(lines)
        dw = depthwise.backward_text(f.batch, f.c_in, f.size, f.stride, f.compiled) \
            if f.cig == 1 and f.cog == 1 else None
        if dw:
            lines.append(dw)
            return "\n".join(lines)
        if self.shared_im2col:
            lines.append("backward: both gradients by im2col + matrix products, one im2col "
                         "of grad_out a block read by both"
                         + (f" (taken through an index: rows of {f.size[-1]} inputs are "
                            "too short for the window copy)" if self.take_cols else ""))
            return "\n".join(lines)
        lines.append("backward: input gradient by "
                     + ("compiled loops" if self.backward_compiled
                        else "im2col + matrix products")
                     + ", weight gradient by "
                     + ("compiled correlation sums" if self.weight_sums
                        else "im2col + matrix products"))
        return "\n".join(lines)


def _overlap(p: ConvParams) -> bool:
    """The kernel reaches past the stride in some dim (a phase has several taps)."""
    return any(d * (k - 1) + 1 > s for k, s, d in zip(p.kernel, p.stride, p.dilation))


def _single(dtype: np.typing.DTypeLike | None) -> bool:
    """float32 (or no dtype given): the compiled gradients' vector loops pay only there."""
    return dtype is None or np.dtype(dtype) == np.float32


def compiled_loops(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                   c: Constants | None = None, backward: bool = False,
                   dtype: np.typing.DTypeLike | None = None) -> bool:
    """The compiled implicit products (``direct``) beat the BLAS-based algorithms:
    depthwise layers below the sub-pixel stride; otherwise a kernel longer than the stride
    (several taps a phase, whose product planes the others would sum) and a short
    reduction: ``C_in/g <= direct_depth * prod(stride)`` (and ``<= direct_max_depth``), or
    thin outputs (``C_out/g <= direct_max_cout``) with at most ``direct_max_terms`` terms
    an output. ``backward``: the input gradient's rule (``input_grad_*`` constants)."""
    if not _native.available():
        return False
    c = c or constants()
    if not backward:
        return _loops_refusal(x_shape, w_shape, p, c) is None
    cig, cog = x_shape[1] // p.groups, w_shape[1]
    if cig == 1 and cog == 1:
        return p.stride[-1] < c.subpixel_stride
    if not _overlap(p):
        return False
    depth = c.input_grad_depth * math.prod(p.stride)
    if not _single(dtype):
        depth *= c.input_grad_float64
    thin = _single(dtype) and cog <= c.input_grad_max_cout
    return (max(p.stride) <= c.input_grad_max_stride and (cig <= depth or thin)
            and math.prod(x_shape[2:]) >= c.input_grad_min_positions)


def _loops_refusal(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                   c: Constants) -> str | None:
    """The forward rule of :func:`compiled_loops`: None where the loops apply, else why
    not, in the terms of the rule (``explain_algorithm`` prints it)."""
    cig, cog = x_shape[1] // p.groups, w_shape[1]
    if cig == 1 and cog == 1:
        if p.stride[-1] < c.subpixel_stride:
            return None
        return (f"depthwise with stride[-1]={p.stride[-1]} >= subpixel_stride="
                f"{c.subpixel_stride} (sub-pixel products instead)")
    if not _overlap(p):
        return "each phase has one tap (kernel <= stride)"
    size = tuple(x_shape[2:])
    if c.direct_max_overhead < 1e9 and all(size):
        from . import phase

        over = phase.grid_overhead(size, p.transposed_size(size), p)
        if over > c.direct_max_overhead:
            return (f"phase grid overhead {over:.2f} > direct_max_overhead="
                    f"{c.direct_max_overhead:g}")
    depth = c.direct_depth * math.prod(p.stride)
    if cig <= depth and cig <= c.direct_max_depth:
        return None
    why = (f"C_in/g={cig} > {c.direct_depth:g} x prod(stride)={depth:g}" if cig > depth
           else f"C_in/g={cig} > direct_max_depth={c.direct_max_depth}")
    taps = math.prod(-(-k // s) for k, s in zip(p.kernel, p.stride))
    if cog > c.direct_max_cout:
        return f"{why}, and C_out/g={cog} > direct_max_cout={c.direct_max_cout}"
    if cig * taps > c.direct_max_terms:
        return (f"{why}, and {cig * taps} terms an output > direct_max_terms="
                f"{c.direct_max_terms}")
    return None


def folded(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
           c: Constants | None = None) -> bool:
    """``phase`` folds its phases into one product's columns: not depthwise, dilation 1,
    phases with several taps (not :func:`single_product`, which is one product already), at
    least ``fold_min_phases`` phases (``prod(stride)``: the loops over phases and taps the
    other algorithms run), and at most ``fold_max_overhead`` times the useful multiply-adds
    (:func:`tconv._algorithms.folded.overhead`)."""
    from . import folded as fold

    c = c or constants()
    if not fold.applies(x_shape, w_shape, p) or math.prod(p.stride) < c.fold_min_phases \
            or single_product(x_shape, w_shape, p):
        return False
    return fold.overhead(tuple(x_shape[2:]), p) <= c.fold_max_overhead


def register_blocks(dtype: np.typing.DTypeLike, c_out: int) -> bool:
    """The AVX-512 register-block kernels apply: float32, an AVX-512 host, and output
    channels (of a group) that fill at least 3/4 of the blocks of ``TILE_MR`` rows."""
    from . import direct

    if not (direct.TILED and np.dtype(dtype) == np.float32
            and _native.available() and host_avx512()):
        return False
    from ._native import TILE_MR

    blocks = -(-c_out // TILE_MR)
    return 4 * c_out >= 3 * blocks * TILE_MR


def segments(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
             dtype: np.typing.DTypeLike, c: Constants | None = None) -> bool:
    """The forward pass runs the register-block row segments and beats the BLAS-based
    algorithms: :func:`register_blocks`, a kernel longer than the stride, between
    ``segment_min_terms`` and ``segment_max_terms`` terms a phase, rows long enough that
    segments compute at most ``segment_cost`` times the flat walk's columns."""
    from . import direct

    c = c or constants()
    if (not direct.SEGMENTS or p.groups != 1 or x_shape[0] == 0
            or not any(d * (k - 1) + 1 > s for k, s, d in zip(p.kernel, p.stride, p.dilation))
            or not register_blocks(dtype, w_shape[1])):
        return False
    return direct.segments_fit(x_shape, w_shape, p, c.segment_min_terms,
                               c.segment_max_terms, c.segment_cost)


def single_product(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                   ) -> bool:
    """Each output is at most one term of one matrix product, nothing to add up: along
    every spatial dim the dilated kernel fits in the stride (1x1 kernels, 2x2 at stride 2)
    or the input has one position (1x1 inputs), and the layer is not depthwise. ``gemm``'s
    product alone computes it (``tconv.conv_transpose`` runs that product, then one
    strided copy a tap, without col2im's adds)."""
    if x_shape[1] // p.groups == 1 and w_shape[1] == 1:
        return False
    return _one_term(x_shape, p)


def _one_term(x_shape: tuple[int, ...], p: ConvParams) -> bool:
    """Each output is at most one kernel tap's term: along every spatial dim the dilated
    kernel fits in the stride, or the input has one position."""
    return all(d * (k - 1) < s or i == 1
               for k, s, d, i in zip(p.kernel, p.stride, p.dilation, x_shape[2:]))


def single_term(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams) -> bool:
    """A depthwise layer each of whose outputs is at most one term ``x * w`` (along every
    spatial dim the dilated kernel fits in the stride, or the input has one position):
    ``tconv.conv_transpose`` writes it as one broadcast multiply a kernel tap, straight into
    the output (no product, no sums)."""
    return x_shape[1] // p.groups == 1 and w_shape[1] == 1 and _one_term(x_shape, p)


def weight_sums(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                c: Constants | None = None, dtype: np.typing.DTypeLike | None = None) -> bool:
    """The weight gradient by the compiled correlation sums on the planes the compiled
    input gradient splits (:func:`compiled_loops` with ``backward``): few input channels
    per group, ``C_in/g <= weight_sums_depth`` (depthwise layers always)."""
    c = c or constants()
    if not compiled_loops(x_shape, w_shape, p, c, backward=True, dtype=dtype):
        return False
    cig = x_shape[1] // p.groups
    return cig <= c.weight_sums_depth or (cig == 1 and w_shape[1] == 1)


def shared_im2col(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                  c: Constants | None = None, dtype: np.typing.DTypeLike | None = None
                  ) -> bool:
    """Both gradients of a layer that is not depthwise by im2col + BLAS from one im2col of
    ``grad_out`` a block (``tconv.grad``): the constant ``shared_im2col`` is set and the
    compiled correlation sums (:func:`weight_sums`) do not run. Without the compiled
    kernels, always. The copy is ``C_out/g * prod(K)`` numbers an input position that each
    gradient's own im2col would make once more."""
    c = c or constants()
    if x_shape[1] // p.groups == 1 and w_shape[1] == 1:
        return False
    if not _native.available():
        return True
    return bool(c.shared_im2col) and not weight_sums(x_shape, w_shape, p, c, dtype=dtype)


def _product_numbers(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams
                     ) -> int:
    """Numbers in ``gemm``'s product: ``N * C_out * prod(K) * prod(S_in)``."""
    return x_shape[0] * w_shape[1] * p.groups * math.prod(p.kernel) * math.prod(x_shape[2:])


def scatter_sum(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                c: Constants | None = None) -> bool:
    """``gemm`` runs its product and a one-call col2im (a compiled scatter, or
    ``np.bincount``): a layer with a
    kernel and an input of more than one position (else the product is the output, placed
    by a copy a tap) whose product holds at most ``scatter_max`` numbers
    (``numpy_scatter_max`` without the compiled kernels). Depthwise layers only without the
    compiled kernels: their NumPy passes cost a call or more a tap, while the compiled
    depthwise pass writes each output once in one call."""
    c = c or constants()
    compiled = _native.available()
    if (x_shape[0] == 0 or math.prod(p.kernel) == 1 or math.prod(x_shape[2:]) == 1
            or (compiled and x_shape[1] == p.groups and w_shape[1] == 1)):
        return False
    bound = c.scatter_max if compiled else c.numpy_scatter_max
    return _product_numbers(x_shape, w_shape, p) <= bound


def gather_gradients(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
                     c: Constants | None = None) -> bool:
    """``conv_transpose_backward`` computes both gradients from one gather of ``grad_out``'s
    windows (``tconv.grad``): a non-empty batch whose ``gemm`` product and input each hold
    at most ``gather_max`` numbers (``numpy_gather_max`` without the compiled kernels) and
    whose multiply-adds a group are at most ``gather_group_macs``, whatever the groups or
    kernel."""
    c = c or constants()
    bound = c.gather_max if _native.available() else c.numpy_gather_max
    numbers = _product_numbers(x_shape, w_shape, p)
    group_macs = numbers * (x_shape[1] // p.groups) // p.groups
    return (x_shape[0] > 0 and max(numbers, math.prod(x_shape)) <= bound
            and group_macs <= c.gather_group_macs)


def take_rows(run: int, index: int, c: Constants | None = None) -> bool:
    """A copy whose rows hold ``run`` numbers is one ``np.take`` through a remembered index
    of ``index`` numbers instead: rows shorter than ``take_cols_run``, an index of at most
    ``take_cols_index`` numbers."""
    c = c or constants()
    return run < c.take_cols_run and 0 < index <= c.take_cols_index


def take_cols(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
              c: Constants | None = None) -> bool:
    """The shared-im2col backward takes its windows of ``grad_out`` through an index
    (:func:`take_rows`): rows of the input's last dim, an index of the input positions
    times ``C_out/g * prod(K)``."""
    return len(x_shape) > 2 and take_rows(
        x_shape[-1], math.prod(x_shape[2:]) * w_shape[1] * math.prod(p.kernel), c)


def gemm_channels_last(x_shape: tuple[int, ...], w_shape: tuple[int, ...],
                       c: Constants | None = None) -> bool:
    """gemm's col2im runs channels-last: ``C_out/g`` at least ``gemm_channels_last`` times
    the last input dim (the inner run of the channels-first adds)."""
    c = c or constants()
    return w_shape[1] >= c.gemm_channels_last * x_shape[-1]


def decide(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
           dtype: np.typing.DTypeLike | None = None, c: Constants | None = None,
           compiled: bool | None = None) -> Decision:
    """The algorithm and fast paths for a batched input shape, validated parameters and
    the computation's dtype (``None``: rules for one dtype do not apply); ``compiled``:
    whether the compiled kernels may run (default: :func:`_native.available`)."""
    c = c or constants()
    key = None if dtype is None else _dtype_name(dtype)
    return _decide(tuple(x_shape), tuple(w_shape), p, key, c,
                   _native.available() if compiled is None else compiled)


#: caches built on :func:`decide`'s answers (planned calls), cleared with them
_DEPENDENT_CACHES: list[Any] = []


def clear_decisions() -> None:
    """Forget the remembered decisions and the planned calls built on them: after a change
    of what a decision depends on inside the process (a test's patched rule)."""
    _decide.cache_clear()
    for cache in _DEPENDENT_CACHES:
        cache.cache_clear()


@functools.lru_cache(maxsize=16)
def _dtype_name(dtype: np.typing.DTypeLike) -> str:
    # remembered: ``np.dtype(...).name`` is a Python-level property, slow next to a cached
    # decision
    return np.dtype(dtype).name


@functools.lru_cache(maxsize=256)
def _decide(x_shape: tuple[int, ...], w_shape: tuple[int, ...], p: ConvParams,
            dtype: str | None, c: Constants, compiled: bool) -> Decision:
    f = features(x_shape, w_shape, p, dtype)
    why: list[str] = []
    scatter = scatter_sum(x_shape, w_shape, p, c)
    loops = compiled_loops(x_shape, w_shape, p, c)
    back = compiled_loops(x_shape, w_shape, p, c, backward=True, dtype=dtype)
    segs = dtype is not None and segments(x_shape, w_shape, p, dtype, c)
    fold = folded(x_shape, w_shape, p, c)
    phases, positions = math.prod(p.stride), math.prod(x_shape[2:])
    wide_small = c.loops_wide > 0 and f.cog >= c.loops_wide * x_shape[-1]
    long_1d = (compiled and p.ndim == 1 and _single(dtype) and f.overlap
               and f.cig >= c.gemm_min_depth_1d and x_shape[-1] >= c.gemm_min_run_1d)
    big_blocks = (compiled and c.blocks_min_macs > 0 and dtype is not None and p.ndim >= 2
                  and not (f.cig == 1 and f.cog == 1) and f.macs >= c.blocks_min_macs
                  and x_shape[0] * positions >= c.blocks_min_positions
                  and f.grid_overhead <= c.blocks_max_overhead
                  and math.prod(p.kernel) > 1 and register_blocks(dtype, f.cog))
    if not compiled:
        why.append("compiled kernels unavailable (numba missing, TCONV_NUMBA=0 or a "
                   "failed compile): NumPy algorithms only")
    if scatter:
        bound = c.scatter_max if compiled else c.numpy_scatter_max
        how = "one compiled scatter" if compiled else "one bincount"
        why.append(f"a small layer (a product of {_product_numbers(x_shape, w_shape, p):,} "
                   f"numbers <= {bound:,}): one batched product, col2im as {how} (a "
                   "few calls in all)")
        algo = "gemm"
    elif f.cig == 1 and f.cog == 1:
        from . import depthwise

        if depthwise.preferred(x_shape, w_shape, p):
            why.append(depthwise.reason(x_shape, p))
            algo = "direct"
        elif single_term(x_shape, w_shape, p):
            why.append("depthwise, every dim has a kernel within the stride or a one-position "
                       "input: each output is at most one term x * w, one broadcast multiply "
                       "a kernel tap written into the output")
            algo = "gemm"
        elif loops:
            why.append(f"depthwise, stride {p.stride[-1]} < {c.subpixel_stride}: compiled "
                       "loops write each output once")
            algo = "direct"
        else:
            why.append("depthwise: broadcast multiply-adds per phase, each output written "
                       "once (sub-pixel products from stride "
                       f"{c.subpixel_stride})")
            algo = "phase"
    elif big_blocks:
        why.append(f"a large float32 layer ({f.macs:,} multiply-adds >= {c.blocks_min_macs:,}, "
                   f"{x_shape[0] * positions:,} input positions >= "
                   f"{c.blocks_min_positions:,}, grid overhead {f.grid_overhead:.2f} <= "
                   f"{c.blocks_max_overhead:g}): compiled register blocks write each output "
                   "once, at BLAS's rate on this processor")
        algo = "direct"
    elif fold and (not (loops or segs) or phases >= c.fold_over_loops_phases
                   or positions < c.fold_loops_min_positions):
        # (the compiled loops and the register-block segments write each output once and
        # keep a phase's rows in cache: kept where they apply, unless the phases are many
        # or the input has few positions)
        from . import folded as fold_mod

        if not (loops or segs):
            why.append(f"{phases} phases (prod(stride) >= {c.fold_min_phases})")
        elif phases >= c.fold_over_loops_phases:
            why.append(f"{phases} phases (>= {c.fold_over_loops_phases}: too many for the "
                       "compiled loops)")
        else:
            why.append(f"{phases} phases and {positions} input positions an image (< "
                       f"{c.fold_loops_min_positions}: rows too short for the compiled "
                       "loops' vector tiles)")
        why[-1] += (" folded into the columns of one matrix product, then depth-to-space: "
                    "no loop over phases or taps; "
                    f"{fold_mod.overhead(f.size, p):.2f}x the useful multiply-adds (<= "
                    f"{c.fold_max_overhead:g})")
        algo = "phase"
    elif single_product(x_shape, w_shape, p):
        if (compiled and dtype is not None and f.cig <= c.single_direct_depth
                and register_blocks(dtype, f.cog)):
            why.append("every dim has a kernel within the stride or a one-position input, "
                       f"and a short reduction (C_in/g={f.cig} <= {c.single_direct_depth}): "
                       "the output's passes dominate; compiled register blocks write each "
                       "output once")
            algo = "direct"
        elif f.grid_overhead <= c.single_phase_overhead:
            why.append("every dim has a kernel within the stride or a one-position input: "
                       "each output is one term of a product; blocks of phase's products "
                       f"(grid overhead {f.grid_overhead:.2f} <= "
                       f"{c.single_phase_overhead:g}), each copied out while in cache")
            algo = "phase"
        else:
            why.append("every dim has a kernel within the stride or a one-position input: "
                       "each output is at most one term of one matrix product, copied "
                       "without col2im")
            algo = "gemm"
    elif loops and wide_small:
        why.append(f"wide output on small images (C_out/g={f.cog} >= {c.loops_wide:g} x "
                   f"S_in[-1]={x_shape[-1]}): one long product and col2im beat the compiled "
                   "loops' short phase rows")
        algo = "gemm"
    elif loops:
        if f.cig <= min(c.direct_depth * math.prod(p.stride), c.direct_max_depth):
            why.append(f"kernel longer than the stride and a short reduction: C_in/g="
                       f"{f.cig} <= {c.direct_depth:g} x prod(stride)="
                       f"{c.direct_depth * math.prod(p.stride):g}; compiled loops skip the "
                       "product planes")
        else:
            why.append(f"thin output (C_out/g={f.cog} <= {c.direct_max_cout}) with "
                       f"{f.cig * f.taps_per_phase} <= {c.direct_max_terms} terms an "
                       "output: compiled loops")
        algo = "direct"
    elif long_1d:
        why.append(f"float32 1-D, a long reduction (C_in/g={f.cig} >= {c.gemm_min_depth_1d}) "
                   f"on long rows (S_in={x_shape[-1]} >= {c.gemm_min_run_1d}): one product, "
                   "col2im adds contiguous runs")
        algo = "gemm"
    elif segs:
        why.append("float32 on AVX-512, one group, several taps a phase, rows of 16 or "
                   "more outputs: register-block segments, each output written once")
        algo = "direct"
    elif not compiled:
        run = f.cog if gemm_channels_last(x_shape, w_shape, c) else x_shape[-1]
        extra = (f.grid_overhead - 1) * f.cig * run
        if p.ndim == 1 and c.numpy_phase_1d:
            why.append("NumPy, 1-D: one product per phase block and contiguous tap sums "
                       "(the phase grid's overhead is a border effect only)")
            algo = "phase"
        elif extra > c.numpy_gemm_extra:
            why.append(f"NumPy: the phase grid's extra products, (overhead {f.grid_overhead:.2f}"
                       f" - 1) x C_in/g={f.cig} x col2im run {run} = {extra:.0f} > "
                       f"{c.numpy_gemm_extra:g}, cost more than gemm's strided adds")
            algo = "gemm"
        else:
            why.append(f"NumPy: gemm's strided adds (runs of {run} numbers) cost more than "
                       f"the phase grid's extra products, (overhead {f.grid_overhead:.2f}"
                       f" - 1) x C_in/g={f.cig} x {run} = {extra:.0f} <= "
                       f"{c.numpy_gemm_extra:g}: one product per phase block, contiguous tap "
                       "sums")
            algo = "phase"
    elif f.cog <= c.gemm_max_cout:
        why.append(f"few output channels (C_out/g={f.cog} <= {c.gemm_max_cout}): col2im "
                   "adds few numbers and no padded copy of the input is made")
        algo = "gemm"
    elif w_shape[1] >= c.gemm_wide * x_shape[-1]:
        why.append(f"wide output on small images (C_out/g={f.cog} >= "
                   f"{c.gemm_wide:g} x S_in[-1]={x_shape[-1]}): col2im adds runs of "
                   "output channels, no zero gap")
        algo = "gemm"
    elif f.grid_overhead > c.phase_max_overhead:
        why.append(f"the phase grid's zero gap costs {f.grid_overhead:.2f}x the products "
                   f"(> {c.phase_max_overhead:g})")
        algo = "gemm"
    else:
        why.append("one product per phase block, contiguous tap sums, each output written "
                   "once")
        algo = "phase"
    if compiled and not loops and not segs and not fold and algo != "direct":
        why.append(f"compiled loops not chosen: {_loops_refusal(x_shape, w_shape, p, c)}")
    sums = weight_sums(x_shape, w_shape, p, c, dtype=dtype)
    shared = shared_im2col(x_shape, w_shape, p, c, dtype=dtype)
    return Decision(algorithm=algo, backward_compiled=back and not shared,
                    segments=segs and algo == "direct",
                    reasons=tuple(why),
                    features=f, weight_sums=sums, shared_im2col=shared, folded=fold,
                    scatter=scatter, gather=gather_gradients(x_shape, w_shape, p, c),
                    gather_bound=c.gather_max if compiled else c.numpy_gather_max,
                    take_cols=shared and take_cols(x_shape, w_shape, p, c))


def params(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any = 1,
           padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
           output_size: Any = None) -> ConvParams:
    """Validated :class:`ConvParams` for a batched ``x_shape`` (as ``conv_transpose``)."""
    from ..conv import transposed_params

    p, _ = transposed_params("explain_algorithm", tuple(x_shape), tuple(w_shape), None,
                             stride, padding, output_padding, groups, dilation, output_size)
    return p


def explain_algorithm(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any = 1,
                      padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                      dilation: Any = 1, *, dtype: np.typing.DTypeLike = np.float32,
                      output_size: Any = None) -> Decision:
    """Which algorithm ``conv_transpose(..., algorithm="auto")`` runs for these shapes, and why.

    Returns a :class:`~tconv._algorithms._cost.Decision`; ``print()`` it for the reasons.

    Args:
        x_shape: the input's shape ``(N, C_in, *S_in)`` (or ``(C_in, *S_in)``).
        w_shape: the weight's shape ``(C_in, C_out/groups, *K)``.
        stride, padding, output_padding, groups, dilation, output_size: as in
            :func:`tconv.conv_transpose`.
        dtype: the computation's dtype.

    Raises:
        ValueError, TypeError: as :func:`tconv.conv_transpose` for invalid geometry.

    Examples:
        >>> import tconv
        >>> d = tconv.explain_algorithm((1, 56, 32, 32), (56, 1, 9, 9), 2, 4, 1)
        >>> d.algorithm in ("direct", "gemm")
        True
        >>> d.features.out
        (64, 64)
    """
    x_shape, w_shape = tuple(int(v) for v in x_shape), tuple(int(v) for v in w_shape)
    if len(x_shape) == len(w_shape) - 1:
        x_shape = (1, *x_shape)
    p = params(x_shape, w_shape, stride, padding, output_padding, groups, dilation,
               output_size)
    return decide(x_shape, w_shape, p, dtype)
