"""The public API, pinned: each package's ``__all__``, and the rules every public module keeps.

A name is public when it is in its module's ``__all__`` (PEP 8: imported names are
implementation details). Adding or removing a public name changes a set below on purpose,
in the same commit that documents it.
"""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import tconv

#: Each package's ``__all__``.
PACKAGES = {
    "tconv": {
        "ALGORITHMS", "MAX_ELEMENTS", "checkerboard", "conv", "conv_backward", "conv_matrix",
        "conv_output_size", "conv_transpose", "conv_transpose_backward",
        "conv_transpose_output_size", "conventions", "convert_resize", "explain_algorithm",
        "get_num_threads", "interpolate", "kernels", "memory_in_use", "output_padding_for",
        "release_memory", "resample_matrix", "resize", "resize_matrix", "resizing",
        "set_num_threads", "shapes", "shuffle"},
    "tconv.nn": {
        "INITS", "LayerReport", "METHODS", "PadCrop", "PixelShuffle", "PixelUnshuffle",
        "Upsample", "ZeroInsertion", "bilinear_", "depth_to_space", "icnr_", "icnr_transpose_",
        "interpolation_subpixel_", "layer_report", "pixel_shuffle", "pixel_unshuffle",
        "space_to_depth", "to_pixel_shuffle", "to_zero_insertion", "transposed_geometry"},
    "tconv.viz": {
        "Geometry", "ZeroInsertionView", "animation", "draw_frame", "explorer_html",
        "frame_count", "geometry", "legend", "plot_flatten", "plot_footprint", "plot_kernel",
        "plot_low_to_high", "plot_matrix", "plot_matrix_product", "plot_operation",
        "plot_receptive_field", "plot_reshape", "plot_row_construction", "plot_vector",
        "plot_zero_insertion", "zero_insertion_view"},
    "tconv.apps": set(),
    "tconv.cli": {"SUBCOMMANDS", "main", "subcommand_modules"},
}


def _public_modules() -> dict[str, types.ModuleType]:
    """Every importable module of tconv without a leading underscore in its path. The
    CLI's subcommand modules are left out: the CLI's interface is its command line."""
    out = {"tconv": tconv}
    for info in pkgutil.walk_packages(tconv.__path__, "tconv."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or (parts[1] == "cli" and len(parts) > 2):
            continue
        try:
            out[info.name] = importlib.import_module(info.name)
        except ImportError as e:                    # an extra that is not installed
            pytest.skip(f"{info.name}: {e}")
    return out


class TestPublicApi:
    @pytest.mark.parametrize("name", sorted(PACKAGES))
    def test_package_all(self, name: str) -> None:
        if name in ("tconv.nn", "tconv.apps"):
            pytest.importorskip("torch")
        if name == "tconv.viz":
            pytest.importorskip("matplotlib")
        module = importlib.import_module(name)
        assert set(module.__all__) == PACKAGES[name]
        assert len(module.__all__) == len(set(module.__all__)), "duplicates in __all__"

    def test_every_public_module_declares_all(self) -> None:
        """Every public module says what it exports; every exported name exists, is not
        private, and is not a module imported from elsewhere."""
        pytest.importorskip("torch")
        pytest.importorskip("matplotlib")
        for name, module in _public_modules().items():
            assert hasattr(module, "__all__"), f"{name} has no __all__"
            for attr in module.__all__:
                assert not attr.startswith("_"), (name, attr)
                value = getattr(module, attr)        # AttributeError: a stale entry
                if isinstance(value, types.ModuleType):
                    assert value.__name__.startswith(name + "."), (name, attr)

    @pytest.mark.parametrize("name", ["tconv", "tconv.nn"])
    def test_package_namespace_is_curated(self, name: str) -> None:
        """The packages' own namespaces hold their __all__ and their submodules only: no
        ``annotations``, ``np`` or ``torch`` from the imports."""
        if name == "tconv.nn":
            pytest.importorskip("torch")
        module = importlib.import_module(name)
        extra = {n for n, v in vars(module).items() if not n.startswith("_")
                 and n not in module.__all__ and not (isinstance(v, types.ModuleType)
                                                      and v.__name__.startswith(name + "."))}
        assert not extra, extra

    def test_algorithms_lists_auto(self) -> None:
        assert tconv.ALGORITHMS[0] == "auto" and len(set(tconv.ALGORITHMS)) == 7

    def test_functions_named_like_their_modules(self) -> None:
        """``tconv.conv`` and ``tconv.interpolate`` are the functions; their modules' other
        names are imported from the module path (docs/conventions.md)."""
        from tconv.conv import choose_algorithm
        from tconv.interpolate import MODES

        assert callable(tconv.conv) and callable(tconv.interpolate)
        assert callable(choose_algorithm) and "bilinear" in MODES
        assert isinstance(tconv.resizing, types.ModuleType) and callable(tconv.resize)
