"""FCN-style semantic segmentation with a selectable decoder up-sampling (torch + apps).

``model`` (:class:`SegConfig`, :class:`FCN`, :data:`VARIANTS`), ``data`` (generated
textured shapes with exact masks, or image/mask folders), ``train`` and ``evaluate``
(mean IoU, prediction pictures, the same-budget comparison of decoders).
"""

from __future__ import annotations

from .data import CLASSES, SegData, load_folder, make_shapes
from .model import FCN, VARIANTS, SegConfig
from .train import TrainConfig, TrainResult, train

__all__ = ["CLASSES", "FCN", "VARIANTS", "SegConfig", "SegData", "TrainConfig", "TrainResult",
           "load_folder", "make_shapes", "train"]
