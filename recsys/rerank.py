"""Re-ranking steps: what happens to a scored candidate list before it is shown.

A scorer (ALS fold-in, :mod:`recsys.als`) ranks candidate movies by score; the steps here then
reorder that ranking, each on its own and in a fixed order (the :class:`recsys.engine.Recommender`
composes them), never by flags inside the scorer:

* :class:`Calibrate` — Steck's calibrated recommendations (RecSys 2018): greedily trade a little
  score for a genre mix close to the favorites';
* :class:`SeriesCap` — at most ``per_ten`` films of one series in every ten places;
* :class:`GemQuota` — discover mode: at least a share of the list are clearly lesser-known;
* :class:`AvoidDisliked` — move down the films that resemble the chat's dislikes (the same
  series, or a similarity above a threshold).

Every step takes and returns a :class:`Ranking` (columns best first, with their scores) and keeps
every movie it was given (a step reorders; it never drops), so a list stays full whenever enough
candidates exist. Columns index the model's items; the per-item data a step needs is in
:class:`ItemFeatures`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

CALIBRATION_ALPHA = 0.01  # Steck's smoothing of the list's genre distribution


@dataclass(frozen=True)
class Ranking:
    """Model columns, best first, and their scores (same length)."""

    columns: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.columns.size)

    def take(self, order: np.ndarray | Sequence[int]) -> Ranking:
        """The ranking reordered (or cut) by positions."""
        idx = np.asarray(order, dtype=np.int64)
        return Ranking(self.columns[idx], self.scores[idx])


@dataclass(frozen=True)
class ItemFeatures:
    """What the steps know of each model column.

    ``genres``: (items × genres) genre weights ``p(g|i) = 1/|genres(i)|`` (a row of zeros when the
    catalog gives none); ``series``: a series code per column (``-1``: in no series);
    ``tail``: outside the 20% most-liked movies (discover mode's candidates);
    ``similarity``: ``similarity(column, columns)`` of one movie to others, in [-1, 1] (None:
    unknown; :class:`AvoidDisliked` then only uses the series); ``gems``: fewer likes than the
    movie at the 20% mark however the fifth is counted (:class:`GemQuota`).
    """

    genres: np.ndarray
    series: np.ndarray
    tail: np.ndarray
    similarity: Callable[[int, np.ndarray], np.ndarray] | None = None
    gems: np.ndarray | None = None


@dataclass(frozen=True)
class Context:
    """One list's request: the item data, the genre distribution of its favorites, its dislikes."""

    items: ItemFeatures
    target: np.ndarray | None = None
    disliked: np.ndarray | None = None  # columns of the chat's dislikes
    favorites: np.ndarray | None = None  # columns of the chat's favorites


class Step(Protocol):
    """A re-ranking step: the same movies, reordered, with the best ``n`` decided."""

    def __call__(self, ranking: Ranking, context: Context, n: int) -> Ranking:
        """Reorder ``ranking`` so that its first ``n`` are this step's choice."""
        ...


def rerank(ranking: Ranking, steps: Sequence[Step], context: Context, n: int) -> Ranking:
    """Apply ``steps`` in order and keep the first ``n``."""
    for step in steps:
        ranking = step(ranking, context, n)
    return Ranking(ranking.columns[:n], ranking.scores[:n]) if n >= 0 else ranking.take([])


def genre_distribution(genres: np.ndarray) -> np.ndarray:
    """Mean genre weights of a set of movies (rows of :attr:`ItemFeatures.genres`)."""
    if genres.shape[0] == 0:
        return np.zeros(genres.shape[1], dtype=np.float64)
    total = genres.sum(axis=0, dtype=np.float64)
    mass = total.sum()
    out: np.ndarray = total / mass if mass > 0 else total
    return out


def miscalibration(p: np.ndarray, q: np.ndarray, alpha: float = CALIBRATION_ALPHA) -> float:
    """Steck's C_KL(p, q) = Σ p log(p / q̃), q̃ = (1 - α) q + α p (0 when p is empty)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    on = p > 0
    if not on.any():
        return 0.0
    smoothed = (1 - alpha) * q[on] + alpha * p[on]
    return float(np.sum(p[on] * np.log(p[on] / smoothed)))


@dataclass(frozen=True)
class Calibrate:
    """Greedy calibration (Steck 2018), one place at a time.

    Each place goes to the movie maximising ``(1 - weight) · score - weight · C_KL(p, q(list +
    movie))``.

    Scores are divided by the best one first, so ``weight`` means the same for every chat.
    Only the first ``n`` places are chosen this way; the rest keep their order.
    """

    weight: float
    alpha: float = CALIBRATION_ALPHA

    def __call__(self, ranking: Ranking, context: Context, n: int) -> Ranking:
        """Calibrate the first ``n`` places of ``ranking``."""
        p = context.target
        m = len(ranking)
        if self.weight <= 0 or p is None or m <= 1 or n <= 0:
            return ranking
        on = (p > 0).nonzero()[0]
        if not on.size:
            return ranking
        target = p[on].astype(np.float32)
        genres = context.items.genres[ranking.columns][:, on]  # (m × genres of the favorites)
        scores = ranking.scores.astype(np.float32)
        top = float(scores[0])
        if top > 0:
            scores = scores / np.float32(top)
        gain = np.float32(1 - self.weight) * scores  # a new array: taken places get -inf
        smooth = np.float32(self.alpha) * target
        target *= np.float32(self.weight)  # folds λ into the matrix-vector product
        places = min(n, m)
        # the list's share of q̃ at each place, (1 - α) / (k + 1); genres scaled for every place
        scales = _place_scales(self.alpha, places, on.size)
        scaled = genres[None] * scales[:, :1, None]
        # Every step is a few numpy calls on a (m × genres) array: their count is the cost, so
        # buffers are reused (``out=``), the scale is a row (a scalar operand costs more than
        # the arithmetic here), the first step has no list yet and the last updates nothing.
        chosen: list[int] = []
        acc = np.zeros(on.size, dtype=np.float32)  # genre weights of the list so far
        base = smooth.copy()  # acc · scale + smooth: q̃'s part that is the same for everyone
        buf = np.empty_like(genres)
        objective = np.empty(m, dtype=np.float32)
        add, multiply, log, dot = np.add, np.multiply, np.log, np.dot
        for k in range(places):
            if k:
                multiply(acc, scales[k], out=base)
                add(base, smooth, out=base)
            # q̃ of the list with each candidate added; C_KL(p, q̃) = Σ p log p - Σ p log q̃, and
            # the first sum is the same for every candidate
            add(scaled[k], base, out=buf)
            log(buf, out=buf)
            dot(buf, target, out=objective)  # the same BLAS call as ``@``
            add(objective, gain, out=objective)
            best = int(objective.argmax())
            chosen.append(best)
            if k + 1 < places:
                gain[best] = -np.inf  # taken
                add(acc, genres[best], out=acc)
        taken = set(chosen)
        chosen.extend(i for i in range(m) if i not in taken)
        return ranking.take(chosen)


@functools.lru_cache(maxsize=256)
def _place_scales(alpha: float, places: int, width: int) -> np.ndarray:
    """``(1 - α) / (k + 1)`` for each place ``k``, repeated ``width`` times (float32, read-only).

    The list's part of q̃ at each place, one row per place.
    """
    column = ((1 - alpha) / np.arange(1, places + 1)).astype(np.float32)
    out = np.repeat(column, width).reshape(places, width)
    out.flags.writeable = False
    return out


@dataclass(frozen=True)
class SeriesCap:
    """At most ``per_ten`` films of one series in each ten places (the rest move down)."""

    per_ten: int = 3

    def __call__(self, ranking: Ranking, context: Context, n: int) -> Ranking:
        """Move films beyond the cap of their series below the first ``n`` places."""
        if self.per_ten <= 0 or n <= 0:
            return ranking
        series = context.items.series[ranking.columns].tolist()
        if max(series[:n], default=-1) < 0:  # no film of a series where the cap could act
            return ranking
        order: list[int] = []
        deferred: list[int] = []
        counts: dict[int, int] = {}
        for pos, code in enumerate(series):
            if len(order) >= n:
                order.extend(deferred)
                order.extend(range(pos, len(series)))
                deferred = []
                break
            if code >= 0:
                cap = self.per_ten * (len(order) // 10 + 1)
                if counts.get(code, 0) >= cap:
                    deferred.append(pos)
                    continue
                counts[code] = counts.get(code, 0) + 1
            order.append(pos)
        order.extend(deferred)
        return ranking.take(order)


@dataclass(frozen=True)
class AvoidDisliked:
    """Move down the films that resemble a disliked one.

    A film's resemblance is its highest :attr:`ItemFeatures.similarity` to any disliked movie (1
    for a film of a disliked film's series); above ``threshold`` it costs
    ``weight · (sim - threshold) / (1 - threshold)`` of the ranking's best score, and the ranking
    is sorted again by the lowered scores (stable). Only a film near a dislike moves: the
    fold-in's negative confidence moves the whole taste, this step removes the near copies of
    what the chat turned down (a sequel, the same kind of film).
    """

    weight: float
    threshold: float = 0.5
    relative: bool = False

    def resemblance(self, columns: np.ndarray, context: Context) -> np.ndarray:
        """The highest similarity of each column to the disliked movies (1: same series).

        ``relative``: minus the highest similarity to the favorites (a film nearer a dislike
        than any favorite is the one to move down).
        """
        disliked = context.disliked
        out = np.full(columns.size, -1.0, dtype=np.float32)
        if disliked is None or disliked.size == 0 or columns.size == 0:
            return out
        similarity = context.items.similarity
        if similarity is not None:
            for d in disliked.tolist():
                np.maximum(out, similarity(int(d), columns), out=out)
            favorites = context.favorites
            if self.relative and favorites is not None and favorites.size:
                liked = np.full(columns.size, -1.0, dtype=np.float32)
                for f in favorites.tolist():
                    np.maximum(liked, similarity(int(f), columns), out=liked)
                out -= liked
        series = context.items.series
        codes = series[disliked]
        codes = codes[codes >= 0]
        if codes.size:
            out[np.isin(series[columns], codes)] = 1.0
        return out

    def __call__(self, ranking: Ranking, context: Context, n: int) -> Ranking:
        """Lower the scores of films near a dislike and sort again."""
        disliked = context.disliked
        if self.weight <= 0 or disliked is None or disliked.size == 0 or len(ranking) <= 1:
            return ranking
        tau = min(max(float(self.threshold), -1.0), 0.99)
        near = self.resemblance(ranking.columns, context)
        over = np.maximum(near - np.float32(tau), 0) / np.float32(1 - tau)
        if not np.any(over > 0):
            return ranking
        scale = float(np.abs(ranking.scores).max()) or 1.0
        scores = (ranking.scores - np.float32(self.weight * scale) * over).astype(np.float32)
        order = np.argsort(-scores, kind="stable")
        return Ranking(ranking.columns[order], scores[order])


@dataclass(frozen=True)
class GemQuota:
    """At least ``share`` of the first ``n`` places go to gems (:attr:`ItemFeatures.gems`).

    Walks the ranking in order and takes the next movie, unless the places left are just enough
    for the gems still owed: then it takes the next gem. The other movies keep their order.
    """

    share: float = 0.5

    def __call__(self, ranking: Ranking, context: Context, n: int) -> Ranking:
        """Pull gems up into the first ``n`` places until the quota is met."""
        gems = context.items.gems
        m = min(n, len(ranking))
        if self.share <= 0 or gems is None or m <= 0:
            return ranking
        is_gem = gems[ranking.columns]
        owed = min(int(np.ceil(self.share * m - 1e-9)), int(is_gem.sum()))
        if int(is_gem[:m].sum()) >= owed:
            return ranking
        gem_pos = np.flatnonzero(is_gem).tolist()
        other_pos = np.flatnonzero(~is_gem).tolist()
        order: list[int] = []
        g = o = 0
        for slot in range(m):
            left = m - slot
            take_gem = g < len(gem_pos) and (
                owed >= left or o >= len(other_pos) or gem_pos[g] < other_pos[o]
            )
            if take_gem:
                order.append(gem_pos[g])
                g += 1
                owed -= 1
            else:
                order.append(other_pos[o])
                o += 1
        chosen = set(order)
        order.extend(i for i in range(len(ranking)) if i not in chosen)
        return ranking.take(order)
