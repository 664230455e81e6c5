"""The scorer seam: what the evaluation (and the serving code) needs from a fitted model.

A scorer ranks the movies (matrix columns) for weighted users × items like rows and never returns
a row's own columns. :class:`recsys.als.AlsScorer` (fold-in, explain, cosine neighbours) and
:class:`recsys.ease.EaseScorer` both implement it; re-ranking (calibration, series cap) comes
after a scorer, in :mod:`recsys.rerank`.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from scipy.sparse import csr_matrix


class Scorer(Protocol):
    """A fitted model that ranks columns for like rows."""

    @property
    def n_items(self) -> int:
        """Number of columns the model knows."""
        ...

    def recommend(self, rows: csr_matrix, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` columns and scores per row, padded with ``-1`` / ``-inf``."""
        ...


ALGORITHMS = ("als", "ease")
