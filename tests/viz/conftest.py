"""viz tests draw on the Agg backend; ``ax`` is a fresh axes, closed afterwards."""

from __future__ import annotations

import pytest


@pytest.fixture
def ax():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    yield ax
    plt.close(fig)
