"""Which members of an ``.npz`` archive a reader loads."""

from __future__ import annotations

from typing import Any

import numpy as np


def record_npz_reads(monkeypatch: Any) -> list[str]:
    """Record, in the returned list, the key of every member read through ``NpzFile[key]``
    while ``monkeypatch`` is active (a member's data is only read by that call)."""
    read: list[str] = []
    orig = np.lib.npyio.NpzFile.__getitem__

    def spy(self: Any, key: str) -> Any:
        read.append(key)
        return orig(self, key)

    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", spy)
    return read
