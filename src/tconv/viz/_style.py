"""Colour conventions shared by the figures, the animations and the explorer page.

The conventions of vdumoulin/conv_arithmetic, made explicit: the input is blue, the output
cyan; the cells the kernel covers are shaded dark; zeros that are not data are white --
dashed for padding, dotted for zeros inserted between inputs (transposed convolution).
"""

from __future__ import annotations

from typing import Any

__all__ = ["COLORS", "LEGEND", "EDGE"]

COLORS: dict[str, str] = {
    "input": "#6fa8dc",          # input cell
    "input_active": "#1f4e79",   # input cell under the kernel / the cell being scattered
    "output": "#8fd9d3",         # output cell
    "output_active": "#11706b",  # output cell being computed / reached
    "kernel": "#555555",         # kernel cell
    "padding": "#ffffff",        # padding zero (dashed edge)
    "inserted": "#ececec",       # zero inserted between inputs (light grey, dotted edge)
    "zero_active": "#9aa5b1",    # a padding / inserted zero under the kernel
    "zero": "#ffffff",           # structural zero of C (solid edge)
    "edge": "#333333",
    "text_dark": "#111111",
    "text_light": "#ffffff",
}

#: (key, legend text) in legend order
LEGEND: tuple[tuple[str, str], ...] = (
    ("input", "input"),
    ("input_active", "input under kernel / source cell"),
    ("output", "output"),
    ("output_active", "output being computed / reached"),
    ("kernel", "kernel"),
    ("padding", "padding zero (dashed)"),
    ("inserted", "inserted zero (dotted)"),
    ("zero_active", "zero under kernel"),
    ("zero", "zero entry of C"),
)

#: line style of a cell's edge, per kind of cell
EDGE: dict[str, Any] = {"padding": (0, (3, 2)), "inserted": (0, (1, 1.5))}

DARK = {"input_active", "output_active", "kernel"}
