"""hypothesis strategies over valid (transposed) convolution configurations."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st


@dataclass(frozen=True)
class Config:
    ndim: int
    batch: int
    groups: int
    cig: int        # input channels per group
    cog: int        # output channels per group
    size: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    padding: tuple[int, ...]
    output_padding: tuple[int, ...]

    @property
    def c_in(self) -> int:
        return self.groups * self.cig

    @property
    def c_out(self) -> int:
        return self.groups * self.cog

    def out_size(self) -> tuple[int, ...]:
        return tuple((i - 1) * s - 2 * p + d * (k - 1) + op + 1 for i, s, p, d, k, op
                     in zip(self.size, self.stride, self.padding, self.dilation, self.kernel,
                            self.output_padding))


@st.composite
def transposed_configs(draw: st.DrawFn, max_ndim: int = 3) -> Config:
    """Random configurations PyTorch accepts for conv_transpose (non-empty output)."""
    nd = draw(st.integers(1, max_ndim))
    small = 6 if nd == 1 else (4 if nd == 2 else 3)

    def per_dim(lo: int, hi: int) -> tuple[int, ...]:
        return tuple(draw(st.integers(lo, hi)) for _ in range(nd))

    kernel = per_dim(1, 4)
    stride = per_dim(1, 3)
    dilation = per_dim(1, 2)
    size = per_dim(1, small)
    padding = tuple(draw(st.integers(0, d * (k - 1))) for k, d in zip(kernel, dilation))
    op = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    cfg = Config(nd, draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2)),
                 draw(st.integers(1, 2)), size, kernel, stride, dilation, padding, op)
    if any(o < 1 for o in cfg.out_size()):
        # shrink padding until the output is non-empty (always possible: padding 0 works)
        cfg = Config(nd, cfg.batch, cfg.groups, cfg.cig, cfg.cog, size, kernel, stride,
                     dilation, (0,) * nd, op)
    return cfg


@st.composite
def conv_configs(draw: st.DrawFn, max_ndim: int = 3) -> Config:
    """Random configurations PyTorch accepts for conv (kernel fits the padded input)."""
    nd = draw(st.integers(1, max_ndim))
    kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(nd))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
    reach = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    small = 8 if nd == 1 else (6 if nd == 2 else 4)
    size = tuple(draw(st.integers(max(1, r - 2 * p), max(1, r - 2 * p) + small))
                 for r, p in zip(reach, padding))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
    return Config(nd, draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2)),
                  draw(st.integers(1, 2)), size, kernel, stride, dilation, padding, (0,) * nd)
