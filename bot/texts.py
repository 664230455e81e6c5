"""Every user-facing text of the bot: pure functions returning Telegram HTML.

Rules every function keeps:

* every interpolated title or user input is HTML-escaped (``esc``) after being clipped (``clip``),
  so an entity is never cut in half;
* no reply is longer than :data:`MAX_MESSAGE` (counted in UTF-16 code units of the raw HTML, which
  is never less than what Telegram counts after parsing the entities): lists are cut with
  :func:`fit_lines` and say how many entries were left out;
* only ``<b>``, ``<i>`` and ``<a href>`` are used (all part of Telegram's HTML subset).

Button labels are plain text (Telegram does not parse them) and are kept short.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_MESSAGE = 4096
"""Telegram's limit for a message text."""
MAX_NOTICE = 200
"""Telegram's limit for the text of a callback query answer (a toast)."""
MAX_LABEL = 48
"""Button labels longer than this are clipped (Telegram shows about 30 characters on a phone)."""
MAX_ECHO = 80
"""How much of a user's query is repeated back."""

BOT_DESCRIPTION = "Movie recommendations from the favorites you tell me about"


@dataclass(frozen=True)
class CommandText:
    """What the menu and /help say about a command, and an example argument for its usage."""

    menu: str
    help: str | None = None
    example: str = ""


@dataclass(frozen=True)
class HelpEntry:
    """A command as /help lists it."""

    name: str
    text: CommandText
    aliases: tuple[str, ...] = ()
    takes_title: bool = False


LIKE = CommandText(
    "Add a movie to your favorites: /like toy story", "add a movie to your favorites", "toy story"
)
UNLIKE = CommandText("Remove a movie from your favorites", "remove one", "toy story")
FAVORITES = CommandText(
    "Show your favorites",
    "your list, with buttons to remove movies (<i>/favorites dislikes</i>, "
    "<i>/favorites seen</i>: the movies you marked)",
)
RECOMMEND = CommandText(
    "Ten movies picked for your favorites",
    "ten movies for your favorites, each with a reason; add what you want in plain words: "
    "<i>/recommend comedy</i>, <i>90s</i>, <i>1990-1999</i>, <i>new</i>, <i>-horror</i>, "
    "<i>gems</i>",
)
SIMILAR = CommandText(
    "Movies similar to one: /similar matrix", "movies similar to one", "the matrix"
)
WHY = CommandText(
    "How much you would like a movie, and why",
    "how much you would like a movie, and which favorites say so",
    "the matrix",
)
RESET = CommandText("Empty your favorites list", "empty your list")
DISLIKE = CommandText(
    "Never recommend this movie (steers your picks)",
    "not for me: never recommend it, and steer away from it",
    "the notebook",
)
SEEN = CommandText("You've seen a movie: never recommend it", "seen it: never recommend it", "heat")
EXPORT = CommandText(
    "Your lists as a CSV file (Letterboxd can import it)",
    "your favorites, dislikes and seen movies as a CSV file; send me a Letterboxd or IMDb export "
    "(CSV or zip) to import one",
)
HELP = CommandText("What I can do")
START = CommandText("Start here")

# Button labels (plain text: Telegram does not parse them).
BUTTON_SIMILAR = "🔎 Similar movies"
BUTTON_SIMILAR_SHORT = "🔎 Similar"
BUTTON_UNDO = "↩ Undo"
BUTTON_ADD_BACK = "↩ Add it back"
BUTTON_PREVIOUS = "◀ Previous"
BUTTON_NEXT = "Next ▶"
BUTTON_LIKE_IT = "👍 Like it"
BUTTON_YES_ADD = "👍 Yes, add it"
BUTTON_RESET_YES = "🗑 Yes, remove all"
BUTTON_RESET_NO = "Keep them"
BUTTON_MORE = "More ▶"
BUTTON_UNDO_IMPORT = "↩ Undo import"
CHOICE_PREFIX = {"like": "👍", "un": "❌", "sim": "🔎", "why": "❓", "no": "👎", "seen": "👁"}
"""The prefix of a "which one?" choice button, by button kind."""
UNDO_PREFIX = "↩"
CARD_DISLIKE = "👎"
CARD_SEEN = "👁"
CARD_SIMILAR = "🔎"


def card_like(number: int) -> str:
    """The first button of a recommendation card's row: the movie's number and 👍."""
    return f"{number}. 👍"


def card_undo(number: int) -> str:
    """A card row after a choice: undo it."""
    return f"{number}. {BUTTON_UNDO}"


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Cut plain ``text`` to at most ``limit`` characters, marking a cut with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


@functools.lru_cache(maxsize=16384)
def esc(text: str, limit: int = 300) -> str:
    """Clip plain ``text`` and escape it for Telegram HTML (cached: titles come back often)."""
    return html.escape(clip(text, limit), quote=False)


def bold(text: str, limit: int = 300) -> str:
    """A title in bold, clipped and escaped."""
    return f"<b>{esc(text, limit)}</b>"


@functools.lru_cache(maxsize=16384)
def link(text: str, url: str | None, limit: int = 300) -> str:
    """A title linked to ``url`` (plain escaped text without one; cached like :func:`esc`)."""
    if not url:
        return esc(text, limit)
    return f'<a href="{html.escape(url, quote=True)}">{esc(text, limit)}</a>'


def fit_lines(head: str, lines: Sequence[str], *, tail: str = "", limit: int = MAX_MESSAGE) -> str:
    """``head``, then as many ``lines`` as fit, then ``tail``, all within ``limit``.

    Lines that do not fit are replaced by one "…and N more." line; a line is never cut.
    """
    budget = limit - utf16_len(head) - utf16_len(tail) - 40
    if 2 * sum(map(len, lines)) + len(lines) <= budget:  # fits even if every char took 2 units
        return "\n".join([head, *lines] if head else lines) + (f"\n\n{tail}" if tail else "")
    kept: list[str] = []
    for line in lines:
        cost = utf16_len(line) + 1
        if cost > budget:
            break
        kept.append(line)
        budget -= cost
    body = kept
    if len(kept) < len(lines):
        body = [*kept, f"<i>…and {len(lines) - len(kept)} more.</i>"]
    parts = [head, *body] if head else body
    text = "\n".join(parts)
    if tail:
        text = f"{text}\n\n{tail}"
    return text


def join_fitting(parts: Sequence[str], *, sep: str = "\n\n", limit: int = MAX_MESSAGE) -> str:
    """Join whole ``parts`` while they fit within ``limit`` (the first part always fits)."""
    text = ""
    for part in parts:
        candidate = f"{text}{sep}{part}" if text else part
        if text and utf16_len(candidate) > limit:
            break
        text = candidate
    return text


def label(prefix: str, title: str) -> str:
    """A button label: a short prefix and the title, shortened in the middle to keep its year."""
    text = " ".join(f"{prefix} {title}".split())
    if len(text) <= MAX_LABEL:
        return text
    match = _YEAR_SUFFIX.search(text)
    tail = match.group(0) if match else ""
    head = text[: len(text) - len(tail)].rstrip()
    room = MAX_LABEL - len(tail) - 1  # the ellipsis
    if room < 8:
        return clip(text, MAX_LABEL)
    keep_end = min(room // 3, 12)
    end = head[len(head) - keep_end :].lstrip() if keep_end else ""
    start = head[: room - len(end)].rstrip()
    return f"{start}…{end}{tail}"


_YEAR_SUFFIX = re.compile(r"\s*\((?:[0-9]{4})(?:[-–][0-9]{4})?\)\s*$")
_ALT_SUFFIX = re.compile(r"\s*\(([^()]*)\)\s*$")
_ARTICLE = re.compile(
    r"^(?P<name>.*?),\s*(?P<article>The|A|An|Les|La|Le|L'|Il|Das|Der|Die|El|Los|Las|Lo|I|Gli)$"
)
LONG_TITLE = 32
"""A title longer than this loses its alternate-language part in lists."""


def _front_article(name: str) -> str:
    """``Godfather, The`` → ``The Godfather`` (MovieLens puts articles at the end)."""
    match = _ARTICLE.match(name.strip())
    if match is None:
        return name.strip()
    article = match.group("article")
    sep = "" if article.endswith("'") else " "
    return f"{article}{sep}{match.group('name').strip()}"


@functools.lru_cache(maxsize=65536)
def title_parts(title: str) -> tuple[str, str | None, str | None]:
    """``(name, alternate name, year)`` of a MovieLens title, articles moved to the front.

    ``City of Lost Children, The (Cité des enfants perdus, La) (1995)`` →
    ``("The City of Lost Children", "La Cité des enfants perdus", "1995")``.
    """
    text = " ".join(title.split())
    year = None
    if match := _YEAR_SUFFIX.search(text):
        year = match.group(0).strip()[1:-1]
        text = text[: match.start()]
    alt = None
    while (match := _ALT_SUFFIX.search(text)) and match.start() > 0:
        inner = match.group(1)
        if alt is None and not inner.lower().startswith(("a.k.a.", "aka ")):
            alt = _front_article(inner)
        text = text[: match.start()]
    return _front_article(text), alt, year


@functools.lru_cache(maxsize=65536)
def display_title(title: str, *, year: bool = True) -> str:
    """A title as people write it: article in front, the alternate name dropped when long."""
    name, alt, when = title_parts(title)
    if alt and len(name) + len(alt) + 3 <= LONG_TITLE:
        name = f"{name} ({alt})"
    return f"{name} ({when})" if year and when else name


def short_title(title: str) -> str:
    """The shortest recognisable form: article in front, no alternate name, no year."""
    return title_parts(title)[0] or title


# ---------------------------------------------------------------------------------------------
# Greeting and help


def start() -> str:
    """The /start greeting with an example."""
    return (
        "Hi! I recommend movies from the ones you already love.\n\n"
        "Tell me a few favorites, then ask for recommendations:\n"
        "<b>/like toy story</b>\n"
        "<b>/like the lion king</b>\n"
        "<b>/recommend</b>\n\n"
        "You can also just send me a title. /help lists everything I can do."
    )


def help_text(commands: Sequence[HelpEntry]) -> str:
    """The /help text: every command that has a help line, with a one-line explanation."""
    lines = [
        f"/{c.name}{' &lt;title&gt;' if c.takes_title else ''} — {c.text.help}"
        for c in commands
        if c.text.help
    ]
    return (
        "<b>What I can do</b>\n" + "\n".join(lines) + "\n\n"
        "Titles can be approximate: <i>toystory</i>, <i>lion king</i>, <i>matrix 1999</i>. "
        "When several movies fit, I show buttons to pick from. "
        "In a group, the list belongs to the whole group."
    )


def usage(command: str, example: str = "toy story") -> str:
    """How to use a command that needs a title."""
    return f"Usage: /{command} &lt;title&gt;\nFor example: /{command} {esc(example, MAX_ECHO)}"


def unknown_command(command: str) -> str:
    """A command the bot does not have."""
    return f"I don't know the command /{esc(command, 40)}. Send /help to see what I can do."


def not_text() -> str:
    """Answer to a sticker, photo or anything else that is not text."""
    return "I only understand text. Send me a movie title, or /help."


# ---------------------------------------------------------------------------------------------
# Resolving titles


def pick_one(query: str) -> str:
    """Several movies fit the query; buttons follow."""
    return f"Several movies match “{esc(query, MAX_ECHO)}”. Which one do you mean?"


@dataclass(frozen=True)
class CatalogInfo:
    """What the bot can say about its catalog: the release, how many movies, the newest year."""

    name: str | None
    movies: int
    newest: int | None

    def describe(self) -> str:
        """``MovieLens ml-latest-small: 9,742 movies, the newest from 2018``."""
        name = f"MovieLens {esc(self.name, 60)}: " if self.name else ""
        newest = f", the newest from {self.newest}" if self.newest else ""
        return f"{name}{self.movies:,} movies{newest}"


def did_you_mean(query: str, catalog: CatalogInfo | None = None) -> str:
    """Nothing fits well; suggestions close in spelling follow as buttons."""
    if catalog is None:
        return f"I couldn't find “{esc(query, MAX_ECHO)}”. Did you mean one of these?"
    return (
        f"I couldn't find “{esc(query, MAX_ECHO)}”: it is probably not in my catalog "
        f"({catalog.describe()}). Close in spelling:"
    )


def not_found(query: str, catalog: CatalogInfo | None = None) -> str:
    """Nothing fits and there is nothing to suggest."""
    where = (
        f"It is probably not in my catalog ({catalog.describe()}). "
        if catalog is not None
        else "among the movies I know. "
    )
    head = f"I couldn't find “{esc(query, MAX_ECHO)}”"
    head = f"{head}. {where}" if catalog is not None else f"{head} {where}"
    return head + "Try the original title, maybe with its year, e.g. <i>the matrix 1999</i>."


def small_talk() -> str:
    """A question or a greeting in plain text: what the bot can do."""
    return (
        "Hi! I recommend movies from the ones you love. Send me a title (or several, one a line) "
        "to add it to your favorites, then /recommend. You can steer the list: "
        "<i>/recommend comedy</i>, <i>/recommend 90s</i>, <i>/recommend gems</i>. "
        "/help lists everything."
    )


@dataclass(frozen=True)
class ManyAdded:
    """The outcome of ``/like a, b, c``: titles per outcome, and queries per problem."""

    added: Sequence[str] = ()
    already: Sequence[str] = ()
    full: Sequence[str] = ()
    choose: Sequence[str] = ()
    missing: Sequence[str] = ()
    count: int | None = None


def added_many(result: ManyAdded, catalog: CatalogInfo | None = None) -> str:
    """One summary for several titles: added, already there, needs a choice, not found."""
    parts = []
    if result.added:
        size = f" ({count_movies(result.count)} now)" if result.count is not None else ""
        parts.append(f"Added {count_movies(len(result.added))}{size}:\n" + _bullets(result.added))
    if result.already:
        parts.append("Already in your favorites:\n" + _bullets(result.already))
    if result.full:
        parts.append("Not added, your list is full:\n" + _bullets(result.full))
    if result.choose:
        queries = ", ".join(f"“{esc(q, 40)}”" for q in result.choose)
        parts.append(f"Which one do you mean for {queries}? Tap a button below.")
    if result.missing:
        queries = ", ".join(f"“{esc(q, 40)}”" for q in result.missing)
        where = f" — probably not in my catalog ({catalog.describe()})" if catalog else ""
        parts.append(f"Not found: {queries}{where}.")
    return join_fitting(parts)


def _bullets(titles: Sequence[str]) -> str:
    return "\n".join(f"• {esc(t, 150)}" for t in titles)


def too_many_titles(limit: int) -> str:
    """More titles in one message than are added at once."""
    return f"<i>I took the first {limit} titles; send the rest in another message.</i>"


def bad_query(message: str) -> str:
    """The resolver refused the query (too long, empty…) and said why."""
    return esc(message, 300) or "That doesn't look like a movie title."


def offer_like(title: str) -> str:
    """A plain message resolved to one movie: offer to like it."""
    return f"Did you mean {bold(title)}? Add it to your favorites?"


# ---------------------------------------------------------------------------------------------
# Favorites


def added(title: str, count: int | None) -> str:
    """A movie was added (``count``: the list's new length, None when it could not be read)."""
    size = f" ({count_movies(count)} now)" if count is not None else ""
    return f"Added {bold(title)} to your favorites{size}.{_added_tail(count)}"


_ADDED_TAILS = (
    " Ask /recommend when you are ready.",
    " Add a few more for sharper picks, or ask /recommend.",
    "",
    " /recommend shows what they add up to.",
    "",
)


def _added_tail(count: int | None) -> str:
    """Vary the end of a like reply (the same sentence every time reads like a machine)."""
    if count is None:
        return ""
    return _ADDED_TAILS[(count - 1) % len(_ADDED_TAILS)]


def already(title: str) -> str:
    """The movie was already a favorite."""
    return f"{bold(title)} is already in your favorites."


def list_full(limit: int) -> str:
    """The chat's list is at its cap."""
    return (
        f"Your list is full ({limit:,} movies). Remove some with /favorites or /unlike "
        "before adding more."
    )


def removed(title: str, count: int | None) -> str:
    """A movie was removed (``count``: how many are left, None when it could not be read)."""
    left = f" ({count_movies(count)} left)" if count is not None else ""
    return f"Removed {bold(title)} from your favorites{left}."


def not_a_favorite(title: str) -> str:
    """/unlike of a movie that is not in the list."""
    return f"{bold(title)} is not in your favorites."


def none_of_them_favorites(query: str) -> str:
    """/unlike matched several movies, none of them a favorite."""
    return f"None of the movies matching “{esc(query, MAX_ECHO)}” is in your favorites."


def count_movies(count: int) -> str:
    """``1 movie`` / ``3 movies``."""
    return f"{count:,} movie" if count == 1 else f"{count:,} movies"


def favorites_empty(footer: str = "") -> str:
    """/favorites with an empty list (``footer``: the marks, see :func:`marks_footer`)."""
    text = "Your favorites list is empty. Add movies with /like &lt;title&gt;."
    return f"{text}\n\n{footer}" if footer else text


def favorites_page(titles: Sequence[str], *, first: int, total: int, footer: str = "") -> str:
    """One page of the favorites list; ``first`` is the 1-based number of its first entry."""
    last = first + len(titles) - 1
    head = f"<b>Your favorites</b> ({count_movies(total)})"
    if total > len(titles):
        head += f", {first}–{last}:"
    lines = [f"{first + i}. {esc(t, 200)}" for i, t in enumerate(titles)]
    tail = "Tap a button to remove a movie."
    return fit_lines(head, lines, tail=f"{tail}\n{footer}" if footer else tail)


# ---------------------------------------------------------------------------------------------
# Recommendations


@dataclass(frozen=True)
class RecommendationLine:
    """What one recommended movie shows: its title, its page and the favorites behind it."""

    title: str
    url: str | None
    because: tuple[str, ...]


def recommendations(
    items: Sequence[RecommendationLine], *, fallback: bool, ignored: Sequence[str]
) -> str:
    """The /recommend answer."""
    if fallback:
        head = (
            "You have no favorites I can use yet, so here are the <b>most popular</b> movies. "
            "Add a few with /like &lt;title&gt; for picks of your own."
        )
    else:
        head = f"<b>{len(items)} movies for you</b>"
    lines = []
    for i, item in enumerate(items, 1):
        line = f"{i}. {link(item.title, item.url, 200)}"
        if item.because:
            liked = ", ".join(esc(t, 100) for t in item.because)
            line += f"\n    <i>because you liked {liked}</i>"
        lines.append(line)
    tail = ""
    if ignored:
        tail = ignored_note(ignored)
    if not items:
        return fit_lines(head, ["I have nothing to recommend right now."], tail=tail)
    return fit_lines(head, lines, tail=tail)


def ignored_note(titles: Sequence[str]) -> str:
    """Favorites the model knows too little about to use."""
    shown = ", ".join(esc(t, 100) for t in titles[:5])
    more = f" and {len(titles) - 5} more" if len(titles) > 5 else ""
    verb = "it" if len(titles) == 1 else "them"
    return (
        f"<i>I know too little about {shown}{more} to use {verb} "
        "for recommendations (too few ratings).</i>"
    )


@dataclass(frozen=True)
class CardLine:
    """One movie of a recommendation card: what it shows and what the chat said about it.

    ``mark``: ``"like"``, ``"dislike"`` or ``"seen"`` once a feedback button was pressed.
    """

    title: str
    url: str | None
    genres: tuple[str, ...]
    because: tuple[str, ...]
    mark: str | None = None


MARK_WORDS = {"like": "👍 liked", "dislike": "👎 not for me", "seen": "👁 seen"}
MAX_BECAUSE = 2
"""Favorites named per recommended movie."""


def liked_list(titles: Sequence[str]) -> str:
    """``A``, ``A and B`` (short titles, escaped; at most :data:`MAX_BECAUSE`)."""
    names = [esc(short_title(t), 60) for t in titles[:MAX_BECAUSE]]
    return " and ".join(names)


def card_line(number: int, item: CardLine) -> str:
    """``3. The Godfather (1972) · Crime, Drama`` and its reason (or the chat's choice)."""
    line = f"{number}. {_card_movie(item.title, item.url, item.genres)}"
    if item.mark:
        return f"{line}\n    <i>{MARK_WORDS.get(item.mark, item.mark)}</i>"
    if item.because:
        return f"{line}{_because_note(item.because)}"
    return line


@functools.lru_cache(maxsize=16384)
def _card_movie(title: str, url: str | None, genres: tuple[str, ...]) -> str:
    """A card line's linked title and genres (cached: the same movies come back on many cards)."""
    line = link(display_title(title), url, 120)
    if genres:
        line += f" · {esc(', '.join(genres[:3]), 60)}"
    return line


@functools.lru_cache(maxsize=16384)
def _because_note(because: tuple[str, ...]) -> str:
    """A card line's second line, the favorites it was picked for (cached like the titles)."""
    return f"\n    <i>because you liked {liked_list(because)}</i>"


def card_heading(count: int, *, understood: Sequence[str], discover: bool, fallback: bool) -> str:
    """The heading of a recommendation list: how many, and which filter or mode is on."""
    what = "hidden gems" if discover else count_noun(count, "movie", "movies")
    filters = [u for u in understood if u != "hidden gems"]
    head = f"<b>{count} {what} for you</b>" if count else "<b>Nothing to show</b>"
    if discover:
        head += " — discover mode: lesser-known films you may like"
    if filters:
        head += f"\n<i>Filter: {esc(', '.join(filters), 200)}</i>"
    if fallback:
        head = (
            "You have no favorites I can use yet, so here are the <b>most popular</b> movies"
            + (f" ({esc(', '.join(understood), 200)})" if understood else "")
            + ". Add a few with /like &lt;title&gt; for picks of your own."
        )
    return head


def recommendation_card(
    lines: Sequence[CardLine],
    *,
    first: int,
    understood: Sequence[str] = (),
    discover: bool = False,
    fallback: bool = False,
    ignored: Sequence[str] = (),
    not_understood: Sequence[str] = (),
    more: bool = False,
) -> str:
    """One page of a recommendation list (``first``: the number of its first movie)."""
    head = card_heading(len(lines), understood=understood, discover=discover, fallback=fallback)
    if first > 1:
        head = f"<b>More for you</b> ({first}–{first + len(lines) - 1})"
    if not_understood:
        head = f"{head}\n{not_understood_note(not_understood)}"
    tails = []
    if ignored:
        tails.append(ignored_note(ignored))
    if lines:
        tails.append("<i>👍 like · 👎 not for me · 👁 seen it · 🔎 similar</i>")
    if not lines:
        empty = "Nothing left to show here: try another filter, or /recommend without one."
        return fit_lines(head, [empty], tail="\n\n".join(tails))
    body = [card_line(first + i, line) for i, line in enumerate(lines)]
    return fit_lines(head, body, tail="\n\n".join(tails))


def count_noun(count: int, one: str, many: str) -> str:
    """``one`` or ``many`` to agree with ``count``."""
    return one if count == 1 else many


def not_understood_note(words: Sequence[str]) -> str:
    """A short note naming what was not understood."""
    shown = ", ".join(f"“{esc(w, 40)}”" for w in words[:5])
    return f"<i>I didn't understand {shown}, so I left it out.</i>"


def request_help(words: Sequence[str], genres: Sequence[str], *, too_long: bool = False) -> str:
    """/recommend with nothing understood: say what is understood."""
    if too_long:
        first = "That is too long for a /recommend request."
    else:
        shown = ", ".join(f"“{esc(w, 40)}”" for w in words[:5])
        first = f"I didn't understand {shown}."
    names = ", ".join(esc(g.lower(), 30) for g in genres)
    return (
        f"{first} /recommend understands:\n"
        f"• genres: {names} (also scifi, romcom, kids, docs); <i>-horror</i> leaves one out\n"
        "• decades and years: <i>90s</i>, <i>2010s</i>, <i>1995</i>, <i>1990-1999</i>, "
        "<i>before 1980</i>\n"
        "• <i>new</i>: the newest films; <i>gems</i>: lesser-known films you may like\n"
        "For example: <b>/recommend comedy 90s</b>"
    )


def filter_error(message: str) -> str:
    """The engine refused a filter and said why."""
    return esc(message, 500)


def list_replaced() -> str:
    """Toast: "More" under a list that a newer /recommend replaced."""
    return clip("This list was replaced by a newer one: send /recommend again.", MAX_NOTICE)


def list_end(count: int) -> str:
    """The answer to More after the longest list."""
    return (
        f"That's {count_movies(count)} in this list, the most I show at once. "
        "Mark the ones you've seen, or try /recommend with a filter (e.g. /recommend gems)."
    )


def nothing_more() -> str:
    """The answer to More when no further movie is found."""
    return "That's everything I can find for this request. Try another filter."


# ---------------------------------------------------------------------------------------------
# Dislikes and seen


MARK_NAMES = {"dislike": "not for me", "seen": "seen"}


def marked(title: str, kind: str) -> str:
    """A movie was marked "not for me" or "seen"."""
    if kind == "dislike":
        return (
            f"Noted: {bold(title)} is not for you. I won't recommend it, and it steers your picks."
        )
    return f"Noted: you've seen {bold(title)}. I won't recommend it again."


def already_marked(title: str, kind: str) -> str:
    """The movie had that mark already."""
    return f"{bold(title)} is already marked {MARK_NAMES.get(kind, kind)}."


def unmarked(title: str) -> str:
    """A mark was removed."""
    return f"OK, {bold(title)} can be recommended again."


def not_marked(title: str) -> str:
    """Undo of a mark that is gone already."""
    return f"{bold(title)} has no mark."


def marks_full(limit: int) -> str:
    """The chat has as many marks as allowed."""
    return (
        f"You have {limit:,} movies marked not for me or seen, the most I keep. "
        "Remove some with /favorites dislikes or /favorites seen."
    )


def marks_page(kind: str, titles: Sequence[str]) -> str:
    """``/favorites dislikes`` or ``/favorites seen``."""
    name = "Not for me" if kind == "dislike" else "Seen"
    if not titles:
        return f"<b>{name}</b>: nothing marked yet. Press 👎 or 👁 under a recommendation."
    head = f"<b>{name}</b> ({count_movies(len(titles))})"
    lines = [f"{i}. {esc(display_title(t), 200)}" for i, t in enumerate(titles, 1)]
    return fit_lines(head, lines, tail="Tap a button to remove a mark (the newest first).")


def marks_footer(dislikes: int, seen: int) -> str:
    """Under the favorites: how many marks, and where to see them."""
    parts = []
    if dislikes:
        parts.append(f"{dislikes:,} not for me: /favorites dislikes")
    if seen:
        parts.append(f"{seen:,} seen: /favorites seen")
    return "<i>" + " · ".join(parts) + "</i>" if parts else ""


def notice_marked(title: str, kind: str) -> str:
    """Toast: marked."""
    word = "Not for me" if kind == "dislike" else "Seen"
    return clip(f"{word}: {title}", MAX_NOTICE)


def notice_undone(title: str) -> str:
    """Toast: a card choice was undone."""
    return clip(f"Undone: {title}", MAX_NOTICE)


def notice_full() -> str:
    """Toast: a list is full."""
    return clip("Your list is full: nothing was added.", MAX_NOTICE)


def similar(title: str, items: Sequence[tuple[str, str | None]]) -> str:
    """The /similar answer: ``items`` are (title, url) pairs."""
    head = f"<b>Movies similar to {esc(title, 200)}</b>"
    lines = [f"{i}. {link(t, u, 200)}" for i, (t, u) in enumerate(items, 1)]
    return fit_lines(head, lines)


def similar_unknown(title: str) -> str:
    """/similar of a movie the model has no factors for."""
    return (
        f"I know too little about {bold(title)} (too few ratings) to find similar movies. "
        "Try a better-known one."
    )


# ---------------------------------------------------------------------------------------------
# Why


def match_words(rank: int, n_items: int) -> tuple[str, str]:
    """``("top 1%", "a very strong match")`` for a 1-based ``rank`` among ``n_items``."""
    share = rank / max(n_items, 1)
    percent = max(1, min(100, -(-rank * 100 // max(n_items, 1))))
    if share > 0.5:  # "in your top 99%" says nothing true: say how near the bottom it is
        bottom = max(1, min(100, -(-(n_items - rank + 1) * 100 // max(n_items, 1))))
        return f"bottom {bottom}%", "probably not your kind of movie"
    if share <= 0.01:
        verdict = "a very strong match for you"
    elif share <= 0.05:
        verdict = "a strong match for you"
    elif share <= 0.2:
        verdict = "a good match for you"
    else:
        verdict = "so-so for you"
    return f"top {percent}%", verdict


def why_no_favorites(title: str) -> str:
    """/why with an empty list."""
    return (
        f"To say how much you would like {bold(title)} I need some of your favorites first. "
        "Add a few with /like &lt;title&gt;."
    )


def why_unknown(title: str) -> str:
    """/why of a movie the model has no factors for."""
    return (
        f"I know too little about {bold(title)} (too few ratings) to say how much you "
        "would like it."
    )


def why(
    title: str,
    *,
    rank: int | None,
    n_items: int,
    is_favorite: bool,
    pushes: Sequence[tuple[str, int]],
    pulls: Sequence[str],
    ignored: Sequence[str],
) -> str:
    """The /why answer: rank in words, then which favorites push it up (and down).

    ``pushes`` are (favorite title, its percent of everything that pushes the movie up), largest
    first; ``pulls`` the favorites that push it down.
    """
    parts = []
    if is_favorite:
        parts.append(f"{bold(title)} is one of your favorites.")
    if rank is not None:
        top, verdict = match_words(rank, n_items)
        parts.append(
            f"For your favorites, {bold(title)} ranks <b>#{rank:,} of {n_items:,}</b> "
            f"movies — in your {top}: {verdict}."
        )
    if pushes:
        parts.append(
            "Favorites that push it up most:\n"
            + "\n".join(f"• {esc(t, 150)} ({p}%)" for t, p in pushes)
        )
    elif rank is not None:
        parts.append("None of your favorites pushes it up much.")
    if pulls:
        parts.append(
            "Favorites that pull it down:\n" + "\n".join(f"• {esc(t, 150)}" for t in pulls)
        )
    if rank is None and not is_favorite:
        parts.insert(
            0,
            f"I can't tell yet how much you would like {bold(title)}: none of your "
            "favorites is known well enough to compare with.",
        )
    if ignored:
        parts.append(ignored_note(ignored))
    return join_fitting(parts)


# ---------------------------------------------------------------------------------------------
# Reset


def reset_confirm(count: int) -> str:
    """/reset asks before deleting."""
    if count == 1:
        return "Remove the only movie in your favorites? This cannot be undone."
    return f"Remove all {count_movies(count)} from your favorites? This cannot be undone."


def reset_changed(count: int) -> str:
    """A /reset confirmation pressed after the list changed: asked again with the new size."""
    return "Your favorites changed since I asked. " + reset_confirm(count)


def notice_reset_changed() -> str:
    """Toast: a stale /reset confirmation removed nothing."""
    return clip("Your list changed: nothing was removed.", MAX_NOTICE)


def reset_done(count: int) -> str:
    """The list was emptied."""
    return f"Done: removed {count_movies(count)}. Your favorites list is empty."


def reset_cancelled() -> str:
    """The user kept the list."""
    return "OK, your favorites stay as they are."


def reset_nothing() -> str:
    """/reset with an empty list."""
    return "Your favorites list is already empty."


# ---------------------------------------------------------------------------------------------
# Trouble


def expired() -> str:
    """A forged, malformed or stale button."""
    return "This button has expired. Please send the command again (e.g. /favorites)."


def unavailable() -> str:
    """The database cannot be reached."""
    return "Your favorites are temporarily unavailable. Please try again in a minute."


def cannot_save() -> str:
    """A change the database refused to keep (read-only, disk full, file replaced)."""
    return (
        "I couldn't save that: the bot's storage has a problem only its operator can fix. "
        "Nothing was changed; please try again later."
    )


def flood() -> str:
    """The per-chat flood limit was hit (sent once per flood)."""
    return "Whoa, that's a lot of messages at once. Give me a few seconds, then try again."


def something_wrong() -> str:
    """Anything unexpected (details go to the log, never to the user)."""
    return "Sorry, something went wrong on my side. Please try again."


# Notices: short toasts shown when a button is pressed (answerCallbackQuery, <= 200 characters).


def notice_added(title: str) -> str:
    """Toast: added."""
    return clip(f"Added {title}", MAX_NOTICE)


def notice_removed(title: str) -> str:
    """Toast: removed."""
    return clip(f"Removed {title}", MAX_NOTICE)


def notice_already_removed(title: str) -> str:
    """Toast: a favorites page's remove button for a movie that is gone already."""
    return clip(f"{title} was already removed", MAX_NOTICE)


def notice_expired() -> str:
    """Toast: expired button."""
    return clip("This button has expired.", MAX_NOTICE)


# ---------------------------------------------------------------------------------------------
# Another catalog, import and export

_LIST_WORDS = {"like": "favorites", "dislike": "“not for me” movies", "seen": "seen movies"}


def missing_movies(missing: Sequence[tuple[str, str]], release: str | None) -> str:
    """Stored movies the loaded catalog lacks (kept; back when a catalog has them again).

    ``missing``: (list kind ``like``/``dislike``/``seen``, MovieLens title).
    """
    where = f"this catalog ({esc(release, 40)})" if release else "this catalog"
    groups: dict[str, list[str]] = {}
    for kind, title in missing:
        groups.setdefault(kind, []).append(title)
    heads = []
    lines: list[str] = []
    for kind in ("like", "dislike", "seen"):
        titles = groups.get(kind, [])
        if titles:
            heads.append(
                f"{count_noun(len(titles), 'one', str(len(titles)))} of your {_LIST_WORDS[kind]}"
            )
            lines.extend(f"• {esc(display_title(t), 120)}" for t in titles)
    joined = " and ".join(heads)
    verb = "is" if len(missing) == 1 else "are"
    head = f"{joined[:1].upper()}{joined[1:]} {verb} not in {where}:"
    tail = (
        "I kept them, hidden: they are back when the bot runs on a catalog that has them. "
        "No other movie took their place."
    )
    return fit_lines(head, lines, tail=tail)


@dataclass(frozen=True)
class ImportResult:
    """What an import did, for :func:`imported`."""

    files: Sequence[str]
    added: dict[str, int]  # like, dislike, seen -> movies written
    already: int
    absent: Sequence[str]  # "Title (Year)", shortest first
    skipped: dict[str, int]  # reason -> rows
    full: int  # left out by the caps
    limits: tuple[int, int]  # favorites, marks


def imported(result: ImportResult) -> str:
    """The one summary of an import, within Telegram's 4,096 characters."""
    total = sum(result.added.values())
    parts = [
        f"{result.added.get(kind, 0)} {word}"
        for kind, word in (("like", "favorites"), ("dislike", "not for me"), ("seen", "seen"))
        if result.added.get(kind)
    ]
    head = f"<b>Imported {count_noun(total, 'one movie', f'{total} movies')}</b>"
    if parts:
        head += f" ({', '.join(parts)})"
    files = ", ".join(result.files)
    lines = [f"{head} from {esc(files, 200)}." if files else f"{head}."]
    if result.already:
        lines.append(f"Already in your lists: {result.already}.")
    if result.full:
        lines.append(
            f"<b>{count_noun(result.full, 'One movie was', f'{result.full} movies were')} not "
            f"imported: your lists are full</b> (at most {result.limits[0]} favorites and "
            f"{result.limits[1]} “not for me” and seen movies). Remove some, then send the file "
            "again."
        )
    if result.skipped:
        why = ", ".join(f"{n} {esc(reason, 40)}" for reason, n in sorted(result.skipped.items()))
        lines.append(f"Skipped rows: {why}.")
    if total:
        lines.append("Undo removes exactly what this import added.")
    head_text = "\n".join(lines)
    if not result.absent:
        return head_text
    absent_head = f"{head_text}\n\nNot in the catalog ({len(result.absent)}):"
    return fit_lines(absent_head, [f"• {esc(t, 120)}" for t in result.absent])


def import_undone(count: int) -> str:
    """The import was undone."""
    if not count:
        return "Nothing to undo: the movies of that import are no longer in your lists."
    return f"Undone: {count_noun(count, 'one movie', f'{count} movies')} removed from your lists."


NOTHING_IMPORTED = "Nothing was imported."


def import_refused(message: str) -> str:
    """A file that cannot be imported (the reader's message, or a check before downloading)."""
    return f"{esc(message, 600)}\n{NOTHING_IMPORTED}"


MAX_IMPORT_MB = 20


def file_too_big(size: int) -> str:
    """A document over Telegram's 20 MB download limit (plain text, checked before download)."""
    return (
        f"That file is {size / 1e6:.1f} MB; the limit is {MAX_IMPORT_MB} MB. Send the CSV inside "
        "the export instead of the zip, or split it."
    )


def not_an_export_file(name: str) -> str:
    """A document that is neither a CSV nor a zip (plain text: :func:`import_refused` escapes)."""
    return (
        f"I can import a Letterboxd or IMDb export (a .csv file, or Letterboxd's .zip), not "
        f"{clip(name or 'this file', 80)}."
    )


def download_failed() -> str:
    """Telegram did not hand the file over."""
    return "I could not download that file from Telegram. Please send it again."


def export_caption(count: int) -> str:
    """The caption of the /export document."""
    return (
        f"Your lists: {count_noun(count, 'one movie', f'{count} movies')}. Letterboxd imports "
        "this file (Settings → Import), and so do I: send it back to me on another bot or "
        "catalog."
    )


def export_empty() -> str:
    """/export with empty lists."""
    return "Your lists are empty: nothing to export yet. Add favorites with /like."


def notice_only_asker() -> str:
    """Toast: a group member pressed a /reset question someone else asked."""
    return clip("Only the person who sent /reset can answer this.", MAX_NOTICE)
