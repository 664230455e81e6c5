"""What a chat asks of a recommendation list, in plain words: ``/recommend comedy 90s -horror``.

:func:`parse_request` turns the argument of ``/recommend`` into the engine's ``Filters`` and a
discover flag, and keeps what it did not understand so that the reply can say so (never ignore an
argument silently). Genre names forgive case, plurals and common synonyms; the genres
themselves come from the catalog (``Recommender.genres``), so a release with other genres works.

Understood words:

* a genre (``comedy``, ``Comedies``, ``sci-fi``/``scifi``/``science fiction``, ``kids`` →
  Children, ``docs`` → Documentary, ``romcom`` → Romance *and* Comedy…); several genres: any of
  them; ``-horror``, ``no horror``, ``not horror``, ``without horror`` exclude one;
* a decade (``90s``, ``1990s``, ``2010s``), a year (``1995``), a range (``1990-1999``),
  ``before 1980`` / ``after 2000`` / ``since 2010``;
* ``new`` (``recent``, ``latest``, ``newest``): the newest part of the catalog;
* ``gems`` (``hidden gems``, ``discover``, ``obscure``, ``lesser-known``): discover mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from recsys.engine import Filters

MAX_REQUEST = 200
"""Longer arguments are not parsed (the reply says so)."""

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "scifi": ("Sci-Fi",),
    "sciencefiction": ("Sci-Fi",),
    "sf": ("Sci-Fi",),
    "romcom": ("Romance", "Comedy"),
    "romanticcomedy": ("Romance", "Comedy"),
    "kids": ("Children",),
    "kid": ("Children",),
    "child": ("Children",),
    "childrens": ("Children",),
    "family": ("Children",),
    "doc": ("Documentary",),
    "docs": ("Documentary",),
    "documentaries": ("Documentary",),
    "animated": ("Animation",),
    "cartoon": ("Animation",),
    "cartoons": ("Animation",),
    "anime": ("Animation",),
    "noir": ("Film-Noir",),
    "scary": ("Horror",),
    "romantic": ("Romance",),
    "funny": ("Comedy",),
}
_RECENT = frozenset({"new", "recent", "latest", "newest"})
_DISCOVER = frozenset({"gems", "gem", "hiddengems", "discover", "obscure", "lesserknown"})
_EXCLUDE = frozenset({"no", "not", "without", "except"})
_FILLER = frozenset(
    {"movie", "movies", "film", "films", "some", "me", "please", "and", "or", "a", "the", "from"}
    | {"with", "of", "in", "only", "just", "show", "give", "good", "best", "for"}
)
_DECADE = re.compile(r"(?:(1[89]|20)?([0-9])0)'?s")
_RANGE = re.compile(r"((?:18|19|20)[0-9]{2})\s*(?:-|–|—|to|\.\.)\s*((?:18|19|20)[0-9]{2})")
_YEAR = re.compile(r"(?:18|19|20)[0-9]{2}")
_BOUND = frozenset({"before", "until", "after", "since", "from"})


def _key(word: str) -> str:
    """``Sci-Fi`` → ``scifi``: letters and digits only, lower case."""
    return "".join(ch for ch in word.lower() if ch.isalnum())


@dataclass(frozen=True)
class ListRequest:
    """A parsed ``/recommend`` argument.

    ``all_genres``: genres a movie must all have (``romcom``), on top of ``filters``;
    ``understood``: what is on, in words for the heading; ``not_understood``: the words that
    were not understood (the reply names them).
    """

    filters: Filters | None = None
    discover: bool = False
    all_genres: frozenset[str] = frozenset()
    understood: tuple[str, ...] = ()
    not_understood: tuple[str, ...] = ()
    too_long: bool = False

    def canonical(self) -> str:
        """The request in this module's own words (parsed again to the same request).

        This is what the store keeps of a list's request: never the user's text.
        """
        words: list[str] = []
        f = self.filters or Filters()
        for genre in sorted(f.genres - self.all_genres):
            words.append(_key(genre))
        if self.all_genres:
            words.append("romcom")  # the only all-of synonym
        words.extend(f"-{_key(g)}" for g in sorted(f.exclude_genres))
        if f.year_min is not None and f.year_max is not None:
            words.append(f"{f.year_min}-{f.year_max}")
        elif f.year_min is not None:
            words.append(f"since {f.year_min}")
        elif f.year_max is not None:
            words.append(f"until {f.year_max}")
        if f.recent:
            words.append("new")
        if self.discover:
            words.append("gems")
        return " ".join(words)

    @property
    def empty(self) -> bool:
        """Nothing asked: the plain list."""
        return self.filters is None and not self.discover and not self.not_understood


@dataclass
class _Builder:
    genres: set[str] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)
    all_genres: set[str] = field(default_factory=set)
    year_min: int | None = None
    year_max: int | None = None
    recent: bool = False
    discover: bool = False
    understood: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


class GenreNames:
    """The catalog's genres, looked up by forgiving keys (case, plurals, synonyms)."""

    def __init__(self, genres: Iterable[str]) -> None:
        self.genres = tuple(g for g in genres if g and not g.startswith("("))
        self._by_key: dict[str, tuple[str, ...]] = {}
        for genre in self.genres:
            key = _key(genre)
            self._by_key[key] = (genre,)
            self._by_key[key + "s"] = (genre,)
            if key.endswith("y"):
                self._by_key[key[:-1] + "ies"] = (genre,)
        known = set(self.genres)
        for word, names in _SYNONYMS.items():
            if set(names) <= known:
                self._by_key.setdefault(word, names)

    def find(self, words: str) -> tuple[str, ...]:
        """The genres ``words`` names (``()`` if none)."""
        return self._by_key.get(_key(words), ())


def parse_request(text: str, genres: GenreNames) -> ListRequest:
    """Parse the argument of ``/recommend`` (see the module docstring)."""
    text = " ".join(text.split())
    if not text:
        return ListRequest()
    if len(text) > MAX_REQUEST:
        return ListRequest(not_understood=(text[:40],), too_long=True)
    b = _Builder()
    tokens = _tokens(text)
    i = 0
    while i < len(tokens):
        i = _take(tokens, i, genres, b)
    filters = Filters(
        genres=frozenset(b.genres | b.all_genres),
        exclude_genres=frozenset(b.exclude),
        year_min=b.year_min,
        year_max=b.year_max,
        recent=b.recent,
    )
    return ListRequest(
        filters=None if filters == Filters() else filters,
        discover=b.discover,
        all_genres=frozenset(b.all_genres) if len(b.all_genres) > 1 else frozenset(),
        understood=tuple(dict.fromkeys(b.understood)),
        not_understood=tuple(dict.fromkeys(b.unknown)),
    )


def _tokens(text: str) -> list[str]:
    """Words, with year ranges kept whole and commas dropped."""
    text = _RANGE.sub(lambda m: f"{m.group(1)}-{m.group(2)}", text)
    return [t for t in re.split(r"[\s,;/+&]+", text) if t]


def _take(tokens: Sequence[str], i: int, genres: GenreNames, b: _Builder) -> int:
    """Consume the words at ``i`` into ``b``; returns the index of the next unread word."""
    word = tokens[i]
    low = word.lower()
    pair = f"{low} {tokens[i + 1].lower()}" if i + 1 < len(tokens) else ""
    if pair and (found := genres.find(pair)):  # science fiction, film noir, romantic comedy
        _genres(found, b, exclude=False)
        return i + 2
    if pair and _key(pair) in _DISCOVER:
        b.discover = True
        b.understood.append("hidden gems")
        return i + 2
    if low in _EXCLUDE and i + 1 < len(tokens) and genres.find(tokens[i + 1].lstrip("-")):
        _genres(genres.find(tokens[i + 1].lstrip("-")), b, exclude=True)
        return i + 2
    if low.startswith("-") and (found := genres.find(low[1:])):
        _genres(found, b, exclude=True)
        return i + 1
    if found := genres.find(low):
        _genres(found, b, exclude=False)
        return i + 1
    if _key(low) in _RECENT:
        b.recent = True
        b.understood.append("new")
        return i + 1
    if _key(low) in _DISCOVER:
        b.discover = True
        b.understood.append("hidden gems")
        return i + 1
    if low in _BOUND and i + 1 < len(tokens) and _YEAR.fullmatch(tokens[i + 1]):
        year = int(tokens[i + 1])
        if low in ("before", "until"):
            b.year_max = year - 1 if low == "before" else year
            b.understood.append(f"before {year}" if low == "before" else f"until {year}")
        else:
            b.year_min = year + 1 if low == "after" else year
            b.understood.append(f"{low} {year}")
        return i + 2
    if _years(low, b):
        return i + 1
    if _key(low) and _key(low) not in _FILLER:
        b.unknown.append(word[:40])
    return i + 1


def _genres(found: tuple[str, ...], b: _Builder, *, exclude: bool) -> None:
    if exclude:
        b.exclude.update(found)
        b.understood.append("no " + " or ".join(g.lower() for g in found))
    elif len(found) > 1:
        b.all_genres.update(found)
        b.understood.append(" + ".join(g.lower() for g in found))
    else:
        b.genres.update(found)
        b.understood.append(found[0].lower())


def _years(word: str, b: _Builder) -> bool:
    """A decade, a year or a range of years; False if ``word`` is none of them."""
    if match := re.fullmatch(r"((?:18|19|20)[0-9]{2})-((?:18|19|20)[0-9]{2})", word):
        low, high = sorted((int(match.group(1)), int(match.group(2))))
        b.year_min, b.year_max = low, high
        b.understood.append(f"{low}–{high}")
        return True
    if match := _DECADE.fullmatch(word):
        century, decade = match.groups()
        if century is None:  # 90s → 1990s, 10s → 2010s
            start = (1900 if int(decade) >= 3 else 2000) + 10 * int(decade)
        else:
            start = int(century) * 100 + 10 * int(decade)
        b.year_min, b.year_max = start, start + 9
        b.understood.append(f"{start}s")
        return True
    if _YEAR.fullmatch(word):
        b.year_min = b.year_max = int(word)
        b.understood.append(word)
        return True
    return False
