"""Doctest collection: skip modules whose optional extra is not installed."""

from __future__ import annotations

import importlib.util

collect_ignore_glob: list[str] = []
if importlib.util.find_spec("torch") is None:
    collect_ignore_glob += ["src/tconv/nn/*", "src/tconv/apps/*"]
if importlib.util.find_spec("matplotlib") is None:
    collect_ignore_glob += ["src/tconv/viz/*"]
