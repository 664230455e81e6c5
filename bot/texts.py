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

import html
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
FAVORITES = CommandText("Show your favorites", "your list, with buttons to remove movies")
RECOMMEND = CommandText(
    "Ten movies picked for your favorites", "ten movies for your favorites, each with a reason"
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
CHOICE_PREFIX = {"like": "👍", "un": "❌", "sim": "🔎", "why": "❓"}
"""The prefix of a "which one?" choice button, by button kind."""


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int) -> str:
    """Cut plain ``text`` to at most ``limit`` characters, marking a cut with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + "…"


def esc(text: str, limit: int = 300) -> str:
    """Clip plain ``text`` and escape it for Telegram HTML."""
    return html.escape(clip(text, limit), quote=False)


def bold(text: str, limit: int = 300) -> str:
    """A title in bold, clipped and escaped."""
    return f"<b>{esc(text, limit)}</b>"


def link(text: str, url: str | None, limit: int = 300) -> str:
    """A title linked to ``url`` (plain escaped text without one)."""
    if not url:
        return esc(text, limit)
    return f'<a href="{html.escape(url, quote=True)}">{esc(text, limit)}</a>'


def fit_lines(head: str, lines: Sequence[str], *, tail: str = "", limit: int = MAX_MESSAGE) -> str:
    """``head``, then as many ``lines`` as fit, then ``tail``, all within ``limit``.

    Lines that do not fit are replaced by one "…and N more." line; a line is never cut.
    """
    budget = limit - utf16_len(head) - utf16_len(tail) - 40
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
    """A button label: a short prefix and a clipped title."""
    return clip(f"{prefix} {title}", MAX_LABEL)


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


def did_you_mean(query: str) -> str:
    """Nothing fits well; suggestions follow as buttons."""
    return f"I couldn't find “{esc(query, MAX_ECHO)}”. Did you mean one of these?"


def not_found(query: str) -> str:
    """Nothing fits and there is nothing to suggest."""
    return (
        f"I couldn't find “{esc(query, MAX_ECHO)}” among the movies I know. "
        "Try the original title, maybe with its year, e.g. <i>the matrix 1999</i>."
    )


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
    return f"Added {bold(title)} to your favorites{size}. Ask /recommend when you are ready."


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


def favorites_empty() -> str:
    """/favorites with an empty list."""
    return "Your favorites list is empty. Add movies with /like &lt;title&gt;."


def favorites_page(titles: Sequence[str], *, first: int, total: int) -> str:
    """One page of the favorites list; ``first`` is the 1-based number of its first entry."""
    last = first + len(titles) - 1
    head = f"<b>Your favorites</b> ({count_movies(total)})"
    if total > len(titles):
        head += f", {first}–{last}:"
    lines = [f"{first + i}. {esc(t, 200)}" for i, t in enumerate(titles)]
    return fit_lines(head, lines, tail="Tap a button to remove a movie.")


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
    if share <= 0.01:
        verdict = "a very strong match for you"
    elif share <= 0.05:
        verdict = "a strong match for you"
    elif share <= 0.2:
        verdict = "a good match for you"
    elif share <= 0.5:
        verdict = "so-so for you"
    else:
        verdict = "probably not your kind of movie"
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
    return f"Remove all {count_movies(count)} from your favorites? This cannot be undone."


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
