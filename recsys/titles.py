"""Title resolution: whatever a person types becomes one MovieLens movie, a short list, or nothing.

:class:`TitleIndex` is built once from the catalog (see :func:`recsys.movielens.load_catalog`).
Every movie gets *keys*: normalised spellings of its main title (with MovieLens's trailing article
put back in front, and without it), of every alternate title in parentheses (a.k.a. and
original-language titles), and of the parts of a title split at ``:`` or `` - `` ("Star Wars",
"The Empire Strikes Back"). Normalisation folds case and accents, turns punctuation into spaces,
spells ``&`` as "and", and writes numbers one way ("Part II" = "part two" = "2"), so every key has
a spaced form ("toy story 2") and a space-free form ("toystory2").

:meth:`TitleIndex.resolve` first reads ids and links (IMDb, TMDB, Letterboxd film, MovieLens
movie: exact, or not_found saying the catalog lacks that id), then refuses what cannot be a title
(too long, empty, no letter or digit, stopwords only, code such as HTML or SQL, a greeting or a
question, a bare number no film is called), writes out a leading abbreviation ("lotr 2" ->
"lord of the rings 2", recsys/data/title_aliases.tsv), and looks for evidence in order of
strength, stopping at the first level that has a candidate worth offering:

1. **exact**: the space-free query equals a space-free key; a full or alternate title beats a
   title part, so "Sing" is Sing (2016) and never Singin' in the Rain;
2. **sequel number**: "harry potter 2" is the second film of the Harry Potter series by release
   order (Star Wars by episode), when no title holds those words and that number;
3. **contained**: every word of the query is a whole word of a key, or the space-free query begins
   a space-free key ("showman", "harry potter", "harrypotter");
4. **typo**: the space-free query is close to a space-free key (rapidfuzz ``ratio`` over a pool
   picked by shared trigrams), its words are close to words of a key ("harry poter"), or a key's
   words are all in a longer query ("toy story movie").

A year in the query ("titanic 1953", "avengers (1998)") keeps only movies of that year (one year
either side when none is exact), and a year no film has is never answered with another year.
Candidates that score too close to call are ordered by popularity (``likes``). One clear
candidate is **matched**, and so is one far more liked than its namesakes ("titanic"); several are
**ambiguous** (2-5 of them); mere look-alikes (a typo-level resemblance, "hereditary" -
"Secretary") are never matched nor asked about: the answer is **not_found** with ``absent`` set
and at most close spellings as suggestions. docs/title-resolution.md has the details and the
figures.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cache
from importlib import resources

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
ARTICLE_DROP = 0.5  # an exact hit reached only by dropping an article ("arrival" = "The
# Arrival") is a little weaker than the title as typed ("Arrival"); the weaker levels ignore it
# Obvious without a question: among candidates too close to call, the most liked one is matched
# when it has at least DOMINANT_LIKES likes and DOMINANT_RATIO times the likes of every rival
# (TYPED_RATIO when it also fits the query better, as typed, than every rival).
DOMINANT_LIKES = 10
DOMINANT_RATIO = 8.0
TYPED_RATIO = 2.0
# Sequel numbers: "harry potter 2" is the second film of the series by release order.
SERIES_FLOOR = 0.02  # members need this share of the series' best likes (drops TV specials)
SERIES_SURE = 0.05  # the pick is matched when it has this share of the best likes (else asked)
LOOSE_FLOOR = 0.05  # "Matrix Reloaded": X and any words, when this share of the best likes
SERIES_LINKS = frozenset({"and", "the"})  # "Harry Potter and the ...", "Shrek the Third"
ABSENT_SUGGEST = 75.0  # a film the catalog lacks gets only suggestions this close ("dune 2021")
REAL_TYPO = 80.0  # a typo-level candidate is real evidence from this score; below, a look-alike
REAL_WITHIN = 78.0  # a title inside a longer query is, when it covers enough of it (60 % here):
# "toy story movie" is Toy Story, "avengers endgame" is no Avengers film
ARTICLE_TYPO = 5.0  # less for a typo of a key led by an article the query does not have
MAX_COMMAS = 3  # a title may hold up to this many commas ("Good, the Bad and the Ugly")

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
    matched, empty. ``error`` says why a query was refused (too long, empty, a question or a
    greeting, a bare number) or why an id or link found nothing ("IMDb tt7131622 is not in this
    catalog."). ``absent`` is True when the query reads as a real film that this catalog does not
    have (no real match; the suggestions, if any, are only close spellings): the chat can say
    "probably not in the catalog" with :meth:`TitleIndex.describe`.
    """

    query: str
    status: MatchStatus
    movie_id: int | None
    title: str | None
    score: float
    candidates: tuple[Candidate, ...]
    error: str | None = None
    absent: bool = False


@dataclass(frozen=True)
class CatalogInfo:
    """What a "not in the catalog" message says about the catalog (its name is the caller's)."""

    movies: int
    newest_year: int | None
    oldest_year: int | None


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
        if keys.get(key, -1.0) < weight - ARTICLE_DROP and _useful(key, weight):
            keys[key] = weight - ARTICLE_DROP


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
# Ids and links

_IMDB = re.compile(
    r"^(?:imdb[\s:#]*)?(?:https?://)?(?:(?:www|m)\.)?(?:imdb\.com/(?:[a-z]{2}/)?title/)?"
    r"tt(?P<id>\d{1,10})(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
_TMDB = re.compile(
    r"^(?:(?:https?://)?(?:www\.)?themoviedb\.org/(?:[a-z]{2}/)?movie/|tmdb[\s:#/]*(?:id[\s:#]*)?)"
    r"(?P<id>\d{1,10})(?:-[\w%-]*)?(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
_LETTERBOXD = re.compile(
    r"^(?:https?://)?(?:www\.)?letterboxd\.com/(?:[\w.-]+/)?film/(?P<slug>[\w%-]+)/?"
    r"(?:[\w/-]*)?(?:[?#]\S*)?$",
    re.IGNORECASE,
)
_MOVIELENS = re.compile(
    r"^(?:https?://)?(?:www\.)?movielens\.org/movies/(?P<id>\d{1,10})(?:[/?#]\S*)?$",
    re.IGNORECASE,
)
_ANY_LINK = re.compile(r"^(?:https?://|www\.)\S+$|^\S+\.(?:com|org|net|io|it)/\S*$", re.IGNORECASE)
_SLUG_YEAR = re.compile(r"^(?P<body>.+)-(?P<year>1[89]\d\d|20\d\d)(?:-\d+)?$")


@dataclass(frozen=True)
class _Link:
    """A query that names a film by id or link: which id, or the title a Letterboxd slug spells."""

    kind: str  # "imdb", "tmdb", "movielens", "letterboxd", "other"
    number: int | None = None
    title: str | None = None


def parse_link(query: str) -> _Link | None:
    """The id or link in ``query`` (IMDb, TMDB, Letterboxd film, MovieLens movie), or None.

    "tt0111161", "https://www.imdb.com/title/tt0111161/", "tmdb 550",
    "https://www.themoviedb.org/movie/603-the-matrix", "https://letterboxd.com/film/heat-1995/"
    (read as the title "heat 1995"), "https://movielens.org/movies/1". Any other link is kind
    "other".
    """
    text = query.strip()
    parts = text.split()
    if not parts or len(text) > MAX_QUERY_CHARS or len(parts) > 2:
        return None
    if len(parts) == 2 and parts[0].lower() not in ("imdb", "tmdb"):
        return None
    for kind, pattern in (("imdb", _IMDB), ("tmdb", _TMDB), ("movielens", _MOVIELENS)):
        match = pattern.match(text)
        if match is not None:
            return _Link(kind, int(match.group("id")))
    match = _LETTERBOXD.match(text)
    if match is not None:
        slug = re.sub(r"%[0-9a-fA-F]{2}", "-", match.group("slug"))
        dated = _SLUG_YEAR.match(slug)
        title = f"{dated.group('body')} {dated.group('year')}" if dated else slug
        return _Link("letterboxd", title=title.replace("-", " "))
    if _ANY_LINK.match(text):
        return _Link("other")
    return None


# --------------------------------------------------------------------------------------------
# Abbreviations and nicknames (recsys/data/title_aliases.tsv)


@cache
def title_aliases() -> dict[tuple[str, ...], tuple[str, ...]]:
    """The curated abbreviations: normalised alias words -> the words they stand for."""
    text = resources.files("recsys").joinpath("data/title_aliases.tsv").read_text("utf-8")
    return parse_aliases(text)


def parse_aliases(text: str) -> dict[tuple[str, ...], tuple[str, ...]]:
    """Parse an aliases file: "alias<TAB>expansion" lines, "#" comments; both sides normalised."""
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        alias, sep, expansion = line.partition("\t")
        key, value = tuple(words(alias)), tuple(words(expansion))
        if not sep or not key or not value:
            raise ValueError(f"title aliases line {number}: expected 'alias<TAB>title': {line!r}")
        out[key] = value
    return out


_GLUED_NUMBER = re.compile(r"^(?P<word>[a-z]+?)(?P<number>\d{1,2})$")


def expand_alias(
    ws: tuple[str, ...], aliases: dict[tuple[str, ...], tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The query words with a leading alias written out ("lotr 2" -> "lord of the rings 2").

    The longest alias that begins the query wins; "hp7" is read as "hp 7". None when no alias
    begins the query.
    """
    if ws:
        glued = _GLUED_NUMBER.match(ws[0])
        if glued is not None and (glued.group("word"),) in aliases and (ws[0],) not in aliases:
            ws = (glued.group("word"), glued.group("number"), *ws[1:])
    for n in range(min(len(ws), 4), 0, -1):
        expansion = aliases.get(ws[:n])
        if expansion is not None:
            return expansion + ws[n:]
    return None


# --------------------------------------------------------------------------------------------
# The index


@dataclass
class _Hits:
    """Best score per movie index, for one level of evidence."""

    scores: dict[int, float] = field(default_factory=dict)
    typo: bool = False  # typo-level evidence: a look-alike unless close or contained
    contained: set[int] = field(default_factory=set)  # movies with a title inside the query
    spelling: dict[int, int] = field(default_factory=dict)  # typo: the key that scored best

    def add(self, movie: int, score: float) -> None:
        if score > self.scores.get(movie, -1.0):
            self.scores[movie] = score

    def add_all(self, owners: Iterable[tuple[int, float]]) -> None:
        for movie, score in owners:
            self.add(movie, score)

    def __bool__(self) -> bool:
        return bool(self.scores)


def _real(hits: _Hits) -> set[int]:
    """The movies of ``hits`` with real evidence, not mere look-alikes.

    Exact and contained hits are. A typo-level hit is when its title is inside the query ("ex
    machina movie"), when it scores MATCH_SCORE, or when it alone scores REAL_TYPO with no other
    within CLOSE_CALL ("gatacca"); not when it only looks alike ("hereditary" - Secretary,
    "green book" - Green Room, "the irishman" - Kill the Irishman, The Freshman).
    """
    if not hits.typo:
        return set(hits.scores)
    real = hits.contained | {m for m, s in hits.scores.items() if s >= MATCH_SCORE}
    top, score = max(hits.scores.items(), key=lambda ms: ms[1])
    key = hits.spelling.get(top, -1)
    same = {m for m, k in hits.spelling.items() if k == key and key >= 0}  # "star wras"
    rivals = [s for m, s in hits.scores.items() if m not in same and m != top]
    if score >= REAL_TYPO and all(s < score - CLOSE_CALL for s in rivals):
        real |= same | {top}
    return real


@dataclass
class _Answer:
    """What one reading found: ranked (movie, score), and how far to trust it.

    ``decisive``: good enough to stop at; ``sure``: the first may be matched (False for a guess
    such as a series pick among little-liked films); ``absent``: the query names a film the
    catalog lacks (the n-th film of a shorter series); ``real``: the candidates with real
    evidence, not mere look-alikes (None: all of them).
    """

    ranked: list[tuple[int, float]]
    decisive: bool
    sure: bool = True
    absent: bool = False
    real: set[int] | None = None


class TitleIndex:
    """Normalised keys of every catalog title, for :meth:`resolve`."""

    def __init__(
        self,
        movie_ids: np.ndarray,
        titles: list[str],
        years: np.ndarray,
        likes: np.ndarray,
        keys: list[Keys],
        imdb_ids: np.ndarray | None = None,
        tmdb_ids: np.ndarray | None = None,
    ) -> None:
        """Build lookup tables from per-movie keys; use :meth:`build` from a catalog instead.

        ``imdb_ids`` and ``tmdb_ids`` (per movie, -1 where unknown) let ids and links resolve.
        """
        self._ids = movie_ids
        self._titles = titles
        self._years = years
        self._likes = likes
        self._by_id = {int(m): i for i, m in enumerate(movie_ids.tolist())}
        self._links = {
            kind: {int(x): i for i, x in enumerate(ids.tolist()) if x >= 0}
            for kind, ids in (("imdb", imdb_ids), ("tmdb", tmdb_ids))
            if ids is not None and bool((ids >= 0).any())
        }
        self._key_words = [key for movie_keys in keys for key in movie_keys]
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
        links = [
            catalog[column].astype("Int64").fillna(-1).to_numpy(dtype=np.int64)
            if column in catalog
            else None
            for column in ("imdb_id", "tmdb_id")
        ]
        return cls(
            catalog.index.to_numpy(dtype=np.int64),
            catalog["title"].astype(str).tolist(),
            years,
            likes,
            keys,
            *links,
        )

    def describe(self) -> CatalogInfo:
        """The number of movies and the years they span, for a "not in the catalog" message."""
        known = self._years[self._years >= 0]
        return CatalogInfo(
            len(self._titles),
            int(known.max()) if len(known) else None,
            int(known.min()) if len(known) else None,
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
        link = parse_link(query)
        if link is not None:
            return self._resolve_link(query, link)
        reason = garbage_reason(query)
        if reason is not None:
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, (), reason)
        reads = readings(query)
        reason = not_a_title_reason(query)
        if reason is not None:
            if query.strip().isdigit():  # "42" is 42 (2013), "123" is not "One, Two, Three"
                exact = self._exact_hits(reads[0])
                named = {m: s for m, s in exact.scores.items() if query.strip() in self._titles[m]}
                if named:
                    return self._answer(query, self._rank(_Hits(named)))
            elif any(self._exact_hits(r) for r in reads):  # "lol" is LOL (2012)
                return self._resolve_readings(query, reads)
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, (), reason)
        return self._resolve_readings(query, reads)

    def _resolve_readings(self, query: str, reads: list[_Query]) -> Resolution:
        """The answer from the readings of a query: with a trailing year first, then as typed."""
        fallback: list[tuple[int, float]] = []
        year_missed = False
        for reading in reads:
            if reading.year is None and year_missed:
                # "parasite 2019": no film of that year; only a title holding the number
                # ("blade runner 2049") may still answer, never a film of another year.
                exact = self._exact_hits(reading)
                if exact:
                    return self._answer(query, self._rank(exact))
                break
            expanded = expand_alias(reading.words, title_aliases())
            if expanded is not None:
                aliased = _Query(expanded, reading.year)
                answer = self._resolve_reading(aliased)
                if answer.absent:
                    return self._absent(query, answer.ranked)
                if answer.decisive:
                    ranked = self._with_exact(answer.ranked, reading)
                    real = answer.real
                    if real is not None:  # the films the query spells exactly are real too
                        real = real | ({m for m, _s in ranked} - {m for m, _s in answer.ranked})
                    return self._answer(query, ranked, sure=answer.sure, real=real)
            answer = self._resolve_reading(reading)
            if answer.absent:
                return self._absent(query, answer.ranked)
            if answer.decisive:
                return self._answer(query, answer.ranked, sure=answer.sure, real=answer.real)
            if reading.year is not None:
                year_missed = True
                fallback = answer.ranked
            elif answer.ranked and (not fallback or answer.ranked[0][1] > fallback[0][1]):
                fallback = answer.ranked
        if year_missed:
            return self._absent(query, fallback)
        # only weak resemblances, if anything: "did you mean" suggestions as for any typo
        return self._absent(query, fallback, least=SUGGEST_SCORE)

    def _with_exact(
        self, ranked: list[tuple[int, float]], reading: _Query
    ) -> list[tuple[int, float]]:
        """``ranked`` joined by the films whose title the query spells exactly, at its top score.

        "t2" stands for Terminator 2, yet it is also the title of T2 Trainspotting: both are
        offered and popularity decides, as for namesakes.
        """
        exact = self._year_filter(self._exact_hits(reading), reading.year)
        if not exact or not ranked:
            return ranked
        known = {m for m, _s in ranked}
        extra = [(m, ranked[0][1]) for m in exact.scores if m not in known]
        if not extra:
            return ranked
        return self._rank(_Hits(dict(ranked[:1] + extra))) + ranked[1:]

    def _absent(
        self, query: str, ranked: list[tuple[int, float]], least: float = ABSENT_SUGGEST
    ) -> Resolution:
        """not_found for a film the catalog probably lacks, suggesting candidates from ``least``."""
        sugg = tuple(self._candidate(m, s) for m, s in ranked[:MAX_SUGGESTIONS] if s >= least)
        score = round(ranked[0][1], 1) if ranked else 0.0
        return Resolution(query, MatchStatus.NOT_FOUND, None, None, score, sugg, absent=True)

    def _resolve_link(self, query: str, link: _Link) -> Resolution:
        """An IMDb/TMDB id or link, a MovieLens movie link, or a Letterboxd film link."""
        if link.kind == "letterboxd" and link.title:
            res = self._resolve_readings(query, readings(link.title))
            if res.status is MatchStatus.NOT_FOUND:
                return replace(
                    res, error=f"No film called {link.title!r} in this catalog.", absent=True
                )
            return res
        if link.kind == "other" or link.number is None:
            reason = "That link is not to a film on IMDb, TMDB, Letterboxd or MovieLens."
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, (), reason)
        name = {"imdb": "IMDb", "tmdb": "TMDB", "movielens": "MovieLens"}[link.kind]
        shown = f"tt{link.number:07d}" if link.kind == "imdb" else str(link.number)
        if link.kind == "movielens":
            movie = self._by_id.get(link.number)
        elif link.kind in self._links:
            movie = self._links[link.kind].get(link.number)
        else:
            reason = f"This catalog has no {name} ids; type the title instead."
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, (), reason)
        if movie is None:
            reason = f"{name} {shown} is not in this catalog."
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, (), reason, True)
        return Resolution(
            query, MatchStatus.MATCHED, int(self._ids[movie]), self._titles[movie], 100.0, ()
        )

    def split(self, text: str) -> list[str]:
        """The titles in a message: one a line, or separated by commas or semicolons.

        A title that itself holds commas ("Crouching Tiger, Hidden Dragon", "Good, the Bad and the
        Ugly") stays whole: neighbouring comma-separated parts are joined back when together they
        spell a title exactly (longest first), and a line whose parts do not all resolve but which
        as a whole is one clear match ("crouching tiger, hiden dragon") is not split either.
        """
        out: list[str] = []
        for line in _LINES.split(text or ""):
            parts = [p.strip() for p in _ITEM_SEPARATORS.split(line)]
            parts = [p for p in parts if p]
            found: list[str] = []
            i = 0
            while i < len(parts):
                take = 1
                for j in range(min(len(parts), i + MAX_COMMAS + 1), i + 1, -1):
                    if self._is_title(", ".join(parts[i:j])):
                        take = j - i
                        break
                found.append(", ".join(parts[i : i + take]))
                i += take
            if len(found) == len(parts) > 1 and any(
                self.resolve(p).status is MatchStatus.NOT_FOUND for p in parts
            ):
                whole = self.resolve(line.strip())
                if whole.status is MatchStatus.MATCHED and whole.score >= MATCH_SCORE:
                    found = [line.strip()]
            out.extend(found)
        return out

    def _is_title(self, text: str) -> bool:
        """Whether ``text`` spells some catalog title exactly (case, spacing, articles aside)."""
        return any(self._exact_hits(r) for r in readings(text))

    def is_small_talk(self, text: str) -> bool:
        """:func:`is_small_talk`, except that a catalog title ("What Women Want") never is."""
        return is_small_talk(text) and not self._is_title(text)

    def _resolve_reading(self, reading: _Query) -> _Answer:
        """Ranked (movie, score) for one reading, and whether it is good enough to stop.

        An exact title decides first; then a sequel number ("harry potter 2"); then the first level
        with a candidate worth offering. When that level offers a single weak candidate, the next
        levels' candidates are appended so that a choice has two entries.
        """
        exact = self._year_filter(self._exact_hits(reading), reading.year)
        if not exact or max(exact.scores.values()) < W_ALIAS - ARTICLE_DROP:
            series = self._series(reading)
            if series is not None and (not exact or self._series_outweighs(series, exact)):
                return series
        levels = (self._exact_hits, self._contained_hits, self._fuzzy_hits)
        ranked: list[tuple[int, float]] = []
        for i, level in enumerate(levels):
            hits = exact if i == 0 else self._year_filter(level(reading), reading.year)
            if not hits:
                continue
            ranked = self._rank(hits)
            if ranked[0][1] < AMBIGUOUS_SCORE:
                continue
            real = _real(hits)
            if len(ranked) == 1 and ranked[0][1] < MATCH_SCORE:
                more, more_real = self._more(reading, levels[i + 1 :], exclude=ranked[0][0])
                ranked += more
                real |= more_real
            return _Answer(ranked, decisive=True, real=real)
        return _Answer(ranked, decisive=False)

    def _series(self, reading: _Query) -> _Answer | None:
        """The n-th film of a series ("harry potter 2", "star wars 8"), when the catalog has one.

        The query ends in a number from 1 to 9 that no title holds with the other words, X. The
        series' films are those with a key that is X ("Harry Potter", also as the part before a
        ":"), X and a number ("Ice Age 2: The Meltdown", "Star Wars: Episode V"), X and
        "and"/"the" ("Harry Potter and the ...", "Shrek the Third"), or X's plural
        ("Aliens"); see :meth:`_series_members`. In release order, a film carrying its number
        takes that place and the next ones follow it (so Star Wars counts by episode). The pick
        is matched when it has SERIES_SURE of the series' best likes or carries the number, else
        offered first. When that series is too short, X followed by any words ("Matrix
        Reloaded") is tried, and its pick is only offered. A series too short for the number is
        ``absent`` ("toy story 4"). None when the query is no "X n" or X names no series.
        """
        ws = reading.words
        if len(ws) < 2 or not ws[-1].isdecimal() or not 1 <= int(ws[-1]) <= SERIES_MAX:
            return None
        n = int(ws[-1])
        base = _Query(ws[:-1], None)
        prefix = (base.without_article() or base).compact
        if len(prefix) < 2:
            return None
        strict = self._series_pick(self._series_members(prefix, loose=False), n)
        if strict is None or strict.absent:
            members = self._series_members(prefix, loose=True)
            if members and not any(self._likes[m] for m in members):
                return None  # without likes, "Matrix Reloaded" and "Matrix of Evil" look alike
            loose = self._series_pick(members, n)
            if loose is not None and not loose.absent:
                loose.sure = False
                return loose
        return strict

    def _series_outweighs(self, series: _Answer, exact: _Hits) -> bool:
        """Whether a sure series pick beats films that hold the query only as a title part.

        "captain america 2" is a part of the TV film "Captain America II: Death Too Soon" (1979),
        yet The Winter Soldier, DOMINANT_RATIO times as liked, is what it means.
        """
        if series.absent or not series.sure:
            return False
        pick = series.ranked[0][0]
        known = max(int(self._likes[m]) for m in exact.scores)
        return pick not in exact.scores and self._likes[pick] >= DOMINANT_RATIO * max(known, 1)

    def _series_pick(self, members: dict[int, int | None], n: int) -> _Answer | None:
        """The n-th of ``members`` (film -> the number it carries) in release order, or None."""
        if not members:
            return None
        best = max(int(self._likes[m]) for m in members)
        order = sorted(
            members,
            key=lambda m: (int(self._years[m]) if self._years[m] >= 0 else 9999, int(self._ids[m])),
        )
        place: dict[int, int] = {}
        at = 0
        for m in order:
            number = members[m]
            at = number if number is not None else at + 1
            place[m] = at
        picks = [m for m in order if place[m] == n]
        if not picks:
            last = sorted(order, key=lambda m: -place[m])
            return _Answer([(m, W_PART) for m in last], decisive=True, absent=True)
        pick = max(picks, key=lambda m: (members[m] == n, int(self._likes[m])))
        sure = best > 0 and (members[pick] == n or self._likes[pick] >= SERIES_SURE * best)
        by_place = sorted(order, key=lambda m: (place[m], -int(self._likes[m])))
        rest = [(m, CONTAINED_BASE) for m in by_place if m != pick]
        return _Answer([(pick, W_PART), *rest], decisive=True, sure=sure)

    def _series_members(self, prefix: str, *, loose: bool) -> dict[int, int | None]:
        """Films of the series named ``prefix`` (space-free), each with the number it carries.

        Films called just that are one film (the most liked; remakes are not sequels), and only
        when it has SERIES_SURE of the series' best likes (the 1978 "Lord of the Rings" is no
        part of the trilogy). Films under SERIES_FLOOR of the best likes are dropped (TV
        specials). Nothing released before the film called X is a sequel of it (Transformers:
        The Movie, 1986, is no sequel of Transformers, 2007). ``loose``: X and one more word is
        of the series too ("Matrix Reloaded"), with films under LOOSE_FLOOR of the best likes
        dropped ("Frozen River" is no sequel of "Frozen").
        """
        lo = bisect.bisect_left(self._compact_keys, prefix)
        hi = bisect.bisect_left(self._compact_keys, prefix + "\U0010ffff")
        if hi - lo > SERIES_KEYS:
            return {}
        originals: set[int] = set()
        members: dict[int, int | None] = {}
        for i in range(lo, hi):
            whole = len(self._compact_keys[i]) == len(prefix)
            for kid in self._spelled_by[self._spelled_at[i] : self._spelled_at[i + 1]].tolist():
                tail = _series_tail(self._key_words[kid], prefix, loose=loose)
                if tail is None:
                    continue
                movie = int(self._key_movie[kid])
                if whole and self._key_weight[kid] >= W_ALIAS - ARTICLE_DROP:
                    originals.add(movie)  # a film called just that
                    continue
                number = _tail_number(tail)
                if number is not None or movie not in members:
                    members[movie] = number if number is not None else members.get(movie)
        everyone = originals | set(members)
        if not everyone:
            return {}
        originals -= {m for m, k in members.items() if k is not None and k > 1}  # Rambo (Rambo 4)
        best = max(int(self._likes[m]) for m in everyone)
        floor = (LOOSE_FLOOR if loose else SERIES_FLOOR) * best
        members = {m: k for m, k in members.items() if self._likes[m] >= floor}
        if originals:
            first = max(originals, key=lambda m: (int(self._likes[m]), -int(self._ids[m])))
            for m in originals - {first}:
                if members.get(m, 0) is None:
                    del members[m]  # a remake that is also in the series by a part: one film
            if self._likes[first] >= SERIES_SURE * best:
                members.setdefault(first, None)
                year = int(self._years[first])  # nothing before the film called X is a sequel
                members = {m: k for m, k in members.items() if int(self._years[m]) >= year}
        return members

    def _more(
        self, reading: _Query, levels: Iterable[Callable[[_Query], _Hits]], exclude: int
    ) -> tuple[list[tuple[int, float]], set[int]]:
        """Ranked candidates of the first of ``levels`` that has any besides ``exclude``.

        Also which of them are real evidence (see :func:`_real`).
        """
        for level in levels:
            hits = self._year_filter(level(reading), reading.year)
            hits.scores.pop(exclude, None)
            if hits:
                return self._rank(hits), _real(hits)
        return [], set()

    def _answer(
        self,
        query: str,
        ranked: list[tuple[int, float]],
        *,
        sure: bool = True,
        real: set[int] | None = None,
    ) -> Resolution:
        """Turn ranked candidates into a resolution (see the module doc for the rules).

        With ``sure`` False the first candidate is only offered, never matched. Only candidates
        in ``real`` (all when None) may be matched or asked about; when none is, the query names
        a film the catalog lacks and the look-alikes are at most suggestions.
        """
        looks = ranked
        if real is not None:
            ranked = [ms for ms in ranked if ms[0] in real]
            if not ranked:
                return self._absent(query, looks)
        if not ranked or ranked[0][1] < SUGGEST_SCORE:
            return Resolution(query, MatchStatus.NOT_FOUND, None, None, 0.0, (), absent=True)
        best, score = ranked[0]
        close = [s for _m, s in ranked[1:] if s >= score - CLOSE_CALL]
        clear = score >= MATCH_SCORE and all(s <= score - CLEAR_LEAD for s in close)
        # alone, also among look-alikes worth offering ("dr strange": Doctor Strange)
        rivals = [s for m, s in looks if m != best and s >= AMBIGUOUS_SCORE]
        lone = len(ranked) == 1 and not rivals and _lone_is_answer(query, score)
        if sure and (clear or lone or self._dominates(ranked)):
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
        kept = [ms for ms in ranked if ms[1] >= SUGGEST_SCORE]
        kept += [ms for ms in looks if ms[1] >= ABSENT_SUGGEST and ms not in kept]
        sugg = tuple(self._candidate(m, s) for m, s in kept[:MAX_SUGGESTIONS])
        return Resolution(
            query, MatchStatus.NOT_FOUND, None, None, round(score, 1), sugg, absent=True
        )

    def _dominates(self, ranked: list[tuple[int, float]]) -> bool:
        """Whether the first candidate is obvious by the catalog's likes (Titanic 1997, Heat 1995).

        The rivals are the candidates it does not lead by CLEAR_LEAD. It must score at least as
        well as each, have DOMINANT_LIKES likes, and DOMINANT_RATIO times the likes of every rival
        (TYPED_RATIO when it fits the query strictly better than all of them, as "arrival" is
        Arrival and only "the arrival" is The Arrival). Namesakes both well liked still ask.
        """
        best, score = ranked[0]
        rivals = [(m, s) for m, s in ranked[1:] if s > score - CLEAR_LEAD]
        if score < MATCH_SCORE or not rivals or any(s > score for _m, s in rivals):
            return False
        likes = int(self._likes[best])
        ratio = TYPED_RATIO if all(s < score for _m, s in rivals) else DOMINANT_RATIO
        top_rival = max(int(self._likes[m]) for m, _s in rivals)
        return likes >= DOMINANT_LIKES and likes >= ratio * max(top_rival, 1)

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
                return _Hits(kept, hits.typo, hits.contained & set(kept), hits.spelling)
        return _Hits()

    # ---------------------------------------------------------------------------- levels

    def _exact_hits(self, reading: _Query) -> _Hits:
        """Movies with a key equal to the query (spaces ignored), scored by the key's weight."""
        hits = _Hits()
        for r, drop in ((reading, 0.0), (reading.without_article(), ARTICLE_DROP)):
            if r is None:
                continue
            i = self._compact_id.get(r.compact)
            if i is not None:
                hits.add_all((m, w - drop) for m, w in self._owners(i))
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
            kids = _intersect(found)
            ws = reading.words
            if len(ws) > 1 and ws[0] in _QUERY_ARTICLES:
                # "the irishman" is not "Kill the Irishman": a leading article leads the title
                kids = np.asarray(
                    [k for k in kids.tolist() if self._key_words[k][0] in (ws[0], ws[1])],
                    dtype=kids.dtype,
                )
            self._score_keys(hits, kids, len("".join(reading.required)), CONTAINED_BASE)
        compact = reading.compact
        if len(compact) >= PREFIX_MIN:
            lo = bisect.bisect_left(self._compact_keys, compact)
            hi = bisect.bisect_left(self._compact_keys, compact + "\U0010ffff")
            for i in range(lo, min(hi, lo + 3000)):
                cover = len(compact) / len(self._compact_keys[i])
                for movie, weight in self._owners(i):
                    hits.add(movie, CONTAINED_BASE + CONTAINED_SPAN * cover - _gap(weight))
        return hits

    def _fuzzy_hits(self, reading: _Query) -> _Hits:
        """Keys a few typos away from the query, as a whole or word by word."""
        hits = _Hits(typo=True)
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
            articled = reading.words[0] in _QUERY_ARTICLES
            for key, score, i in found:
                adjusted = score - _short_penalty(len(compact))
                if set(_DIGITS.findall(key)) != numbers:
                    adjusted = min(adjusted - NUMBER_MISMATCH, MATCH_SCORE - 1)
                if (
                    not articled
                    and self._key_words[self._spelled_by[self._spelled_at[i]]][0] in _QUERY_ARTICLES
                ):
                    adjusted -= ARTICLE_TYPO  # "tenet" is no typo of "thenet"
                for movie, weight in self._owners(i):
                    if adjusted - _gap(weight) > hits.scores.get(movie, -1.0):
                        hits.spelling[movie] = i
                    hits.add(movie, adjusted - _gap(weight))
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
        scores = WITHIN_BASE + WITHIN_SPAN * cover - np.floor(W_TITLE - self._key_weight[kids])
        numbers = set(_DIGITS.findall(reading.compact))
        for kid, score in zip(kids.tolist(), scores.tolist(), strict=True):
            key = self._compact_keys[self._key_code[kid]]
            if numbers and set(_DIGITS.findall(key)) != numbers:
                # "die hard 3" holds "die hard" but is not Die Hard
                score = min(score - NUMBER_MISMATCH, MATCH_SCORE - 1)
            hits.add(int(self._key_movie[kid]), score)
            if score >= REAL_WITHIN:
                hits.contained.add(int(self._key_movie[kid]))

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
        scores = base + CONTAINED_SPAN * cover - np.floor(W_TITLE - self._key_weight[kids])
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


def _gap(weight: float) -> float:
    """How much less than a main title a key of ``weight`` is worth below the exact level.

    Whole points only: the ARTICLE_DROP half point separates exact hits, nothing else.
    """
    return float(int(W_TITLE - weight))


def _short_penalty(length: int) -> float:
    """Typos in short strings are weak evidence: one edit in "jaws" is not one in "casablanca"."""
    return max(0.0, 2.0 * (9 - length))


def _series_tail(
    key: tuple[str, ...], prefix: str, *, loose: bool = False
) -> tuple[str, ...] | None:
    """The words of ``key`` after the series name ``prefix`` (space-free), or None if not of it.

    ("harry", "potter", "and", "the", "goblet", "of", "fire") after "harrypotter" is
    ("and", "the", ...); ("aliens",) after "alien" is () (a plural); ("alien", "nation") after
    "alien" is None, unless ``loose`` (which allows one more word, not two).
    """
    length = 0
    for i, word in enumerate(key):
        length += len(word)
        if length == len(prefix):
            tail = key[i + 1 :]
            if (
                (loose and len(tail) == 1)
                or not tail
                or tail[0].isdigit()
                or tail[0] in SERIES_LINKS
            ):
                return tail
            return None
        if length > len(prefix):
            plural = length == len(prefix) + 1 and word.endswith("s") and i == len(key) - 1
            return () if plural else None
    return None


def _tail_number(tail: tuple[str, ...]) -> int | None:
    """The sequel number a series title carries right after the name ("2", "the 3"), if any."""
    # isdecimal, not isdigit: "𑁚" or "²" are digits that int() refuses
    if len(tail) == 1 and tail[0].isdecimal():
        return int(tail[0])
    if len(tail) == 2 and tail[0] == "the" and tail[1].isdecimal():
        return int(tail[1])
    return None


# --------------------------------------------------------------------------------------------
# Text that is not one title

_LINES = re.compile(r"\s*[\r\n]+\s*")


def _split_words(text: str) -> list[str]:
    """The space-separated words of ``text`` (for the word lists below)."""
    return text.split()


_ITEM_SEPARATORS = re.compile(r"\s*[,;]\s*")
# Chit-chat: a message made only of these words, at least one of them a greeting or a reaction.
_CHAT_WORDS = frozenset(
    _split_words(
        "hi hello hey heya hiya howdy yo sup hallo greetings there all everyone guys bot moviebot "
        "thanks thank thx ty you u so much very a lot bye goodbye cya see later good morning "
        "afternoon evening night day ok okay k cool nice great awesome lol haha hah hmm yes no "
        "yeah nope yep please what s whats up how are r is it going doing cheers welcome sorry "
        "oops wow test testing ping and"
    )
)
_GREETINGS = frozenset(
    _split_words(
        "hi hello hey heya hiya howdy yo sup hallo greetings thanks thank thx ty bye goodbye cya "
        "morning afternoon evening ok okay k cool nice great awesome lol haha hah hmm yes no yeah "
        "nope yep cheers wow oops sorry whats test testing ping"
    )
)
# A question or a request: one of these first ...
_QUESTION_OPENERS = frozenset(
    _split_words(
        "what which how why who when where should can could would will do does did is are any "
        "anything recommend suggest help give show tell find got need want lets let please i im "
        "we"
    )
)
# ... and one of these after it ("What Women Want" and "Who Framed Roger Rabbit" have none).
_CHAT_TOPICS = frozenset(
    _split_words(
        "you your u ur me my i we us our should recommend recommendation recommendations suggest "
        "suggestion suggestions watch watching movie movies film films something anything tonight "
        "today this good best work works bot see tip tips idea ideas advice"
    )
)
_I_VERBS = frozenset(
    _split_words("like liked want need m d would prefer enjoy enjoyed feel dont don")
)
_LEAD_INS = frozenset(_split_words("so and ok okay well hey hi hello please um uh"))


def split_titles(text: str) -> list[str]:
    """The titles of a message that lists several: one a line, or separated by commas or ";".

    A single title comes back as a one-element list; empty parts are dropped. Without the
    catalog this cannot know that "Crouching Tiger, Hidden Dragon" is one title:
    :meth:`TitleIndex.split` can, and is what a chat should use.
    """
    parts = (p.strip() for line in _LINES.split(text or "") for p in _ITEM_SEPARATORS.split(line))
    return [p for p in parts if p]


def is_small_talk(text: str) -> bool:
    """Whether plain text reads as a greeting, a question or a request rather than a title.

    "hi there", "thanks!", "what should I watch tonight?", "can you recommend something funny",
    "i like sci-fi" are; "What Women Want", "Who Framed Roger Rabbit?", "How to Train Your
    Dragon" and "Up" are not (:meth:`TitleIndex.is_small_talk` also spares every exact title).
    """
    ws = words(text or "")
    if not ws:
        return False
    if set(ws) <= _CHAT_WORDS and not _GREETINGS.isdisjoint(ws):
        return True
    while len(ws) > 1 and ws[0] in _LEAD_INS:
        ws = ws[1:]
    first, rest = ws[0], ws[1:]
    if first not in _QUESTION_OPENERS or not rest:
        return False
    if first == "how" and rest[0] == "to" and not text.rstrip().endswith("?"):
        return False  # "How to Train Your Dragon", "How to Steal a Million"
    if first in ("i", "we", "im"):
        return first == "im" or rest[0] in _I_VERBS  # "i like sci-fi", not "I Am Legend"
    return not _CHAT_TOPICS.isdisjoint(rest)


def not_a_title_reason(query: str) -> str | None:
    """Why ``query`` is not looked up as a title (small talk, a bare number), or None."""
    if is_small_talk(query):
        return "That reads as a question or a greeting, not a movie title."
    ws = words(query)
    if ws and all(w.isdigit() for w in ws):
        return "A number on its own is not a title here; type the movie's name."
    return None
