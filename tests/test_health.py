"""``/healthz``'s checks (webhook mode): each asks the real part a real question.

``database``: a read answers and the SQLite file at the path is still the one the store has
open. ``model``: a recommendation for a movie the model knows comes back with known movies and
finite scores. The real process answers them over HTTP in ``test_storage_faults.py``.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bot.app_cli import Parts, health_checks
from bot.store import FavoritesStore
from recsys.engine import Recommendation, Recommender, RecommendResult
from recsys.titles import TitleIndex


class BrokenModel:
    """A model that loaded but answers nonsense: no items, or NaN scores."""

    def __init__(self, items: tuple[Recommendation, ...]) -> None:
        self.items = SimpleNamespace(item_ids=np.array([1, 2, 3]))
        self._answer = RecommendResult(items=items, fallback=False, ignored=())

    def knows(self, movie_id: int) -> bool:
        return movie_id in (1, 2, 3)

    def recommend(self, favorites: Any, n: int = 10, **kwargs: Any) -> RecommendResult:
        return self._answer


async def test_healthy_then_the_file_is_deleted(recommender: Recommender, tmp_path: Path) -> None:
    db = tmp_path / "favorites.sqlite3"
    store = await FavoritesStore.open(f"sqlite:///{db}")
    try:
        checks = health_checks(store, Parts(recommender, TitleIndex.build(recommender.catalog)))
        assert await checks["database"]() is True
        assert await checks["model"]() is True
        db.unlink()
        assert await checks["database"]() is False  # before any change found out
        assert await checks["model"]() is True
    finally:
        await store.close()


async def test_a_model_answering_nonsense_is_unhealthy(tmp_path: Path) -> None:
    store = await FavoritesStore.open(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    titles: Any = None
    try:
        for items in ((), (Recommendation(2, "Two", math.nan, ()),)):
            parts = Parts(BrokenModel(items), titles)  # type: ignore[arg-type]
            assert await health_checks(store, parts)["model"]() is False
        fine = (Recommendation(2, "Two", 0.5, ()),)
        parts = Parts(BrokenModel(fine), titles)  # type: ignore[arg-type]
        assert await health_checks(store, parts)["model"]() is True
    finally:
        await store.close()
