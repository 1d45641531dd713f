"""Applications built on :mod:`tconv.nn` (torch extra): each app is ``model.py`` (a pure
torch module and a ``@dataclass`` config), ``train.py`` and ``infer.py``.

``tconv.apps._train`` holds the training-loop pieces the apps share: atomic checkpoints,
bit-exact resume (RNG state capture) and progress bars. Nothing here is imported by
``import tconv``.
"""

from __future__ import annotations

__all__: list[str] = []
