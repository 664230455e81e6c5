"""Title resolution: whatever a person types becomes one MovieLens movie, a short list, or nothing.

:class:`TitleIndex` is built once from the catalog (see :func:`recsys.movielens.load_catalog`).
Every movie gets *keys*: normalised spellings of its main title (with MovieLens's trailing article
put back in front, and without it), of every alternate title in parentheses (a.k.a. and
original-language titles), and of the parts of a title split at ``:`` or `` - `` ("Star Wars",
"The Empire Strikes Back"). Normalisation folds case and accents, turns punctuation into spaces,
spells ``&`` as "and", and writes numbers one way ("Part II" = "part two" = "2"), so every key has
a spaced form ("toy story 2") and a space-free form ("toystory2").

:meth:`TitleIndex.resolve` first refuses what cannot be a title (too long, empty, no letter or
digit, stopwords only, code such as HTML or SQL), then looks for evidence in order of strength and
stops at the first level that has a candidate worth offering:

1. **exact**: the space-free query equals a space-free key; a full or alternate title beats a
   title part, so "Sing" is Sing (2016) and never Singin' in the Rain;
2. **contained**: every word of the query is a whole word of a key, or the space-free query begins
   a space-free key ("showman", "harry potter", "harrypotter");
3. **typo**: the space-free query is close to a space-free key (rapidfuzz ``ratio`` over a pool
   picked by shared trigrams), its words are close to words of a key ("harry poter"), or a key's
   words are all in a longer query ("toy story movie").

A year in the query ("titanic 1953", "avengers (1998)") keeps only movies of that year (one year
either side when none is exact). Candidates that score too close to call are ordered by popularity
(``likes``). One clear candidate is **matched**; several are **ambiguous** (2-5 of them); weak
evidence only gives **not_found** with up to three suggestions. docs/title-resolution.md has the
details and the figures.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

MAX_QUERY_CHARS = 200
MAX_CANDIDATES = 5
MAX_SUGGESTIONS = 3

# Key weights: how much an exact hit on that kind of key is worth.
W_TITLE = 100.0  # the main title
W_ALIAS = 99.0  # an alternate title in parentheses
W_PART = 95.0  # a part of a title split at ":" or " - "

# Scores of the weaker levels (exact hits score their key weight).
CONTAINED_BASE = 80.0  # + up to CONTAINED_SPAN by the share of the key the query covers
CONTAINED_SPAN = 15.0
FUZZY_WORDS_BASE = 70.0  # query words close to a key's words, + share covered (same span)
FUZZY_WORD_EDIT = 3.0  # less for every misspelt word after the first
WITHIN_BASE = 60.0  # a key all of whose words are in the query, + up to WITHIN_SPAN by the share
WITHIN_SPAN = 30.0  # of the query it covers

FUZZY_POOL = 300  # strings scored with rapidfuzz per fuzzy search (picked by shared trigrams)
SHORT_QUERY = 6  # up to this many letters, every string of about the same length is scored too
LONG_WORD = 8  # a misspelt word may be one edit away (swapped letters count one), two from here

MATCH_SCORE = 85.0  # a lone candidate at least this good is a match
AMBIGUOUS_SCORE = 72.0  # below this, candidates are only "did you mean" suggestions
SUGGEST_SCORE = 60.0
CLOSE_CALL = 5.0  # candidates within this of the best are too close to call ...
# A lone candidate below MATCH_SCORE is the answer when the query is long enough for the
# resemblance to be no coincidence: random letters reach these scores against almost no title.
LONE_LONG = (8, AMBIGUOUS_SCORE)  # (letters and digits in the query, score)
LONE_SHORT = (5, 80.0)
PREFIX_MIN = 6  # letters a space-free query needs to match the beginning of a title
SERIES_MAX = 9  # "die hard 3": the n-th film of a series, for n up to this
SERIES_KEYS = 200  # ... among at most this many keys beginning with the series name
SERIES_SHARE = 0.05  # ... and as popular as this share of the series' most popular film
CLEAR_LEAD = 3.0  # ... unless the best leads them all by this and is also the most popular
NUMBER_MISMATCH = 10.0  # a typo match whose numbers differ ("die hard 3" vs "Die Hard 2") is weak,
# and never a match on its own
TYPO_POPULARITY = 10  # an exact hit yields to a typo this many times as popular

# Articles MovieLens moves to the end ("Lion King, The"; "Cité des enfants perdus, La").
_ARTICLES = frozenset(
    {
        "the",
        "a",
        "an",
        "la",
        "le",
        "les",
        "l",
        "il",
        "lo",
        "gli",
        "i",
        "el",
        "los",
        "las",
        "un",
        "une",
        "una",
        "uno",
        "der",
        "die",
        "das",
        "den",
        "det",
        "en",
        "ett",
        "ein",
        "eine",
        "de",
        "het",
        "o",
        "os",
        "as",
    }
)
# Articles that may be dropped from the front of a query ("the matrix" -> "matrix").
_QUERY_ARTICLES = frozenset({"the", "a", "an"})
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+?),\s*(?P<art>[^\W\d_]+'?)\s*$")
_ALIAS = re.compile(r"\s*\((?P<alias>[^()]*)\)\s*$")
_AKA = re.compile(r"^\s*(?:a\.?\s*k\.?\s*a\.?|aka)\s+", re.IGNORECASE)
_PART_SPLIT = re.compile(r"\s*:\s+|\s+[-–—]+\s+")
_MAY_SPLIT = re.compile(r"[:\-–—]")
_COMPLEX_NAME = re.compile(r"[:\-–—,]|\)\s*$")  # may have parts, an article or an alias
_QUERY_YEAR = re.compile(r"^(?P<body>.*?)[\s,]*[(\[]?(?P<year>1[89]\d\d|20\d\d)[)\]]?\s*$")
_CODE_LIKE = re.compile(
    r"<\s*/?\s*[a-z][a-z0-9]*[^<>]*>"  # an HTML tag
    r"|\b(?:select|insert|update|delete|drop|union|alter)\b.+\b(?:from|into|table|set|select)\b"
    r"|(?:--|;|/\*|\*/)\s*$|'\s*or\s*'?\d+'?\s*=\s*'?\d+"
    r"|\b(?:javascript|onerror|onload)\s*[:=]|&[a-z]+;|%[0-9a-f]{2}",
    re.IGNORECASE,
)

_LETTER_MAP = str.maketrans(
    {
        "ø": "o",
        "Ø": "o",
        "æ": "ae",
        "Æ": "ae",
        "œ": "oe",
        "Œ": "oe",
        "ß": "ss",
        "ł": "l",
        "Ł": "l",
        "đ": "d",
        "Đ": "d",
        "ð": "d",
        "Ð": "d",
        "þ": "th",
        "Þ": "th",
        "ı": "i",
        "³": "3",
        "²": "2",
        "&": " and ",
        "+": " and ",
        "’": "'",
        "‘": "'",
        "`": "'",
        "´": "'",
        "ʼ": "'",
    }
)
_SPECIAL = re.compile("[" + "".join(re.escape(chr(c)) for c in _LETTER_MAP) + "]")
# "d'Amélie", "l'Avventura", "O'Brien": a one-letter elision is a word of its own; other
# apostrophes ("Schindler's", "Singin'") are dropped.
_ASCII_MAP = str.maketrans(
    {**{chr(i): " " for i in (*range(32), 127)}, "&": " and ", "+": " and ", "`": "'"}
)
# Combining marks (accents once decomposed) and invisible format or control characters.
_MARKS = re.compile(
    "[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u064b-\u065f\u1ab0-\u1aff\u1dc0-\u1dff"
    "\u20d0-\u20ff\ufe20-\ufe2f\u00ad\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
)
_CONTROLS = re.compile("[\u0000-\u001f\u007f-\u009f\u2028\u2029]")
_ACRONYM = re.compile(r"(?<![^\W_])[^\W\d_](?:\.[^\W\d_])+\b\.?")  # E.T., L.A.
_NON_WORD = re.compile(r"[^\w\u241e]+|_+")
_ELISION = re.compile(r"(?<![^\W\d_])([^\W\d_]|qu)'(?=[^\W\d_])")
_UNITS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
_TENS = {
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "sixty": "60",
    "seventy": "70",
    "eighty": "80",
    "ninety": "90",
}
_ROMAN = {
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "vi": "6",
    "vii": "7",
    "viii": "8",
    "ix": "9",
    "xi": "11",
    "xii": "12",
    "xiii": "13",
    "xiv": "14",
    "xv": "15",
    "xvi": "16",
    "xvii": "17",
    "xviii": "18",
    "xix": "19",
    "xx": "20",
}  # not "i", "v", "x": words too
_ORDINALS = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
]
# Every way of writing a number that becomes digits ("Part II" = "part two" = "part 2"; "Shrek the
# Third" holds the words of "shrek 3").
_NUMBER_WORDS = (
    {w: str(i) for i, w in enumerate(_UNITS)}
    | _TENS
    | _ROMAN
    | {w: str(i) for i, w in enumerate(_ORDINALS) if i}
)
_SMALL_ROMAN = {"i": "1", "v": "5", "x": "10"}
_NUMBERED_RE = re.compile(
    r"\b(?:part|pt|episode|ep|chapter|vol|volume|no|number) (\d+|i|v|x)\b"
)  # "part 2" -> "2"
_NUMBER_WORD = re.compile(
    r"\b(?:" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b"
)
_SEP = "\u241e"  # separates texts normalised together; not a word character
_DIGITS = re.compile(r"\d+")
_STOPWORDS = frozenset({"the", "a", "an", "and", "of", "in", "on", "to", "for", "at", "with"})


class MatchStatus(StrEnum):
    """What a resolution found."""

    MATCHED = "matched"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Candidate:
    """One movie a query may mean, with how well it fits (0-100)."""

    movie_id: int
    title: str
    score: float


@dataclass(frozen=True)
class Resolution:
    """The answer to one query.

    ``candidates``: for ambiguous, 2-5 movies best first; for not_found, up to 3 suggestions; for
    matched, empty. ``error`` says why a query was refused (too long, empty).
    """

    query: str
    status: MatchStatus
    movie_id: int | None
    title: str | None
    score: float
    candidates: tuple[Candidate, ...]
    error: str | None = None


# --------------------------------------------------------------------------------------------
# Normalisation


def fold(text: str) -> str:
    """Lower-case ``text``, fold accents and special letters, drop control characters."""
    if text.isascii():
        return text.translate(_ASCII_MAP).lower()
    text = unicodedata.normalize("NFKC", text)
    text = _SPECIAL.sub(lambda m: _LETTER_MAP[ord(m.group())], text)  # faster than translate
    text = _CONTROLS.sub(" ", unicodedata.normalize("NFKD", text))
    return _MARKS.sub("", text).casefold()


def words(text: str) -> list[str]:
    """The normalised words of ``text``: folded, punctuation split, numbers written as digits.

    "Godfather: Part II" and "godfather part 2" both give ``["godfather", "2"]``; "E.T." and "et"
    give ``["et"]``; "WALL·E" gives ``["wall", "e"]``; "d'Amélie" gives ``["d", "amelie"]``.
    """
    return [w for ws in words_of_many([text.replace(_SEP, " ")]) for w in ws]


def words_of_many(texts: list[str]) -> list[list[str]]:
    """:func:`words` of many texts at once: one pass of each regex over all of them."""
    return _normalise_many(texts)[0]


def _normalise_many(texts: list[str]) -> tuple[list[list[str]], list[list[str] | None]]:
    """The words of each text, and where numbers were rewritten, its words as spelled.

    "Sixth Sense" gives ``["6", "sense"]`` and ``["sixth", "sense"]``: someone typing
    "thesixthsense" without spaces spells the number, and only the spelled form meets that.
    """
    text = fold(_SEP.join(texts))
    if "'" in text:
        text = _ELISION.sub(r"\1 ", text).replace("'", "")
    if "." in text:
        text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    spelled = _NON_WORD.sub(" ", text)
    text = _NUMBER_WORD.sub(lambda m: _NUMBER_WORDS[m.group(0)], spelled)
    text = _NUMBERED_RE.sub(lambda m: _SMALL_ROMAN.get(m.group(1), m.group(1)), text)
    numbered_parts = text.split(_SEP)
    spelled_parts = spelled.split(_SEP)
    return (
        [part.split() for part in numbered_parts],
        [s.split() if s != n else None for s, n in zip(spelled_parts, numbered_parts, strict=True)],
    )


def _front_article(text: str) -> tuple[str, bool]:
    """Move a trailing article to the front: "Lion King, The" -> ("The Lion King", True)."""
    match = _TRAILING_ARTICLE.match(text) if "," in text else None
    if match is None:
        return text, False
    art = match.group("art")
    if fold(art).rstrip("'") not in _ARTICLES:
        return text, False
    sep = "" if art.endswith("'") else " "
    return f"{art}{sep}{match.group('body')}", True


def split_aliases(name: str) -> tuple[str, list[str]]:
    """Split "Seven (a.k.a. Se7en)" into ("Seven", ["Se7en"]); the year is already removed."""
    aliases: list[str] = []
    while name.endswith(")"):
        match = _ALIAS.search(name)
        if match is None or match.start() == 0:
            break
        alias = _AKA.sub("", match.group("alias")).strip()
        if alias:
            aliases.append(alias)
        name = name[: match.start()].rstrip()
    aliases.reverse()
    return name, aliases


Keys = dict[tuple[str, ...], float]  # a movie's keys (normalised words) and their weights


def title_keys(name: str) -> Keys:
    """Every key of a movie's name (MovieLens spelling without the year) with its weight."""
    return catalog_keys([name])[0]


def catalog_keys(names: list[str]) -> list[Keys]:
    """:func:`title_keys` of many names, normalising all their texts in one batch."""
    # Per name, per title (main, then aliases): (index of its first part, parts, weight, moved).
    layouts: list[list[tuple[int, int, float, bool]]] = []
    texts: list[str] = []
    for name in names:
        if _SEP in name:
            name = name.replace(_SEP, " ")
        if not _COMPLEX_NAME.search(name):  # most names: one title, one part, nothing moved
            layouts.append([(len(texts), 1, W_TITLE, False)])
            texts.append(name)
            continue
        main, aliases = split_aliases(name)
        layout = []
        for text, weight in [(main, W_TITLE)] + [(a, W_ALIAS) for a in aliases]:
            fronted, moved = _front_article(text)
            pieces = _PART_SPLIT.split(fronted) if _MAY_SPLIT.search(fronted) else [fronted]
            layout.append((len(texts), len(pieces), weight, moved))
            texts.extend(pieces)
        layouts.append(layout)
    normalised, spelled = _normalise_many(texts)
    out: list[Keys] = []
    for layout in layouts:
        keys: Keys = {}
        for first, n_parts, weight, moved in layout:
            if n_parts == 1:
                _add_key(keys, normalised[first], weight, drop_article=moved)
                as_spelled = spelled[first]
                if as_spelled is not None:
                    _add_key(keys, as_spelled, weight, drop_article=moved)
                continue
            parts = normalised[first : first + n_parts]
            _add_key(keys, [w for p in parts for w in p], weight, drop_article=moved)
            parts_spelled = spelled[first : first + n_parts]
            if any(parts_spelled):
                whole = [w for s, p in zip(parts_spelled, parts, strict=True) for w in (s or p)]
                _add_key(keys, whole, weight, drop_article=moved)
            for i in range(1, n_parts):
                _add_key(keys, [w for p in parts[:i] for w in p], W_PART, drop_article=False)
            _add_key(keys, parts[-1], W_PART, drop_article=False)
        out.append(keys)
    return out


def _add_key(keys: Keys, ws: list[str], weight: float, *, drop_article: bool) -> None:
    """Add a key, and the same without its leading article, unless it cannot identify a movie."""
    key = tuple(ws)
    if keys.get(key, -1.0) < weight and _useful(key, weight):
        keys[key] = weight
    if len(key) > 1 and (key[0] in _QUERY_ARTICLES or (drop_article and key[0] in _ARTICLES)):
        key = key[1:]
        if keys.get(key, -1.0) < weight and _useful(key, weight):
            keys[key] = weight


def _useful(key: tuple[str, ...], weight: float) -> bool:
    """Whether a key can identify a movie: "300" can as a title, "2" or "the" never can."""
    for word in key:  # a loop: frozenset.issuperset would build a set from the tuple
        if word not in _STOPWORDS:
            break
    else:
        return False  # empty, or stopwords only
    return weight >= W_ALIAS or not "".join(key).isdigit()


# --------------------------------------------------------------------------------------------
# Query parsing


@dataclass(frozen=True)
class _Query:
    """One reading of a query: its words and, when it named one, a year."""

    words: tuple[str, ...]
    year: int | None

    @property
    def compact(self) -> str:
        """The words without spaces: "toy story 2" -> "toystory2"."""
        return "".join(self.words)

    @property
    def required(self) -> list[str]:
        """The words a key must hold: all but stopwords ("the", "of", "and", ...)."""
        return [w for w in self.words if w not in _STOPWORDS]

    def without_article(self) -> _Query | None:
        """The same reading without a leading English article ("the matrix" -> "matrix").

        Foreign ones stay: keys already hold "la haine" and "haine", and "die hard" is not "hard".
        """
        if len(self.words) > 1 and self.words[0] in _QUERY_ARTICLES:
            return _Query(self.words[1:], self.year)
        return None


def readings(query: str) -> list[_Query]:
    """The ways to read a query: with a trailing year as a year filter first, then as typed."""
    out = []
    match = _QUERY_YEAR.match(query)
    if match is not None:
        body = words(match.group("body"))
        if body:
            out.append(_Query(tuple(body), int(match.group("year"))))
    whole = words(query)
    if whole:
        out.append(_Query(tuple(whole), None))
    return out


def garbage_reason(query: str) -> str | None:
    """Why ``query`` cannot be a title (None when it may be one)."""
    if len(query) > MAX_QUERY_CHARS:
        return f"That is too long to be a title (max {MAX_QUERY_CHARS} characters)."
    if not query.strip():
        return "Type a movie title to look it up."
    if _CODE_LIKE.search(query):
        return "That looks like code, not a movie title."
    if not any(c.isalnum() for c in fold(query)):
        return "That has no letters or digits; type a movie title."
    if _STOPWORDS.issuperset(words(query)):
        return "Type more of the title than that."
    return None


# --------------------------------------------------------------------------------------------
# The index


@dataclass
class _Hits:
    """Best score per movie index, for one level of evidence."""

    scores: dict[int, float] = field(default_factory=dict)

    def add(self, movie: int, score: float) -> None:
        if score > self.scores.get(movie, -1.0):
            self.scores[movie] = score

    def add_all(self, owners: Iterable[tuple[int, float]]) -> None:
        for movie, score in owners:
            self.add(movie, score)

    def __bool__(self) -> bool:
        return bool(self.scores)


class TitleIndex:
    """Normalised keys of every catalog title, for :meth:`resolve`."""

    def __init__(
        self,
        movie_ids: np.ndarray,
        titles: list[str],
        years: np.ndarray,
        likes: np.ndarray,
        keys: list[Keys],
    ) -> None:
        """Build lookup tables from per-movie keys; use :meth:`build` from a catalog instead."""
        self._ids = movie_ids
        self._titles = titles
        self._years = years
        self._likes = likes
        # Every key of every movie, flat: its movie, weight, space-free form and words.
        self._key_movie = np.repeat(
            np.arange(len(keys), dtype=np.int32), [len(movie_keys) for movie_keys in keys]
        )
        self._key_weight = np.fromiter(
            (w for mk in keys for w in mk.values()), dtype=np.float32, count=len(self._key_movie)
        )
        joined = ["".join(key) for movie_keys in keys for key in movie_keys]
        self._key_len = np.fromiter(map(len, joined), dtype=np.int32, count=len(joined))
        # Distinct space-free keys, sorted (for prefix search), each with the keys spelling it.
        codes, uniques = pd.factorize(pd.Series(joined, dtype=object))
        unsorted: list[str] = uniques.tolist()
        order = sorted(range(len(unsorted)), key=unsorted.__getitem__)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes = rank[codes]
        self._compact_keys: list[str] = [unsorted[i] for i in order]
        self._compact_id = dict(
            zip(self._compact_keys, range(len(self._compact_keys)), strict=True)
        )
        self._key_code = codes.astype(np.int32)  # key -> its space-free form in _compact_keys
        self._spelled_by = np.argsort(codes, kind="stable").astype(np.int32)
        self._spelled_at = np.searchsorted(
            codes[self._spelled_by], np.arange(len(uniques) + 1)
        ).astype(np.int32)
        self._compact_grams = _Grams(self._compact_keys)
        # Title keys of movies popular enough to beat an exact hit on a typo (none without likes).
        popular = sorted(
            {
                ("".join(k), int(m))
                for m in np.flatnonzero(likes >= TYPO_POPULARITY)
                for k, w in keys[m].items()
                if w >= W_ALIAS
            }
        )
        self._popular_keys = [k for k, _m in popular]
        self._popular_owner = [m for _k, m in popular]
        n_words = [len(key) for movie_keys in keys for key in movie_keys]
        self._postings, self._key_distinct = _postings(
            [w for movie_keys in keys for key in movie_keys for w in key],
            np.repeat(np.arange(len(n_words), dtype=np.int32), n_words),
            len(n_words),
        )
        self._vocab = sorted(self._postings)
        self._vocab_grams = _Grams(self._vocab)

    @classmethod
    def build(cls, catalog: pd.DataFrame) -> TitleIndex:
        """Index every movie of a catalog frame (``title``, ``name``, ``year``, ``likes``)."""
        names = catalog["name"].astype(str).tolist()
        years = catalog["year"].astype("Int32").fillna(-1).to_numpy(dtype=np.int32)
        likes = (
            catalog["likes"].to_numpy(dtype=np.int64)
            if "likes" in catalog
            else np.zeros(len(catalog), dtype=np.int64)
        )
        keys = catalog_keys(names)
        return cls(
            catalog.index.to_numpy(dtype=np.int64),
            catalog["title"].astype(str).tolist(),
            years,
            likes,
            keys,
        )

    def _owners(self, i: int) -> Iterable[tuple[int, float]]:
        """(movie, weight) of every movie with the i-th space-free key."""
        kids = self._spelled_by[self._spelled_at[i] : self._spelled_at[i + 1]]
        return zip(self._key_movie[kids].tolist(), self._key_weight[kids].tolist(), strict=True)

    def __len__(self) -> int:
        return len(self._titles)

    # ----------------------------------------------------------------------------------------

    def resolve(self, query: str) -> Resolution:
        """Resolve one typed query; never raises on any string."""
        if not isinstance(query, str):
            query = str(query)
        reason = garbage_reason(query)
        if reason is not None:
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, (), reason)
        fallback: list[tuple[int, float]] = []
        for reading in readings(query):
            ranked, decisive = self._resolve_reading(reading)
            nth = self._nth_in_series(reading, ranked)
            if nth is not None:  # a guess from release order: offered first, never matched
                return self._answer(query, nth, sure=False)
            if decisive:
                return self._answer(query, ranked)
            if ranked and (not fallback or ranked[0][1] > fallback[0][1]):
                fallback = ranked
        return self._answer(query, fallback)

    def split(self, text: str) -> list[str]:
        """The titles in a message: one title (even one with commas) stays whole."""
        parts = split_titles(text)
        if len(parts) > 1 and self.resolve(text).status == MatchStatus.MATCHED:
            return [text.strip()]
        return parts

    def _resolve_reading(self, reading: _Query) -> tuple[list[tuple[int, float]], bool]:
        """Ranked (movie, score) for one reading, and whether it is good enough to stop.

        The first level with a candidate worth offering decides; when it offers a single weak
        candidate, the next levels' candidates are appended so that a choice has two entries.
        """
        levels = (self._exact_hits, self._contained_hits, self._fuzzy_hits)
        ranked: list[tuple[int, float]] = []
        for i, level in enumerate(levels):
            hits = self._year_filter(level(reading), reading.year)
            if not hits:
                continue
            ranked = self._rank(hits)
            if ranked[0][1] < AMBIGUOUS_SCORE:
                continue
            if len(ranked) == 1 and ranked[0][1] < MATCH_SCORE:
                ranked += self._more(reading, levels[i + 1 :], exclude=ranked[0][0])
            return ranked, True
        return ranked, False

    def _nth_in_series(
        self, reading: _Query, ranked: list[tuple[int, float]]
    ) -> list[tuple[int, float]] | None:
        """For "die hard 3", whose number no title holds: the third "Die Hard ..." film by year.

        Only when no key holds every word of the query (so the typo level decided), the query
        ends in a number from 1 to 9, and at least that many titles begin with its other words
        (among those with a twentieth of the series' best popularity: sequels are less liked,
        "Alien Nation" is no Alien film). ``ranked`` with that film
        first, then the rest of the series by year, then ``ranked``; or None.
        """
        ws = reading.words
        if (
            reading.year is not None
            or len(ws) < 2
            or not ws[-1].isdigit()
            or not 1 <= int(ws[-1]) <= SERIES_MAX
        ):
            return None
        if self._contained_hits(reading):
            return None
        base = _Query(ws[:-1], None)
        prefix = (base.without_article() or base).compact
        lo = bisect.bisect_left(self._compact_keys, prefix)
        hi = bisect.bisect_left(self._compact_keys, prefix + "\U0010ffff")
        if len(prefix) < PREFIX_MIN - 2 or hi - lo > SERIES_KEYS:
            return None
        series = {m for i in range(lo, hi) for m, _w in self._owners(i)}
        best = max((int(self._likes[m]) for m in series), default=0)
        series = {m for m in series if self._likes[m] >= SERIES_SHARE * best}
        n = int(ws[-1])
        if len(series) < max(2, n):
            return None
        by_year = sorted(
            series,
            key=lambda m: (int(self._years[m]) if self._years[m] >= 0 else 9999, int(self._ids[m])),
        )
        pick = by_year[n - 1]
        score = max(AMBIGUOUS_SCORE, ranked[0][1] if ranked else 0.0)
        first = [pick] + [m for m in by_year if m != pick]
        return [(m, score) for m in first] + [(m, s) for m, s in ranked if m not in series]

    def _more(
        self, reading: _Query, levels: Iterable[Callable[[_Query], _Hits]], exclude: int
    ) -> list[tuple[int, float]]:
        """Ranked candidates of the first of ``levels`` that has any besides ``exclude``."""
        for level in levels:
            hits = self._year_filter(level(reading), reading.year)
            hits.scores.pop(exclude, None)
            if hits:
                return self._rank(hits)
        return []

    def _answer(
        self, query: str, ranked: list[tuple[int, float]], *, sure: bool = True
    ) -> Resolution:
        """Turn ranked candidates into a resolution (see the module doc for the rules).

        With ``sure`` False the first candidate is only offered, never matched.
        """
        if not ranked or ranked[0][1] < SUGGEST_SCORE:
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, ())
        best, score = ranked[0]
        close = [s for _m, s in ranked[1:] if s >= score - CLOSE_CALL]
        clear = score >= MATCH_SCORE and all(s <= score - CLEAR_LEAD for s in close)
        if sure and (clear or (len(ranked) == 1 and _lone_is_answer(query, score))):
            return Resolution(
                query,
                MatchStatus.MATCHED,
                int(self._ids[best]),
                self._titles[best],
                round(score, 1),
                (),
            )
        if score >= AMBIGUOUS_SCORE and len(ranked) > 1:
            cands = tuple(self._candidate(m, s) for m, s in ranked[:MAX_CANDIDATES])
            return Resolution(query, MatchStatus.AMBIGUOUS, None, None, round(score, 1), cands)
        sugg = tuple(
            self._candidate(m, s) for m, s in ranked[:MAX_SUGGESTIONS] if s >= SUGGEST_SCORE
        )
        return Resolution(query, MatchStatus.NOT_FOUND, None, None, round(score, 1), sugg)

    def _candidate(self, movie: int, score: float) -> Candidate:
        return Candidate(int(self._ids[movie]), self._titles[movie], round(score, 1))

    def _rank(self, hits: _Hits) -> list[tuple[int, float]]:
        """Best first; candidates too close to the best to call are ordered by popularity."""
        items = sorted(hits.scores.items(), key=lambda ms: (-ms[1], -self._likes[ms[0]], ms[0]))
        top = items[0][1]
        close = [ms for ms in items if ms[1] >= top - CLOSE_CALL]
        rest = items[len(close) :]
        close.sort(key=lambda ms: (-self._likes[ms[0]], -ms[1], ms[0]))
        return close + rest

    def _year_filter(self, hits: _Hits, year: int | None) -> _Hits:
        if year is None or not hits:
            return hits
        for slack in (0, 1):
            kept = {
                m: s
                for m, s in hits.scores.items()
                if self._years[m] >= 0 and abs(int(self._years[m]) - year) <= slack
            }
            if kept:
                return _Hits(kept)
        return _Hits()

    # ---------------------------------------------------------------------------- levels

    def _exact_hits(self, reading: _Query) -> _Hits:
        """Movies with a key equal to the query (spaces ignored), scored by the key's weight."""
        hits = _Hits()
        for r in (reading, reading.without_article()):
            if r is None:
                continue
            i = self._compact_id.get(r.compact)
            if i is not None:
                hits.add_all(self._owners(i))
        if hits:
            self._add_popular_typos(reading, hits)
        return hits

    def _add_popular_typos(self, reading: _Query, hits: _Hits) -> None:
        """Let a far more popular title one typo away compete with an exact hit.

        "inglorious bastards" spells a 1978 film exactly, yet nearly everyone typing it means
        Inglourious Basterds (2009): such a title joins the exact hits and popularity orders them.
        """
        compact = reading.compact
        if len(compact) < 10:
            return
        known = max(int(self._likes[m]) for m in hits.scores)
        top = max(hits.scores.values())
        found = process.extract(
            compact, self._popular_keys, scorer=fuzz.ratio, score_cutoff=90, limit=5
        )
        numbers = _DIGITS.findall(compact)
        for key, _score, i in found:
            movie = self._popular_owner[i]
            if (
                self._likes[movie] >= TYPO_POPULARITY * (known + 1)
                and _DIGITS.findall(key) == numbers
            ):  # "incredibles 2" is no typo
                hits.add(movie, top)

    def _contained_hits(self, reading: _Query) -> _Hits:
        """Keys holding every query word, or starting with the space-free query.

        Scored from CONTAINED_BASE up by the share of the key the query covers, so "harry potter"
        fits "Harry Potter and the Goblet of Fire" better than the longer Harry Potter titles.
        """
        hits = _Hits()
        lists = [self._postings.get(w) for w in set(reading.required)]
        found = [p for p in lists if p is not None]
        if lists and len(found) == len(lists):
            self._score_keys(
                hits, _intersect(found), len("".join(reading.required)), CONTAINED_BASE
            )
        compact = reading.compact
        if len(compact) >= PREFIX_MIN:
            lo = bisect.bisect_left(self._compact_keys, compact)
            hi = bisect.bisect_left(self._compact_keys, compact + "\U0010ffff")
            for i in range(lo, min(hi, lo + 3000)):
                cover = len(compact) / len(self._compact_keys[i])
                for movie, weight in self._owners(i):
                    hits.add(movie, CONTAINED_BASE + CONTAINED_SPAN * cover - (W_TITLE - weight))
        return hits

    def _fuzzy_hits(self, reading: _Query) -> _Hits:
        """Keys a few typos away from the query, as a whole or word by word."""
        hits = _Hits()
        compact = reading.compact
        if len(compact) >= 3:
            pool = self._compact_grams.pool(compact, FUZZY_POOL)
            found = process.extract(
                compact,
                {i: self._compact_keys[i] for i in pool},
                scorer=fuzz.ratio,
                score_cutoff=SUGGEST_SCORE,
                limit=25,
            )
            numbers = set(_DIGITS.findall(compact))
            for key, score, i in found:
                adjusted = score - _short_penalty(len(compact))
                if set(_DIGITS.findall(key)) != numbers:
                    adjusted = min(adjusted - NUMBER_MISMATCH, MATCH_SCORE - 1)
                for movie, weight in self._owners(i):
                    hits.add(movie, adjusted - (W_TITLE - weight))
        self._fuzzy_word_hits(reading, hits)
        self._within_hits(reading, hits)
        return hits

    def _within_hits(self, reading: _Query, hits: _Hits) -> None:
        """Keys whose every word is in the query: "toy story movie", "matrix 1999 keanu".

        Scored from WITHIN_BASE up by the share of the query the key covers, so extra words cost
        and a long title inside the query beats a short one.
        """
        lists = [p for w in set(reading.words) if (p := self._postings.get(w)) is not None]
        if not lists or len(reading.words) < 2:
            return
        counts = np.bincount(np.concatenate(lists), minlength=len(self._key_len))
        kids = np.flatnonzero(counts == self._key_distinct)
        cover = self._key_len[kids] / max(1, len(reading.compact))
        scores = WITHIN_BASE + WITHIN_SPAN * cover - (W_TITLE - self._key_weight[kids])
        numbers = set(_DIGITS.findall(reading.compact))
        for kid, score in zip(kids.tolist(), scores.tolist(), strict=True):
            key = self._compact_keys[self._key_code[kid]]
            if numbers and set(_DIGITS.findall(key)) != numbers:
                # "die hard 3" holds "die hard" but is not Die Hard
                score = min(score - NUMBER_MISMATCH, MATCH_SCORE - 1)
            hits.add(int(self._key_movie[kid]), score)

    def _fuzzy_word_hits(self, reading: _Query, hits: _Hits) -> None:
        """Keys holding every query word, some of them misspelt ("spongebbo", "harry poter")."""
        lists: list[np.ndarray] = []
        edits = 0
        for word in set(reading.required):
            exact = self._postings.get(word)
            if exact is not None:
                lists.append(exact)
                continue
            if len(word) < 4:
                return
            pool = self._vocab_grams.pool(word, FUZZY_POOL)
            close = process.extract(
                word,
                {i: self._vocab[i] for i in pool},
                scorer=OSA.distance,
                score_cutoff=1 if len(word) < LONG_WORD else 2,
                limit=5,
            )
            if not close:
                return
            lists.append(np.unique(np.concatenate([self._postings[c[0]] for c in close])))
            edits += 1
        if lists and edits:
            base = (
                FUZZY_WORDS_BASE
                - FUZZY_WORD_EDIT * (edits - 1)
                - _short_penalty(len(reading.compact))
            )
            self._score_keys(hits, _intersect(lists), len("".join(reading.required)), base)

    def _score_keys(self, hits: _Hits, kids: np.ndarray, typed: int, base: float) -> None:
        """Score keys ``kids`` from ``base`` up by the share of them the query's words cover."""
        if not len(kids):
            return
        cover = np.minimum(1.0, typed / self._key_len[kids])
        scores = base + CONTAINED_SPAN * cover - (W_TITLE - self._key_weight[kids])
        for movie, score in zip(self._key_movie[kids].tolist(), scores.tolist(), strict=True):
            hits.add(movie, score)


def _intersect(lists: list[np.ndarray]) -> np.ndarray:
    """Ids present in every one of the sorted unique arrays ``lists``."""
    lists = sorted(lists, key=len)
    kids = lists[0]
    for other in lists[1:]:
        kids = np.intersect1d(kids, other, assume_unique=True)
    return kids


def _postings(
    flat_words: list[str], flat_keys: np.ndarray, n_keys: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Word -> sorted unique ids of the keys holding it; and each key's number of distinct words.

    ``flat_words[i]`` is a word of key ``flat_keys[i]``.
    """
    if not flat_words:
        return {}, np.zeros(n_keys, dtype=np.int64)
    codes, uniques = pd.factorize(pd.Series(flat_words, dtype=object), sort=False)
    vocab: list[str] = uniques.tolist()
    kids = flat_keys
    order = np.lexsort((kids, codes))
    codes, kids = codes[order], kids[order]
    keep = np.ones(len(kids), dtype=bool)
    keep[1:] = (codes[1:] != codes[:-1]) | (kids[1:] != kids[:-1])
    codes, kids = codes[keep], kids[keep]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(codes)]))
    postings = {
        vocab[c]: kids[s:e]
        for c, s, e in zip(codes[starts].tolist(), starts.tolist(), ends.tolist(), strict=True)
    }
    return postings, np.bincount(kids, minlength=n_keys)


class _Grams:
    """A character-trigram index over strings, to find the few worth scoring with rapidfuzz.

    Scoring every one of 100,000 keys with ``fuzz.ratio`` costs tens of milliseconds; the strings
    sharing the most trigrams with the query (Dice coefficient) are a small pool that contains the
    best-scoring ones.
    """

    def __init__(self, strings: list[str]) -> None:
        """Index ``strings`` (non-empty, without "^" or "$")."""
        self.strings = strings
        self.sizes = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))  # "^s$"
        codes, owners = _trigrams(strings, self.sizes)
        order = np.argsort(codes)
        codes = codes[order]
        starts = np.flatnonzero(np.concatenate((codes[:1] == codes[:1], codes[1:] != codes[:-1])))
        self._codes = codes[starts]
        self._starts = np.append(starts, len(order))
        self._owners = owners[order].astype(np.int32)
        self._by_length = np.argsort(self.sizes, kind="stable")
        self._lengths = self.sizes[self._by_length]

    def pool(self, query: str, size: int) -> list[int]:
        """Indices of the ``size`` strings most similar to ``query`` by shared trigrams.

        A typo in a short word leaves it few trigrams ("jwas" shares none with "jaws"), so for a
        query of at most SHORT_QUERY letters every string within one letter of its length joins.
        """
        if not self.strings or not query:
            return []
        near: list[int] = []
        if len(query) <= SHORT_QUERY:
            lo = np.searchsorted(self._lengths, len(query) - 1, side="left")
            hi = np.searchsorted(self._lengths, len(query) + 1, side="right")
            near = self._by_length[lo:hi].tolist()
        codes, _ = _trigrams([query], np.asarray([len(query)], dtype=np.int64))
        codes = np.unique(codes)
        at = np.minimum(np.searchsorted(self._codes, codes), len(self._codes) - 1)
        at = at[self._codes[at] == codes]
        if not len(at):
            return near
        owners = np.concatenate([self._owners[self._starts[i] : self._starts[i + 1]] for i in at])
        counts = np.bincount(owners, minlength=len(self.strings))
        hit = np.flatnonzero(counts)
        dice = counts[hit] / (len(codes) + self.sizes[hit])
        if len(hit) > size:
            top = np.argpartition(-dice, size)[:size]
            hit, dice = hit[top], dice[top]
        ranked: list[int] = hit[np.argsort(-dice, kind="stable")].tolist()
        return ranked + near


def _trigrams(strings: list[str], sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trigram codes of every "^s$" and the index of the string each comes from."""
    text = "".join(f"^{s}$" for s in strings)
    chars = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    owners = np.repeat(np.arange(len(strings), dtype=np.int64), sizes)
    first = np.cumsum(sizes + 2) - (sizes + 2)  # where each "^s$" starts
    ends = np.cumsum(sizes)
    offset = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) - np.repeat(
        ends - sizes, sizes
    )
    pos = np.repeat(first, sizes) + offset
    codes = (chars[pos] << np.uint64(42)) | (chars[pos + 1] << np.uint64(21)) | chars[pos + 2]
    return codes, owners


def _lone_is_answer(query: str, score: float) -> bool:
    """Whether the only candidate for ``query``, at ``score``, is the answer (see LONE_LONG)."""
    typed = sum(c.isalnum() for c in query)
    return any(typed >= length and score >= least for length, least in (LONE_LONG, LONE_SHORT))


def _short_penalty(length: int) -> float:
    """Typos in short strings are weak evidence: one edit in "jaws" is not one in "casablanca"."""
    return max(0.0, 2.0 * (9 - length))


# --------------------------------------------------------------------------------------------
# Text that is not one title

_LIST_SEPARATORS = re.compile(r"\s*(?:\n|,|;)\s*")
_CHAT_OPENERS = frozenset(
    [
        "hi",
        "hello",
        "hey",
        "hiya",
        "yo",
        "thanks",
        "thank",
        "what",
        "which",
        "how",
        "why",
        "who",
        "when",
        "where",
        "should",
        "can",
        "could",
        "would",
        "will",
        "do",
        "does",
        "is",
        "are",
        "any",
        "recommend",
        "suggest",
    ]
)


def split_titles(text: str) -> list[str]:
    """The titles of a message that lists several (one a line, or separated by commas).

    A single title comes back as a one-element list; empty parts are dropped.
    """
    parts = [p.strip() for p in _LIST_SEPARATORS.split(text or "")]
    return [p for p in parts if p]


def is_small_talk(text: str) -> bool:
    """Whether plain text reads as a question or a greeting rather than a movie title."""
    stripped = (text or "").strip()
    if not stripped:
        return False
    first = words(stripped)[:1]
    return stripped.endswith("?") or (
        bool(first) and first[0] in _CHAT_OPENERS and len(words(stripped)) > 1
    )
