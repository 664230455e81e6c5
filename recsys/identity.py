"""Stable movie identity: what a stored movie *is*, whichever MovieLens release is loaded.

A ``movie_id`` means something only inside one release: ml-100k numbers its 1,682 movies itself,
so ml-latest-small's 858 (The Godfather) is ml-100k's "Amityville: Dollhouse". A
:class:`MovieIdentity` keeps what survives a change of release: the IMDb id where the release links
one (``links.csv``), and always the title as MovieLens writes it, year included. It encodes to one
short string for storage (:meth:`MovieIdentity.encode`).

:class:`IdentityIndex` maps identities onto a catalog. Each maps to exactly one movie or to None
(the caller keeps it and flags it), never to another film:

1. **IMDb id**, when the identity has one and the catalog links IMDb: that movie, or None when the
   catalog does not have it. Title evidence never overrides a differing IMDb id: a title match is
   accepted only for a movie that has no IMDb id of its own.
2. **Normalised title + the same year** otherwise. Both titles are reduced to *keys*
   (:func:`title_keys`): the main title with a trailing article put in front, and every
   alternate title in parentheses ("Seven (a.k.a. Se7en)", "Postman, The (Postino, Il)").
   Main-title keys are tried first, then alternate ones, then the same without a leading
   article (:func:`bare_keys`: MovieLens itself drops one between releases); a level decides
   only when it names one film. A year that differs, even by one, is no match; a title without
   a year never matches by title; two films with the same keys and year are ambiguous (None),
   unless they are the same entry listed twice (identical title, genres and IMDb search link:
   14 of ml-100k's 18 pairs).
   An identity whose own release had a namesake of the same year (``namesake``) never maps by
   title: the title cannot say which of the two it was.

The normalisation lives here, not in :mod:`recsys.titles`: a stored identity must mean the same
thing whatever the title resolver's tuning. Because an identity stores the MovieLens title itself
(not a normalised key), the normalisation can still improve later without rewriting stored data.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from recsys.movielens import split_title

# Articles MovieLens moves to the end of a title ("Usual Suspects, The"; "Postino, Il").
ARTICLES = frozenset(
    {"the", "a", "an", "la", "le", "les", "l", "il", "lo", "gli", "i", "el", "los", "las", "un"}
    | {"une", "una", "uno", "der", "die", "das", "den", "det", "en", "ett", "ein", "eine", "de"}
    | {"het", "o", "os", "as"}
)
ENGLISH_ARTICLES = frozenset({"the", "a", "an"})
_TRAILING_ARTICLE = re.compile(r"^(?P<body>.+?),\s*(?P<art>[^\W\d_]+'?)$")
_ALIAS = re.compile(r"\s*\((?P<alias>[^()]*)\)$")
_AKA = re.compile(r"^(?:a\.?\s*k\.?\s*a\.?|aka)\s+", re.IGNORECASE)
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "&": " and ",
        "’": "",
        "'": "",
        "`": "",
        "´": "",
    }
)
_ROMAN = {
    "ii": "2",
    "iii": "3",
    "iv": "4",
    "vi": "6",
    "vii": "7",
    "viii": "8",
    "ix": "9",
}
_NON_WORD = re.compile(r"[\W_]+")
_ACRONYM = re.compile(r"\b(?:[^\W\d_]\.){2,}")  # "E.T.", "L.A." -> "et", "la"


def normalise(text: str) -> str:
    """Fold case, accents, apostrophes, punctuation and Roman numerals II-IX.

    "Léon: The Professional" -> "leon the professional", "Godfather: Part II" -> "godfather part
    2", "Schindler's List" -> "schindlers list".
    """
    if text.isascii():
        text = text.lower().translate(_LETTERS)
    else:
        text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
        text = "".join(c for c in text if not unicodedata.combining(c)).translate(_LETTERS)
    text = _ACRONYM.sub(lambda m: m.group(0).replace(".", ""), text)
    return " ".join(_ROMAN.get(w, w) for w in _NON_WORD.sub(" ", text).split())


def front_article(text: str) -> tuple[str, str | None]:
    """Move a trailing article to the front: "Lion King, The" -> ("The Lion King", "the")."""
    match = _TRAILING_ARTICLE.match(text) if "," in text else None
    if match is None:
        return text, None
    art = match.group("art")
    if normalise(art) not in ARTICLES:
        return text, None
    sep = "" if art.endswith("'") else " "
    return f"{art}{sep}{match.group('body')}", normalise(art)


def _variants(text: str) -> tuple[str, str | None]:
    """The key of one title (article in front) and, when it has one, the key without it.

    Only an English article, or one MovieLens had moved: "Die Hard" keeps its "die".
    """
    fronted, moved = front_article(text.strip())
    key = normalise(fronted)
    first, _, rest = key.partition(" ")
    if rest and (first in ENGLISH_ARTICLES or first == moved):
        return key, rest
    return key, None


def _all_keys(name: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Main, alternate and article-free keys of a title written without its year."""
    main_text = name.strip()
    aliases: list[str] = []
    while main_text.endswith(")"):
        match = _ALIAS.search(main_text)
        if match is None or match.start() == 0:
            break
        alias = _AKA.sub("", match.group("alias").strip())
        if alias:
            aliases.append(alias)
        main_text = main_text[: match.start()].rstrip()
    texts = [main_text] if main_text == name.strip() else [main_text, name]
    main_pairs = [_variants(t) for t in texts]
    alias_pairs = [_variants(a) for a in aliases]
    main = {k for k, _ in main_pairs if k}
    alternate = {k for k, _ in alias_pairs if k} - main
    bare = {b for _, b in main_pairs + alias_pairs if b} - main - alternate
    return frozenset(main), frozenset(alternate), frozenset(bare)


def title_keys(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """The main and the alternate keys of a title written without its year.

    ``"Postman, The (Postino, Il)"`` gives main ``{"the postman"}`` and alternate ``{"il
    postino"}``; the whole text, parentheses included, is a main key too ("Birdman or (The
    Unexpected Virtue of Ignorance)"). "The Usual Suspects" and "Usual Suspects, The" have the
    same keys; "The Burglar" and "Burglar" do not (:func:`bare_keys` has those).
    """
    main, alternate, _bare = _all_keys(name)
    return main, alternate


def bare_keys(name: str) -> frozenset[str]:
    """The keys of a title without its leading article: weaker evidence.

    "Postman, The (Postino, Il)" gives ``{"postman", "postino"}``; but "The Burglar" (1987) and
    "Burglar" (1987) are two films.
    """
    return _all_keys(name)[2]


@dataclass(frozen=True)
class MovieIdentity:
    """What a movie is across releases: its IMDb id (None where unknown) and MovieLens title."""

    imdb_id: int | None
    title: str  # as MovieLens writes it, year included: "Usual Suspects, The (1995)"
    namesake: bool = False  # its release has another film of that title and year

    def encode(self) -> str:
        """One string for storage: IMDb id, flag, title, separated by ``|``.

        ``"tt0114814||Usual Suspects, The (1995)"``, ``"||unknown"``,
        ``"tt0118308|namesake|Emma (1996)"``.
        """
        imdb = f"tt{self.imdb_id:07d}" if self.imdb_id is not None else ""
        return f"{imdb}|{'namesake' if self.namesake else ''}|{self.title}"

    @classmethod
    def decode(cls, text: str) -> MovieIdentity:
        """The identity :meth:`encode` wrote; ValueError for anything else."""
        parts = text.split("|", 2)
        if (
            len(parts) != 3
            or (parts[0] and not re.fullmatch(r"tt\d{1,10}", parts[0]))
            or parts[1] not in ("", "namesake")
        ):
            raise ValueError(f"not an encoded movie identity: {text[:80]!r}")
        imdb, flag, title = parts
        return cls(int(imdb[2:]) if imdb else None, title, flag == "namesake")

    @property
    def name(self) -> str:
        """The title without its year."""
        return split_title(self.title)[0]

    @property
    def year(self) -> int | None:
        """The year in the title (None when MovieLens gives none)."""
        return split_title(self.title)[1]


def _optional_int(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def identities(catalog: pd.DataFrame, movie_ids: Iterable[int]) -> list[MovieIdentity | None]:
    """The identity of each movie id of ``catalog`` (None for an id the catalog does not have).

    Builds an :class:`IdentityIndex`; to ask many times, build one and use its methods.
    """
    return IdentityIndex.build(catalog).identities(movie_ids)


class IdentityIndex:
    """Looks identities (or an IMDb id, or a title and year) up in one catalog."""

    def __init__(self, catalog: pd.DataFrame) -> None:
        """Index ``catalog`` (``title``, ``name``, ``year``, ``imdb_id``; ``genres`` optional)."""
        ids = [int(i) for i in catalog.index]
        years = [_optional_int(y) for y in catalog["year"]]
        imdb = (
            [_optional_int(v) for v in catalog["imdb_id"]]
            if "imdb_id" in catalog
            else [None] * len(ids)
        )
        genres = catalog["genres"].astype(str).tolist() if "genres" in catalog else [""] * len(ids)
        titles = catalog["title"].astype(str).tolist()
        self._imdb_of = dict(zip(ids, imdb, strict=True))
        self._by_imdb: dict[int, int] = {}
        for movie_id, imdb_id in zip(ids, imdb, strict=True):
            if imdb_id is not None:  # the lowest movieId wins a (rare) duplicate link
                self._by_imdb.setdefault(imdb_id, movie_id)
        # A film listed twice (ml-100k has such pairs): same title, genres and IMDb search link,
        # no IMDb id. Both entries stand for the first. Identical titles alone prove nothing:
        # ml-32m lists two "Dracula (1931)" (the English and the Spanish version).
        search = catalog["imdb_search"].tolist() if "imdb_search" in catalog else [None] * len(ids)
        self._canonical: dict[int, int] = {}
        first_of: dict[tuple[str, str, str], int] = {}
        for movie_id, title, genre, link, imdb_id in zip(
            ids, titles, genres, search, imdb, strict=True
        ):
            if imdb_id is None and isinstance(link, str) and link:
                self._canonical[movie_id] = first_of.setdefault((title, genre, link), movie_id)
        self._main: dict[tuple[str, int], list[int]] = defaultdict(list)
        self._alternate: dict[tuple[str, int], list[int]] = defaultdict(list)
        self._bare: dict[tuple[str, int], list[int]] = defaultdict(list)
        key_count: dict[str, int] = defaultdict(int)
        yearless: dict[str, int] = {}
        for movie_id, name, year, genre in zip(
            ids, catalog["name"].astype(str), years, genres, strict=True
        ):
            main, alternate, bare = _all_keys(name)
            for key in main:
                key_count[key] += 1
            if year is None:
                if genre not in ("", "(no genres listed)"):
                    yearless.update(dict.fromkeys(main, movie_id))
                continue
            for key in main:
                self._main[key, year].append(movie_id)
            for key in alternate:
                self._alternate[key, year].append(movie_id)
            for key in bare:
                self._bare[key, year].append(movie_id)
        # Films listed without a year, by a title no other movie of the catalog has in any year.
        self._yearless = {k: m for k, m in yearless.items() if key_count[k] == 1}
        # Films sharing a key and a year with another film of this catalog: their title alone
        # cannot say which one a stored identity meant.
        shared: dict[tuple[str, int], set[int]] = defaultdict(set)
        for table in (self._main, self._alternate, self._bare):
            for key_year, movies in table.items():
                shared[key_year].update(self._canonical.get(m, m) for m in movies)
        self._namesakes = {m for films in shared.values() if len(films) > 1 for m in films}
        self._titles = dict(zip(ids, titles, strict=True))
        self.links_imdb = bool(self._by_imdb)

    @classmethod
    def build(cls, catalog: pd.DataFrame) -> IdentityIndex:
        """Index a catalog frame (see :func:`recsys.movielens.load_catalog`)."""
        return cls(catalog)

    def identity(self, movie_id: int) -> MovieIdentity | None:
        """The identity of a movie of this catalog; None when the catalog has no such id."""
        title = self._titles.get(movie_id)
        if title is None:
            return None
        canonical = self._canonical.get(movie_id, movie_id)
        return MovieIdentity(self._imdb_of[movie_id], title, canonical in self._namesakes)

    def identities(self, movie_ids: Iterable[int]) -> list[MovieIdentity | None]:
        """:meth:`identity` of each movie id, in order."""
        return [self.identity(int(m)) for m in movie_ids]

    def by_imdb(self, imdb_id: int) -> int | None:
        """The movie with this IMDb id (None when the catalog has none)."""
        return self._by_imdb.get(imdb_id)

    def by_title(
        self, name: str, year: int | None, *, imdb_id: int | None = None, bare: bool = False
    ) -> int | None:
        """The one movie whose title (without year) has a key of ``name`` and exactly ``year``.

        ``name`` may be written either way ("The Usual Suspects", "Usual Suspects, The") and may
        carry alternate titles in parentheses. Main titles are compared first, then with the
        alternate ones, then (only with ``bare``) without leading articles; the first level
        that names one film decides. With ``imdb_id`` given, a movie linked to another IMDb id
        is never the answer. None when no movie, or more than one film, fits.
        """
        if year is None:
            return None
        main, alternate, bare_names = _all_keys(name)
        levels = [((main,), (self._main,)), ((main, alternate), (self._main, self._alternate))]
        if bare:
            every = (main, alternate, bare_names)
            levels.append((every, (self._main, self._alternate, self._bare)))
        for key_sets, tables in levels:
            found = {
                self._canonical.get(m, m)
                for keys in key_sets
                for key in keys
                for table in tables
                for m in table.get((key, year), ())
                if imdb_id is None or self._imdb_of[m] in (None, imdb_id)
            }
            if len(found) == 1:
                return found.pop()
            if found:
                return None  # namesakes of the same year: never guess
        return None

    def by_title_without_year(self, name: str, *, imdb_id: int | None = None) -> int | None:
        """The film listed without a year whose main title is ``name``, if it names one film.

        MovieLens lists some films without a year (ml-latest-small: Moonlight, Nocturnal
        Animals, Ready Player One); only those with genres count (TV series such as "Cosmos" or
        "Black Mirror" have none), and only by a title no other movie of the catalog has in any
        year. With ``imdb_id``, a movie linked to another IMDb id is never the answer. Identities
        never use this (a stored identity without a year never maps by title);
        an import may, for a row of a year the release could not date yet.
        """
        found = {self._yearless[k] for k in title_keys(name)[0] if k in self._yearless}
        if imdb_id is not None:  # a movie linked to another IMDb id is another film
            found = {m for m in found if self._imdb_of[m] in (None, imdb_id)}
        return found.pop() if len(found) == 1 else None

    def find(self, identity: MovieIdentity) -> int | None:
        """The movie of this catalog that ``identity`` names, or None (see the module doc)."""
        if identity.imdb_id is not None and self.links_imdb:
            found = self._by_imdb.get(identity.imdb_id)
            if found is not None:
                return found
        if identity.namesake:
            return None  # its title and year name more than one film
        name, year = split_title(identity.title)
        # MovieLens itself drops or adds an article between releases ("Underneath, The" in
        # ml-1m is "Underneath" in ml-latest-small), so identities may match without it.
        return self.by_title(name, year, imdb_id=identity.imdb_id, bare=True)

    def find_encoded(self, text: str) -> int | None:
        """:meth:`find` for a stored string; None also for one that is not an identity."""
        try:
            return self.find(MovieIdentity.decode(text))
        except ValueError:
            return None

    def find_many(self, identities: Sequence[MovieIdentity]) -> list[int | None]:
        """:meth:`find` for each identity, in order."""
        return [self.find(i) for i in identities]


def map_identities(identities: Sequence[MovieIdentity], catalog: pd.DataFrame) -> list[int | None]:
    """Map identities (from any release) onto ``catalog``: a movie id each, or None."""
    return IdentityIndex.build(catalog).find_many(identities)
