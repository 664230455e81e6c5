"""A synthetic MovieLens release of ml-32m's shape, for benchmarks that need the full size.

The real ml-32m ratings are not available offline, so this writes a stand-in with the same layout
(a folder ``ml-32m/`` holding ``movies.csv`` and ``ratings.csv``, readable by the engine's loader
through ``DataPaths(movielens_dir=...)``) and the same shape:

* 200,948 users x 87,585 movies (ml-32m's real ``movieId`` values, from its ``movies.csv``),
  32,000,204 ratings, in ml-32m's CSV format ``userId,movieId,rating,timestamp`` (header, LF, rows
  sorted by user then movie, half-star ratings, Unix timestamps between 1995 and 2023);
* long-tailed item popularity: Zipf-Mandelbrot weights ``(rank + 200) ** -1.6`` over a random
  assignment of movies to ranks (the most popular movie gets ~0.3% of all ratings, about 100k, as
  ml-32m's most-rated movie does; about a third of the movies get fewer than 10);
* long-tailed user activity: at least 20 ratings per user (as in ml-32m) plus a Lomax (Pareto II)
  tail, capped at 35% of the catalog, rescaled so that the total is exact;
* no duplicate (user, movie) pair: each user's movies are a weighted sample *without* replacement
  (sequential draws with duplicates rejected);
* every user has at least one like (rating >= 3.5) and, when there are at least twice as many
  ratings as movies, every movie too, so the likes matrix has the full shape.

By default the ratings follow MovieLens' own spread (about 62% of ratings are likes, as in ml-25m);
``--likes-only`` draws every rating from 3.5-5.0, so that all 32 million ratings are likes.

Usage::

    .venv/bin/python -m bench.synthetic                  # full size into data/synthetic/ml-32m
    .venv/bin/python -m bench.synthetic --scale 0.05     # 5% of the users and ratings
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

REPO = Path(__file__).resolve().parents[1]
ML32M_USERS = 200_948
ML32M_RATINGS = 32_000_204
ML32M_ITEMS = 87_585
DEFAULT_MOVIES = REPO.parent / "shared" / "data" / "movielens" / "ml-32m" / "movies.csv"

HALF_STARS = np.arange(1, 11, dtype=np.int64) * 0.5  # 0.5 .. 5.0
# Share of each half-star value among ml-25m's ratings (0.5, 1.0, ..., 5.0).
MOVIELENS_RATING_SHARES = np.array(
    [0.016, 0.031, 0.016, 0.066, 0.050, 0.196, 0.126, 0.266, 0.088, 0.145]
)
LIKE_THRESHOLD = 3.5
FIRST_TIMESTAMP = 789_652_009  # 1995-01-09, the first rating in MovieLens
LAST_TIMESTAMP = 1_697_163_360  # 2023-10-13, the last rating in ml-32m
_RATING_TEXT = np.frombuffer(
    b"".join(f"{v:.1f}".encode() for v in HALF_STARS), dtype=np.uint8
).reshape(10, 3)


@dataclass(frozen=True)
class Spec:
    """What to generate; the defaults are ml-32m's shape."""

    n_users: int = ML32M_USERS
    n_ratings: int = ML32M_RATINGS
    likes_only: bool = False
    seed: int = 0
    popularity_exponent: float = 1.6
    popularity_offset: float = 200.0
    min_user_ratings: int = 20
    activity_tail: float = 2.0  # Lomax shape; smaller is heavier
    max_user_share: float = 0.35  # no user rates more than this share of the catalog
    users_per_chunk: int = 20_000

    @classmethod
    def scaled(cls, scale: float, **kwargs: Any) -> Spec:
        """ml-32m's shape with ``scale`` times its users and ratings (the catalog is kept whole)."""
        if not 0 < scale <= 1:
            raise ValueError("scale must be in (0, 1]")
        return cls(
            n_users=max(1, round(ML32M_USERS * scale)),
            n_ratings=max(1, round(ML32M_RATINGS * scale)),
            **kwargs,
        )


@dataclass(frozen=True)
class Summary:
    """What was written, for the benchmark's report."""

    folder: str
    n_users: int
    n_items: int
    n_ratings: int
    n_likes: int
    n_items_rated: int
    n_items_liked: int
    max_item_ratings: int
    median_item_ratings: float
    max_user_ratings: int
    median_user_ratings: float
    bytes: int
    seconds: float
    spec: dict[str, object]


def read_movie_ids(movies_csv: Path) -> np.ndarray:
    """The ``movieId`` column of a MovieLens ``movies.csv`` (first field of each data row)."""
    ids = []
    with movies_csv.open(encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            head = line.split(",", 1)[0].strip()
            if head:
                ids.append(int(head))
    out = np.array(ids, dtype=np.int64)
    if len(np.unique(out)) != len(out):
        raise ValueError(f"{movies_csv} lists some movieIds twice")
    return out


def item_weights(n_items: int, spec: Spec, rng: np.random.Generator) -> np.ndarray:
    """Zipf-Mandelbrot popularity of each item (index), ranks assigned at random; sums to 1."""
    ranks = rng.permutation(n_items)
    weights = (ranks + spec.popularity_offset) ** -spec.popularity_exponent
    return np.asarray(weights / weights.sum())


def user_quotas(n_users: int, n_items: int, spec: Spec, rng: np.random.Generator) -> np.ndarray:
    """Ratings per user: a floor plus a Lomax tail, capped, summing exactly to ``n_ratings``."""
    cap = max(1, int(n_items * spec.max_user_share))
    floor = min(spec.min_user_ratings, cap, spec.n_ratings // n_users)
    if floor * n_users > spec.n_ratings or cap * n_users < spec.n_ratings:
        raise ValueError("n_ratings does not fit n_users and the catalog")
    tail = rng.pareto(spec.activity_tail, n_users)
    extra_total = spec.n_ratings - floor * n_users
    quotas = np.full(n_users, floor, dtype=np.int64)
    for _ in range(50):  # rescale the tail until the capped total is right
        scale = extra_total / max(tail.sum(), 1e-12)
        quotas = np.minimum(floor + np.floor(tail * scale).astype(np.int64), cap)
        deficit = spec.n_ratings - int(quotas.sum())
        if deficit <= 0 or deficit < n_users:
            break
        tail = tail * (1 + deficit / extra_total)
    return _fix_total(quotas, spec.n_ratings, floor, cap, rng)


def _fix_total(
    quotas: np.ndarray, total: int, low: int, cap: int, rng: np.random.Generator
) -> np.ndarray:
    """Add or remove single ratings at random users (within ``[low, cap]``) to reach ``total``."""
    quotas = quotas.copy()
    while (diff := total - int(quotas.sum())) != 0:
        room = quotas < cap if diff > 0 else quotas > low
        candidates = np.flatnonzero(room)
        if len(candidates) == 0:
            raise ValueError("cannot reach the requested number of ratings")
        pick = rng.choice(candidates, size=min(abs(diff), len(candidates)), replace=False)
        quotas[pick] += 1 if diff > 0 else -1
    return quotas


def cover_items(
    n_items: int, quotas: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """One (user, item) pair per item, users drawn in proportion to their quota.

    Returns ``(seed_users, quotas)`` where ``seed_users[i]`` rates item ``i`` and quotas were raised
    where a user got more seeds than its quota (and lowered elsewhere, so the total is unchanged).
    """
    cdf = np.cumsum(quotas) / quotas.sum()
    seed_users = np.minimum(
        np.searchsorted(cdf, rng.random(n_items), side="right"), len(quotas) - 1
    )
    seeds = np.bincount(seed_users, minlength=len(quotas))
    over = seeds > quotas
    if over.any():
        surplus = int((seeds[over] - quotas[over]).sum())
        quotas = np.maximum(quotas, seeds)
        order = np.argsort(-(quotas - seeds))  # take it back from users with the most room
        for u in order:
            if surplus == 0:
                break
            take = min(surplus, int(quotas[u] - seeds[u]))
            quotas[u] -= take
            surplus -= take
    return seed_users, quotas


def sample_items(
    need: np.ndarray, cdf: np.ndarray, taken: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw ``need[u]`` new distinct items for each user ``u`` of a chunk, weighted by ``cdf``.

    ``taken`` holds sorted keys ``u * n_items + item`` the chunk already has (seeds); they are not
    drawn again. Draws are sequential per user with duplicates rejected, which is weighted
    sampling without replacement. Returns the sorted keys of the chunk, ``taken`` included.
    """
    n_items = len(cdf)
    need = need.astype(np.int64).copy()
    accepted = np.sort(taken.astype(np.int64))
    boost = 1.2
    while need.sum() > 0:
        users = np.flatnonzero(need)
        draws = np.ceil(need[users] * boost).astype(np.int64) + 4
        user_of_draw = np.repeat(users, draws)
        items = np.searchsorted(cdf, rng.random(len(user_of_draw)), side="right")
        keys = user_of_draw * n_items + np.minimum(items, n_items - 1)
        uniq, first = np.unique(keys, return_index=True)
        fresh = ~_sorted_contains(accepted, uniq)
        uniq, first = uniq[fresh], first[fresh]
        uniq = uniq[np.argsort(first, kind="stable")]  # back to draw order (grouped by user)
        owner = uniq // n_items
        rank = np.arange(len(uniq)) - np.searchsorted(owner, owner, side="left")
        keep = uniq[rank < need[owner]]
        need -= np.bincount(keep // n_items, minlength=len(need))
        accepted = np.sort(np.concatenate([accepted, keep]))  # disjoint: no unique() needed
        boost *= 2  # users still short are the heavy ones: their draws are mostly duplicates
    return accepted


def _sorted_contains(sorted_keys: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if len(sorted_keys) == 0:
        return np.zeros(len(keys), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
    return np.asarray(sorted_keys[pos] == keys)


def draw_ratings(n: int, likes_only: bool, rng: np.random.Generator) -> np.ndarray:
    """Indices into :data:`HALF_STARS` (0 -> 0.5 ... 9 -> 5.0) with MovieLens' spread."""
    shares = MOVIELENS_RATING_SHARES.copy()
    if likes_only:
        shares[HALF_STARS < LIKE_THRESHOLD] = 0
    return rng.choice(10, size=n, p=shares / shares.sum())


def format_rows(
    users: np.ndarray, items: np.ndarray, rating_idx: np.ndarray, timestamps: np.ndarray
) -> bytes:
    """``userId,movieId,rating,timestamp\\n`` lines for the given columns, formatted with numpy."""
    comma = np.full((len(users), 1), ord(","), dtype=np.uint8)
    newline = np.full((len(users), 1), ord("\n"), dtype=np.uint8)
    table = np.hstack(
        [
            _digits(users),
            comma,
            _digits(items),
            comma,
            _RATING_TEXT[rating_idx],
            comma,
            _digits(timestamps),
            newline,
        ]
    )
    return bytes(table[table != 0].tobytes())


def _digits(values: np.ndarray) -> np.ndarray:
    """Decimal digits of non-negative ints as ASCII, right-aligned, left-padded with 0 bytes."""
    values = values.astype(np.int64)
    width = len(str(int(values.max()))) if len(values) else 1
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    column = values[:, None]
    digits = ((column // powers) % 10 + ord("0")).astype(np.uint8)
    digits[(column < powers) & (powers > 1)] = 0
    return digits


def generate(
    out_dir: Path, spec: Spec, movies_csv: Path = DEFAULT_MOVIES, *, progress: bool = True
) -> Summary:
    """Write ``out_dir/ml-32m/{movies.csv,ratings.csv}`` (atomically) and return a summary."""
    started = time.perf_counter()
    rng = np.random.default_rng(spec.seed)
    movie_ids = read_movie_ids(movies_csv)
    n_items = len(movie_ids)
    weights = item_weights(n_items, spec, rng)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    quotas = user_quotas(spec.n_users, n_items, spec, rng)
    if spec.n_ratings >= 2 * n_items:
        seed_users, quotas = cover_items(n_items, quotas, rng)
    else:
        seed_users = np.zeros(0, dtype=np.int64)
    final = Path(out_dir) / "ml-32m"
    staging = Path(out_dir) / ".ml-32m.partial"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    shutil.copyfile(movies_csv, staging / "movies.csv")
    stats = _Stats(n_items)
    with (staging / "ratings.csv").open("wb") as out:
        out.write(b"userId,movieId,rating,timestamp\n")
        for start in range(0, spec.n_users, spec.users_per_chunk):
            stop = min(start + spec.users_per_chunk, spec.n_users)
            _write_chunk(out, start, stop, quotas, seed_users, cdf, movie_ids, spec, rng, stats)
            if progress:
                print(
                    f"\r{stop:,}/{spec.n_users:,} users, {stats.n_ratings:,} ratings",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
    if progress:
        print(file=sys.stderr)
    summary = stats.summary(final, spec, staging, time.perf_counter() - started)
    (staging / "SYNTHETIC.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(staging, final)
    return summary


class _Stats:
    """Counts gathered while writing, so the file never has to be read back."""

    def __init__(self, n_items: int) -> None:
        self.item_ratings = np.zeros(n_items, dtype=np.int64)
        self.item_likes = np.zeros(n_items, dtype=np.int64)
        self.user_ratings: list[np.ndarray] = []
        self.n_ratings = 0
        self.n_likes = 0

    def add(
        self, users_local: np.ndarray, items: np.ndarray, liked: np.ndarray, n_users: int
    ) -> None:
        self.item_ratings += np.bincount(items, minlength=len(self.item_ratings))
        self.item_likes += np.bincount(items[liked], minlength=len(self.item_likes))
        self.user_ratings.append(np.bincount(users_local, minlength=n_users))
        self.n_ratings += len(items)
        self.n_likes += int(liked.sum())

    def summary(self, final: Path, spec: Spec, staging: Path, seconds: float) -> Summary:
        per_user = np.concatenate(self.user_ratings)
        return Summary(
            folder=str(final),
            n_users=int((per_user > 0).sum()),
            n_items=len(self.item_ratings),
            n_ratings=self.n_ratings,
            n_likes=self.n_likes,
            n_items_rated=int((self.item_ratings > 0).sum()),
            n_items_liked=int((self.item_likes > 0).sum()),
            max_item_ratings=int(self.item_ratings.max()),
            median_item_ratings=float(np.median(self.item_ratings)),
            max_user_ratings=int(per_user.max()),
            median_user_ratings=float(np.median(per_user)),
            bytes=(staging / "ratings.csv").stat().st_size,
            seconds=round(seconds, 1),
            spec=asdict(spec),
        )


def _write_chunk(
    out: BinaryIO,
    start: int,
    stop: int,
    quotas: np.ndarray,
    seed_users: np.ndarray,
    cdf: np.ndarray,
    movie_ids: np.ndarray,
    spec: Spec,
    rng: np.random.Generator,
    stats: _Stats,
) -> None:
    n_items = len(cdf)
    n = stop - start
    seed_items = np.flatnonzero((seed_users >= start) & (seed_users < stop))
    seed_keys = (seed_users[seed_items] - start) * n_items + seed_items
    seeds_per_user = np.bincount(seed_users[seed_items] - start, minlength=n)
    keys = sample_items(quotas[start:stop] - seeds_per_user, cdf, seed_keys, rng)
    users_local = keys // n_items
    items = keys % n_items
    rating_idx = draw_ratings(len(keys), spec.likes_only, rng)
    like_idx = draw_ratings(len(keys), True, rng)
    is_seed = _sorted_contains(np.sort(seed_keys), keys)
    rating_idx[is_seed] = like_idx[is_seed]  # seeds make every movie liked at least once
    liked = HALF_STARS[rating_idx] >= LIKE_THRESHOLD
    no_like = np.bincount(users_local[liked], minlength=n) == 0
    first_row = np.searchsorted(users_local, np.flatnonzero(no_like))
    rating_idx[first_row] = like_idx[first_row]  # every user likes something
    liked[first_row] = True
    timestamps = rng.integers(FIRST_TIMESTAMP, LAST_TIMESTAMP, size=len(keys))
    for lo in range(0, len(keys), 1_000_000):
        sl = slice(lo, lo + 1_000_000)
        out.write(
            format_rows(
                users_local[sl] + start + 1, movie_ids[items[sl]], rating_idx[sl], timestamps[sl]
            )
        )
    stats.add(users_local, items, liked, n)


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m bench.synthetic [--scale S] [--likes-only] [--out DIR]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="share of ml-32m's users and ratings (default 1: full size)",
    )
    parser.add_argument(
        "--likes-only",
        action="store_true",
        help="every rating is a like (3.5-5.0): 32M likes instead of about 20M",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--movies",
        type=Path,
        default=DEFAULT_MOVIES,
        help="ml-32m's movies.csv (its movieIds are used)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to hold ml-32m/ (default data/synthetic[-sSCALE][-likes])",
    )
    args = parser.parse_args(argv)
    spec = Spec.scaled(args.scale, likes_only=args.likes_only, seed=args.seed)
    out = args.out or default_folder(args.scale, args.likes_only)
    summary = generate(out, spec, args.movies)
    print(json.dumps(asdict(summary), indent=2))
    return 0


def default_folder(scale: float, likes_only: bool) -> Path:
    """``data/synthetic[-s0.05][-likes]``: the git-ignored folder a scale's release goes to."""
    name = "synthetic" + ("" if scale == 1 else f"-s{scale:g}") + ("-likes" if likes_only else "")
    return REPO / "data" / name


if __name__ == "__main__":
    raise SystemExit(main())
