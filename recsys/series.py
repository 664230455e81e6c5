"""Film series (franchises) read from MovieLens titles: "Toy Story 2", "Matrix Reloaded, The".

A series key groups the films of one series; films outside any series have none. The rules read
only the titles (no year, no ratings), and work on every spelling MovieLens uses:

* a sequel number at the end ("Toy Story 2", "Rambo III", "Back to the Future Part II",
  "Kill Bill: Vol. 1", "Star Wars: Episode IV - A New Hope") or a sequel word ("Matrix Reloaded",
  "Batman Returns", "Shrek the Third", "Alien: Resurrection") → the title before it;
* a subtitle after ":" or " - " ("Alien: Covenant", "Mission: Impossible - Fallout") → the title
  before it, but a film linked to a bare title by its subtitle alone must agree with it on the
  article ("Mission: Impossible" is not "Mission, The");
* "X and the …" shared by several titles ("Harry Potter and the …", "Indiana Jones and the …");
* alternative titles in parentheses count too ("Raiders of the Lost Ark (Indiana Jones and the
  Raiders of the Lost Ark)", "Alien³ (a.k.a. Alien 3)");
* a title that begins with the name of a series of at least three films linked by a sequel number
  or word ("Star Trek Into Darkness", "Star Wars Holiday Special, The");
* a few famous sequels whose titles say nothing (``ALIASES``: "Aliens", "Live Free or Die Hard").

Films are linked when a stem of one is the whole title of another or a stem of another; a series
is a connected group of at least two films. Two films with the same bare title (remakes: "Heat",
"Heat, The") are not linked, nor are "Heat" and "Heat and Dust": nothing marks a sequel there.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

# Famous sequels and prequels whose titles do not carry the series (normalised title -> stem).
ALIASES: dict[str, str] = {
    "aliens": "alien",
    "live free or die hard": "die hard",
    "good day to die hard": "die hard",
    "first blood": "rambo",
    "rocky balboa": "rocky",
    "creed": "rocky",
    "creed ii": "rocky",
    "road warrior": "mad max",
    "prometheus": "alien",
    "batman forever": "batman",
    "dark knight": "batman",
    "dark knight rises": "batman",
    "batman begins": "batman",
    "ocean s twelve": "ocean s eleven",
    "ocean s thirteen": "ocean s eleven",
    "ocean s 8": "ocean s eleven",
    "before sunset": "before sunrise",
    "before midnight": "before sunrise",
    "jurassic world": "jurassic park",
    "lost world jurassic park": "jurassic park",
    "2 fast 2 furious": "fast and the furious",
    "fast five": "fast and the furious",
    "fast furious": "fast and the furious",
    "furious 7": "fast and the furious",
    "empire strikes back": "star wars",  # ml-100k and ml-1m spell the episodes this way
    "return of the jedi": "star wars",
    "twilight saga": "twilight",
    "bourne supremacy": "bourne identity",
    "bourne ultimatum": "bourne identity",
    "bourne legacy": "bourne identity",
    "jason bourne": "bourne identity",
    **{
        f"{title}of the planet of the apes": "planet of the apes"
        for title in ("rise ", "dawn ", "war for the ", "beneath the ", "escape from the ")
    },
    "conquest of the planet of the apes": "planet of the apes",
    "battle for the planet of the apes": "planet of the apes",
    # the James Bond films of EON Productions (and the two outside it), whose titles share nothing
    **dict.fromkeys(
        (
            "dr no",
            "from russia with love",
            "goldfinger",
            "thunderball",
            "you only live twice",
            "on her majesty s secret service",
            "diamonds are forever",
            "live and let die",
            "man with the golden gun",
            "spy who loved me",
            "moonraker",
            "for your eyes only",
            "octopussy",
            "view to a kill",
            "living daylights",
            "licence to kill",
            "goldeneye",
            "tomorrow never dies",
            "world is not enough",
            "die another day",
            "casino royale",
            "quantum of solace",
            "skyfall",
            "spectre",
            "no time to die",
            "never say never again",
        ),
        "james bond",
    ),
}

_ARTICLES = ("the", "a", "an", "les", "la", "le", "il", "el", "die", "der", "das")
_TRAILING_ARTICLE = re.compile(r",\s*(" + "|".join(_ARTICLES) + r")\s*$")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+")
_PARENS = re.compile(r"\s*\(([^()]*)\)")
_AKA = re.compile(r"^(?:a\.k\.a\.|aka)\s+")
_ROMAN = r"ii|iii|iv|v|vi|vii|viii|ix|x|xi|xii"
_BARE_ROMAN = r"ii|iii|iv|v|vi|vii|viii|ix|xi|xii"  # not "x": "Malcolm X", "Jason X", "We Are X"
_NUMBER_WORDS = r"one|two|three|four|five|six"
_NUMBERED = re.compile(
    r"^(?P<stem>.+?),?\s+(?:"
    r"(?:part|vol|volume|chapter|episode|book)\.?\s+(?:\d{1,2}|"
    + _ROMAN
    + "|"
    + _NUMBER_WORDS
    + r")"
    r"|(?:[2-9]|1[0-2]|" + _BARE_ROMAN + r"|two|deux)"
    r")(?P<rest>\s*[:\-].*)?$"
)
_SEQUEL_WORDS = (
    "reloaded|revolutions|returns|strikes back|forever after|begins|rises|rising"
    "|resurrection|reborn|salvation|genisys|the third|continues|unleashed|origins|legacy"
    "|resurgence|retaliation|reckoning|regeneration|the sequel|part deux|redux"
)
_SEQUEL = re.compile(r"^(?P<stem>.+?)\s+(?:" + _SEQUEL_WORDS + r")$")
_STORY = re.compile(r"^.+:\s+an?\s+(?P<stem>\S+\s.+?)\s+story$")  # "Rogue One: A Star Wars Story"
_SUBTITLE = re.compile(r"^(?P<stem>.{3,})\s*(?::|\s-\s).*$")  # the last subtitle first
_AND_THE = re.compile(r"^(?P<stem>\S+\s+\S+.*?)\s+(?:and|&)\s+the\s+\S.*$")
_MIN_SHARED = 3  # distinct titles sharing only a subtitle or "X and the" stem
_MIN_PREFIX_SERIES = 3  # films linked by number/sequel word before a title prefix joins them


@dataclass(frozen=True)
class _Stem:
    text: str  # alphanumeric words separated by single spaces
    strong: bool  # reached through a sequel number, sequel word or alias


def _fold(text: str) -> str:
    """Lower case, accents removed, ``&`` and the punctuation of subtitles kept."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.lower().split())


_NOT_WORD = re.compile(r"[^a-z0-9]+")


def _words(text: str) -> str:
    return _NOT_WORD.sub(" ", text).strip()


def _variants(name: str) -> list[tuple[str, bool]]:
    """(folded title, had an article) for the title and each alternative title in parentheses."""
    folded = _fold(name)
    alternatives = [_AKA.sub("", m.group(1)).strip() for m in _PARENS.finditer(folded)]
    main = _PARENS.sub("", folded).strip() or folded
    out = []
    for text in [main, *alternatives]:
        article = bool(_TRAILING_ARTICLE.search(text) or _LEADING_ARTICLE.match(text))
        text = _LEADING_ARTICLE.sub("", _TRAILING_ARTICLE.sub("", text)).strip()
        if _words(text):
            out.append((text, article))
    return out


def name_keys(name: str) -> list[str]:
    """Comparable keys of a title and of each alternative title in its parentheses.

    Folded (lower case, accents and punctuation removed), without a leading or trailing article.

    ``"Matrix, The"`` and ``"The Matrix"`` give ``["matrix"]``; ``"Amelie (Fabuleux destin
    d'Amélie Poulain, Le)"`` gives ``["amelie", "fabuleux destin d amelie poulain"]``.
    """
    return [_words(text) for text, _ in _variants(name)]


def _stems(text: str) -> list[_Stem]:
    """Shorter and shorter stems of one folded title, by the rules of the module docstring."""
    out: list[_Stem] = []
    current = text
    alias = ALIASES.get(_words(current))
    if alias:
        return [_Stem(alias, True)]
    for _ in range(6):
        stem: str | None = None
        strong = False
        if (
            (m := _STORY.match(current))
            or (m := _NUMBERED.match(current))
            or (m := _SEQUEL.match(current))
        ):
            stem, strong = m.group("stem"), True
        elif m := _SUBTITLE.match(current):
            stem = m.group("stem")
        elif m := _AND_THE.match(current):
            stem, strong = m.group("stem"), False
        if stem is None:
            break
        stem = _TRAILING_ARTICLE.sub("", _LEADING_ARTICLE.sub("", stem.strip())).strip(" ,")
        words = _words(stem)
        if not words or words == _words(current):
            break
        out.append(_Stem(ALIASES.get(words, words), strong or words in ALIASES))
        current = stem.strip(" ,:-")
    return out


class _Groups:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def series_keys(
    names: Sequence[str], *, years: Sequence[int | None] | None = None
) -> list[str | None]:
    """A series key per title without year (``None`` when the film belongs to no series).

    Films of one series share a key (the stem most of them share, e.g. ``"matrix"``); the key is
    a plain lower-case string, stable for a given catalog. With ``years`` (one per name, None when
    unknown), a sequel whose base title names several films (remakes: "Girl" and "Girl 6") joins
    only the latest of them released up to its own year, instead of all of them.
    """
    n = len(names)
    if years is not None and len(years) != n:
        raise ValueError(f"{len(years)} years for {n} names")
    whole: dict[str, list[tuple[int, bool]]] = defaultdict(list)  # bare title -> (film, article)
    stems: list[list[tuple[_Stem, bool]]] = [[] for _ in range(n)]
    variants = [_variants(str(name)) for name in names]
    for i, film_variants in enumerate(variants):
        for text, article in film_variants:
            whole[_words(text)].append((i, article))
            stems[i].extend((s, article) for s in _stems(text))
    groups = _Groups(n)
    by_stem: dict[str, list[int]] = defaultdict(list)
    strong_members: dict[str, set[int]] = defaultdict(set)
    for i, film_stems in enumerate(stems):
        for stem, article in film_stems:
            by_stem[stem.text].append(i)
            if stem.strong:
                strong_members[stem.text].add(i)
            others = [(j, a) for j, a in whole.get(stem.text, ()) if j != i]
            if years is not None and len({j for j, _a in others}) > 1:
                others = _closest_before(others, years, i)
            for j, other_article in others:
                if stem.strong or other_article == article:
                    groups.union(i, j)
                    if stem.strong:
                        strong_members[stem.text].add(j)
            if others:  # the series is named by a film: shorter stems would overreach
                break
    for text, members in by_stem.items():
        needed = 2 if strong_members.get(text) else _MIN_SHARED
        if text in whole or len({variants[i][0][0] for i in members if variants[i]}) < needed:
            continue  # linked above by a film's whole title, remakes, or a loose subtitle
        for j in members[1:]:
            groups.union(members[0], j)
    distinct = {
        stem: members
        for stem, members in strong_members.items()
        if len({variants[i][0][0] for i in members if variants[i]}) >= _MIN_PREFIX_SERIES
    }
    _join_prefixes(variants, groups, distinct)
    return _keys(n, groups, whole, stems)


def _closest_before(
    films: list[tuple[int, bool]], years: Sequence[int | None], film: int
) -> list[tuple[int, bool]]:
    """Of several films with one title, the latest released up to ``film``'s year."""
    own = _year(years[film])
    if own is None:
        return films
    dated = [(y, j, a) for j, a in films if (y := _year(years[j])) is not None]
    before = [d for d in dated if d[0] <= own]
    if not before:  # all of them came later: none is the original (unless undated)
        return [] if len(dated) == len(films) else films
    latest = max(d[0] for d in before)
    return [(j, a) for y, j, a in before if y == latest]


def _year(value: object) -> int | None:
    """A year as an int; None for None, NaN and pandas' NA (the catalog's nullable Int32)."""
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return None


def _join_prefixes(
    variants: list[list[tuple[str, bool]]], groups: _Groups, strong_members: dict[str, set[int]]
) -> None:
    """Join titles that begin with the name of a series linked by numbers or sequel words."""
    series = {
        stem: min(members)
        for stem, members in strong_members.items()
        if len(members) >= _MIN_PREFIX_SERIES and " " in stem
    }
    if not series:
        return
    longest = max(stem.count(" ") for stem in series) + 1
    for i, film_variants in enumerate(variants):
        for text, _article in film_variants:
            words = _words(text).split()
            if len(words) < 3:
                continue
            for k in range(2, min(longest, len(words) - 1) + 1):
                first = series.get(" ".join(words[:k]))
                if first is not None:
                    groups.union(i, first)


def _keys(
    n: int,
    groups: _Groups,
    whole: dict[str, list[tuple[int, bool]]],
    stems: list[list[tuple[_Stem, bool]]],
) -> list[str | None]:
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        members[groups.find(i)].append(i)
    titles_of: list[set[str]] = [set() for _ in range(n)]
    for text, owners in whole.items():
        for i, _article in owners:
            titles_of[i].add(text)
    out: list[str | None] = [None] * n
    for films in members.values():
        if len(films) < 2:
            continue
        counts: Counter[str] = Counter()
        for i in films:
            counts.update(titles_of[i] | {s.text for s, _a in stems[i]})
        key = min(counts, key=lambda s: (-counts[s], len(s), s))
        for i in films:
            out[i] = key
    return out
