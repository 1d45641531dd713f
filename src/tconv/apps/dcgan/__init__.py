"""DCGAN with a selectable generator up-sampling (torch + apps extras).

``model`` (:class:`DCGANConfig`, :class:`Generator`, :class:`Discriminator`), ``data``
(scikit-image crops, image folders, IDX files), ``train``, ``infer`` (sampling, PNG grids)
and ``compare`` (same budget per up-sampling method; checkerboard artifact score).
"""

from __future__ import annotations

from .data import ImageSource, load_source, read_idx, write_idx
from .model import METHODS, VARIANTS, DCGANConfig, Discriminator, Generator, init_weights
from .train import TrainConfig, TrainResult, train

__all__ = ["METHODS", "VARIANTS", "DCGANConfig", "Discriminator", "Generator", "ImageSource",
           "TrainConfig", "TrainResult", "init_weights", "load_source", "read_idx", "train",
           "write_idx"]
