"""Hostile input: property-based tests (hypothesis) against the bot over the Bot API emulator.

Most properties run against the real Application, Poller, service and SQLite store in this
process (the bot on a thread of its own, so each example costs a few milliseconds); one test
sends a fixed hostile set to the real ``moviebot run`` process and reads its log. Whatever users
send — any unicode, 4,096-character texts, HTML and markdown metacharacters, unknown commands,
stickers, forged or oversized button data, a flood — the bot answers, never crashes, never
sends anything Telegram would reject, and never writes the token to a log.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import service, texts
from bot.app_cli import install_redactor
from bot.ratelimit import FloodLimiter
from bot.service import MovieBot
from bot.store import FavoritesStore
from bot.telegram_app import Poller, build_application
from recsys.engine import Recommender
from recsys.titles import TitleIndex
from tests.botproc import UNLIMITED, BotConfig, BotProcess
from tests.emulator import BotCall, Emulator, fake_token

FLOOD_CAPACITY = 5
FLOOD_WINDOW = 3600.0  # no refill during a test: the flood answer is exactly predictable
HYPOTHESIS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
COMMANDS = tuple(name for c in service.COMMANDS for name in (c.name, *c.aliases))
METACHARACTERS = "<>&\"';*_`[]()~|#+-=.!{}\\/@ \n\t\u200b\u202e\ufeff🎬👍🏽"
_chats = itertools.count(70_001)


class LogCollector(logging.Handler):
    """Every log record of the process, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


class BotThread:
    """The bot's Application, Poller and store running on a thread and event loop of their own."""

    def __init__(
        self, emu: Emulator, recommender: Recommender, titles: TitleIndex, db_url: str
    ) -> None:
        self.emu, self.recommender, self.titles, self.db_url = emu, recommender, titles, db_url
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: Poller | None = None
        self._thread = threading.Thread(target=self._run, name="bot-under-test", daemon=True)

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(60):
            raise RuntimeError(f"the bot did not start: {self.error!r}")

    def stop(self) -> None:
        if self._loop is not None and self._poller is not None:
            self._loop.call_soon_threadsafe(self._poller.stop)
        self._thread.join(30)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self.error is None

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported through .alive
            self.error = error

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        # As `moviebot run` does: python-telegram-bot logs the Bot API URL, token included, at
        # DEBUG ("Set Bot API URL"); the redactor scrubs it from every record.
        install_redactor(self.emu.token)
        store = await FavoritesStore.open(self.db_url)
        try:
            moviebot = MovieBot(
                self.recommender,
                self.titles,
                store,
                limiter=FloodLimiter(FLOOD_CAPACITY, FLOOD_WINDOW),
            )
            app = build_application(
                moviebot,
                token=self.emu.token,
                base_url=self.emu.base_url,
                overall_max_rate=0,
                group_max_rate=0,
            )
            self._poller = Poller(app, timeout=1)
            async with app:
                if app.post_init is not None:
                    await app.post_init(app)
                await app.start()
                self.ready.set()
                try:
                    await self._poller.run()
                finally:
                    await app.stop()
        finally:
            await store.close()


@pytest.fixture(scope="module")
def logs() -> Iterator[LogCollector]:
    collector = LogCollector()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    # As bot.cli does: httpx logs request URLs, and Bot API URLs contain the token.
    httpx_logger = logging.getLogger("httpx")
    httpx_level = httpx_logger.level
    httpx_logger.setLevel(logging.WARNING)
    yield collector
    root.removeHandler(collector)
    root.setLevel(previous)
    httpx_logger.setLevel(httpx_level)


@pytest.fixture(scope="module")
def emu() -> Iterator[Emulator]:
    with Emulator(fake_token()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def bot(
    emu: Emulator,
    recommender: Recommender,
    logs: LogCollector,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BotThread]:
    db_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('hostile') / 'favorites.sqlite3'}"
    thread = BotThread(emu, recommender, TitleIndex.build(recommender.catalog), db_url)
    thread.start()
    yield thread
    thread.stop()
    leaked = [line for line in logs.lines if emu.token.split(":")[1] in line]
    assert leaked == []


def wait_reply(emu: Emulator, chat_id: int, after: int, **kwargs: Any) -> BotCall:
    """Block until the bot's next message in a chat (hypothesis examples are synchronous)."""
    return asyncio.run(emu.wait_for_reply(chat_id, after=after, timeout=20, **kwargs))


def assert_healthy(emu: Emulator, bot: BotThread, logs: LogCollector, *replies: BotCall) -> None:
    assert bot.alive, bot.error
    assert emu.problems() == []
    for reply in replies:
        assert reply.html != texts.something_wrong()
    errors = [line for line in logs.lines if line.startswith(("ERROR", "CRITICAL"))]
    assert errors == []


def send(emu: Emulator, chat_id: int, text: str, **kwargs: Any) -> BotCall:
    after = emu.mark()
    emu.user_sends(chat_id, text, **kwargs)
    return wait_reply(emu, chat_id, after)


hostile_text = st.one_of(
    st.text(min_size=1, max_size=300),
    st.text(alphabet=st.sampled_from(METACHARACTERS + "abc"), min_size=1, max_size=300),
    st.text(min_size=3900, max_size=4000),
    st.sampled_from(
        [
            "<b>",
            "</i>",
            "&amp;",
            "&#0;",
            "<a href='javascript:x'>x</a>",
            "*bold* _it_ `code` [x](http://e.org)",
            "\u202etxet",
            "\x00\x01\x7f",
            "🎬" * 1000,
            "a" * 4000,
            "toy story" * 400,
            "' OR 1=1; --",
        ]
    ),
)


@HYPOTHESIS
@given(command=st.sampled_from(COMMANDS), argument=hostile_text)
def test_any_command_argument(
    emu: Emulator, bot: BotThread, logs: LogCollector, command: str, argument: str
) -> None:
    text = f"/{command} {argument}"[:4096]
    reply = send(emu, next(_chats), text)
    assert reply.text.strip()
    assert_healthy(emu, bot, logs, reply)


@HYPOTHESIS
@given(text=hostile_text.filter(lambda t: t.strip() and not t.startswith("/")))
def test_any_plain_text(emu: Emulator, bot: BotThread, logs: LogCollector, text: str) -> None:
    reply = send(emu, next(_chats), text)
    assert_healthy(emu, bot, logs, reply)


@HYPOTHESIS
@given(
    name=st.from_regex(r"[A-Za-z0-9_]{1,32}", fullmatch=True).filter(
        lambda n: n.lower() not in COMMANDS
    ),
    argument=st.text(max_size=50),
)
def test_unknown_commands(
    emu: Emulator, bot: BotThread, logs: LogCollector, name: str, argument: str
) -> None:
    reply = send(emu, next(_chats), f"/{name} {argument}")
    assert reply.text.startswith("I don't know the command /")
    assert_healthy(emu, bot, logs, reply)


forged_data = st.one_of(
    st.text(min_size=1, max_size=200),
    st.binary(min_size=1, max_size=64).map(lambda b: b.decode("latin-1")),
    st.from_regex(
        r"(like|un|sim|why|fav|reset|no|seen|um|rl|rn|rs|ru|more):[-0-9a-z:]{0,30}",
        fullmatch=True,
    ),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: f"like:{n}"),
    st.sampled_from(
        [
            "un:1:99999",
            "fav:9999",
            "fav:-1",
            "reset:yes:1",
            "like:0",
            "sim:1 ",
            "like:1\n",
            "un:1:0:0",
        ]
    ),
)


@HYPOTHESIS
@given(data=forged_data)
def test_forged_or_oversized_button_data(
    emu: Emulator, bot: BotThread, logs: LogCollector, data: str
) -> None:
    chat = next(_chats)
    menu = send(emu, chat, "/reset")  # a message of the bot's to press a (forged) button on
    assert menu.message_id is not None
    answer = asyncio.run(emu.click(chat, menu.message_id, data, forge=True, timeout=20))
    assert answer.params.get("text", "") != texts.something_wrong()
    assert_healthy(emu, bot, logs)
    assert emu.unanswered_queries() == []


request_words = st.lists(
    st.sampled_from(
        [
            "comedy",
            "-horror",
            "90s",
            "1990-1999",
            "2099-1900",
            "new",
            "gems",
            "sci-fi",
            "romcom",
            "kids",
            "docs",
            "no",
            "before",
            "1800",
            "10s",
            "Science",
            "fiction",
            "-",
            "5",
            "<b>",
        ]
    )
    | hostile_text.map(lambda t: t[:30]),
    max_size=8,
).map(" ".join)


@HYPOTHESIS
@given(request=request_words)
def test_any_recommend_request(
    emu: Emulator, bot: BotThread, logs: LogCollector, request: str
) -> None:
    chat = next(_chats)
    send(emu, chat, "/like toy story")
    reply = send(emu, chat, f"/recommend {request}"[:4096])
    assert reply.text.strip()
    assert_healthy(emu, bot, logs, reply)


card_data = st.one_of(
    st.builds(
        lambda k, a, b: f"{k}:{a}:{b}",
        st.sampled_from(["rl", "rn", "rs", "ru", "more", "no", "seen", "um"]),
        st.integers(-(2**40), 2**40) | st.sampled_from([1, 2, 3]),
        st.integers(-(2**40), 2**40) | st.sampled_from([1, 260, 2571, 3114]),
    ),
    st.builds(
        lambda k, a: f"{k}:{a}", st.sampled_from(["more", "no", "seen", "um"]), st.integers()
    ),
)


@HYPOTHESIS
@given(data=card_data)
def test_any_feedback_button_on_a_recommendation(
    emu: Emulator, bot: BotThread, logs: LogCollector, data: str
) -> None:
    chat = next(_chats)
    send(emu, chat, "/like toy story")
    card = send(emu, chat, "/recommend")
    assert card.message_id is not None
    answer = asyncio.run(emu.click(chat, card.message_id, data, forge=True, timeout=20))
    assert answer.params.get("text", "") != texts.something_wrong()
    assert_healthy(emu, bot, logs)
    assert emu.unanswered_queries() == []


@pytest.mark.parametrize("kind", ["sticker", "photo", "document", "location", "contact"])
def test_media_is_answered_politely(
    emu: Emulator, bot: BotThread, logs: LogCollector, kind: str
) -> None:
    chat = next(_chats)
    after = emu.mark()
    offered = emu.downloads_offered
    emu.user_sends_media(chat, kind, caption="/like toy story" if kind == "photo" else None)
    reply = wait_reply(emu, chat, after)
    if kind == "document":  # x.txt: not an export, refused before it is downloaded
        assert reply.html == texts.import_refused(texts.not_an_export_file("x.txt"))
        assert emu.downloads_offered == offered
    else:
        assert reply.html == texts.not_text()
    assert_healthy(emu, bot, logs, reply)


def test_flood_gets_one_polite_reply_then_silence(
    emu: Emulator, bot: BotThread, logs: LogCollector
) -> None:
    chat = next(_chats)
    after = emu.mark()
    for i in range(FLOOD_CAPACITY * 6):
        emu.user_sends(chat, f"/like toy story {i}" if i % 2 else "/favorites")
    asyncio.run(emu.wait_all_confirmed(timeout=30))
    replies = [c for c in emu.calls_in(chat, after=after) if c.method == "sendMessage"]
    assert len(replies) == FLOOD_CAPACITY + 1
    assert [r.html for r in replies].count(texts.flood()) == 1
    assert replies[-1].html == texts.flood()
    assert_healthy(emu, bot, logs, *replies)


def test_group_chatter_and_other_bots_are_ignored(
    emu: Emulator, bot: BotThread, logs: LogCollector
) -> None:
    group = -next(_chats)
    after = emu.mark()
    for text in ("hello all", "/like@other_bot toy story", "<b>", "/help@other_bot"):
        emu.user_sends(group, text, chat_type="group", user_id=5)
    emu.user_sends_media(group, "sticker", chat_type="group", user_id=5)
    asyncio.run(emu.wait_all_confirmed(timeout=30))
    assert emu.calls_in(group, after=after) == []
    reply = send(emu, group, f"/help@{emu.username}", chat_type="group", user_id=5)
    assert reply.html == texts.help_text([c.help_entry() for c in service.COMMANDS])
    assert_healthy(emu, bot, logs, reply)


# A smaller hostile set against the real process: its own log must not contain the token.

REAL_PROCESS_INPUTS = (
    "/like <script>alert(1)</script>",
    "/like " + "&" * 4000,
    "/similar 🎬" * 3,
    "/why \u202e",
    "/like " + "x" * 4090,
    "<b>unclosed",
    "/unlike ' OR 1=1; --",
    "/recommend@other_bot",
    "/" + "a" * 32,
    "/like\u0000toy story",
    "*_`[](",
    "/reset extra words",
)


@pytest.mark.slow
async def test_hostile_set_against_the_real_process(
    trained_model_path: Path, movielens_dir: Path, tmp_path: Path
) -> None:
    with Emulator(fake_token(987654)) as emu:
        config = BotConfig(
            model_path=trained_model_path,
            movielens_dir=movielens_dir,
            data_dir=tmp_path / "data",
            extra={**UNLIMITED, "MOVIEBOT_LOG_LEVEL": "DEBUG"},
        )
        process = BotProcess(emu, config, tmp_path / "bot.log")
        try:
            process.start()
            chat = 99_001
            for text in REAL_PROCESS_INPUTS:
                after = emu.mark()
                emu.user_sends(chat, text)
                if not text.startswith("/recommend@"):
                    reply = await emu.wait_for_reply(chat, after=after, timeout=30)
                    assert reply.html != texts.something_wrong()
                menu = await emu.ask(chat, "/reset")
                await emu.click(chat, menu.message_id or 0, text[:64] or "x", forge=True)
            await emu.wait_all_confirmed(timeout=30)
            assert process.running
        finally:
            process.stop()
        log = process.log()
        assert emu.problems() == []
        assert emu.unanswered_queries() == []
        assert "Traceback" not in log
        assert emu.token not in log
        assert emu.token.split(":")[1] not in log
