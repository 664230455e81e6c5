r"""The same conversation in a terminal: no Telegram needed.

Each line is a command (``/like toy story``), a plain message (a title), or the number of a button
shown with the previous answer (buttons are listed as ``[1] 👍 Toy Story (1995)``). HTML becomes
plain text; links are shown as ``title <url>``. When stdin is not a terminal the lines are read
one by one without prompts, so a session can be scripted::

    printf '/like toy story\n/recommend\n' | moviebot console

``/import FILE`` imports a Letterboxd or IMDb export from this computer (what sending the file
does in Telegram); ``/export`` saves the lists as a CSV file in the current folder.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from bot.service import Button, MovieBot, Reply, Upload

_LINK = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.DOTALL)
_TAG = re.compile(r"</?(?:b|i|u|s|code|pre)>")

QUIT = frozenset({"/quit", "/exit", "quit", "exit"})


def plain(text: str) -> str:
    """Telegram HTML as terminal text: links as ``title <url>``, other tags dropped."""
    text = _LINK.sub(lambda m: f"{m.group(2)} <{m.group(1)}>", text)
    return html.unescape(_TAG.sub("", text))


def parse_command(line: str) -> tuple[str, str]:
    """``"/like@Bot toy story"`` → ``("like", "toy story")``."""
    head, _, arg = line.partition(" ")
    name = head[1:].partition("@")[0]
    return name, arg.strip()


class Console:
    """Feeds lines to a :class:`MovieBot` for one chat and prints its replies."""

    def __init__(
        self, moviebot: MovieBot, out: TextIO, *, chat_id: int = 0, folder: Path | None = None
    ) -> None:
        self.moviebot = moviebot
        self.out = out
        self.chat_id = chat_id
        self.folder = folder if folder is not None else Path()
        """Where /import FILE is read from (relative paths) and /export is saved."""
        self.buttons: list[Button] = []

    async def handle(self, line: str) -> bool:
        """Answer one input line; False when the user asked to quit."""
        line = line.strip()
        if not line:
            return True
        if line.lower() in QUIT:
            return False
        if line.isdigit() and self.buttons:
            await self._press(int(line))
        elif line.startswith("/"):
            name, arg = parse_command(line)
            if name == "import" and arg:
                await self._import(arg)
            else:
                self.show(await self.moviebot.command(self.chat_id, name, arg))
        else:
            self.show(await self.moviebot.text(self.chat_id, line))
        return True

    async def _press(self, number: int) -> None:
        if not 1 <= number <= len(self.buttons):
            self._print(f"There is no button {number}; choose 1–{len(self.buttons)}.")
            return
        button = self.buttons[number - 1]
        if button.data is None:
            self._print(f"Open {button.url}")
            return
        answer = await self.moviebot.button(self.chat_id, button.data)
        if answer.notice and all(reply.edit for reply in answer.replies):
            self._print(answer.notice)  # in Telegram the toast is all that confirms an edit
        self.show(answer.replies)

    async def _import(self, name: str) -> None:
        """``/import FILE``: the file goes through the same import as a Telegram document."""
        path = self.folder / name
        try:
            size = (await asyncio.to_thread(path.stat)).st_size
        except OSError as exc:
            self._print(f"Cannot read {name}: {exc.strerror or exc}")
            return

        async def download() -> bytes:
            return await asyncio.to_thread(path.read_bytes)

        upload = Upload(path.name, size, None, download)
        self.show(await self.moviebot.document(self.chat_id, upload))

    def _save(self, name: str, data: bytes) -> Path:
        """Write a document the bot sent next to the others, never over an existing file."""
        target = self.folder / name
        stem, suffix = target.stem, target.suffix
        number = 1
        while target.exists():
            number += 1
            target = self.folder / f"{stem}-{number}{suffix}"
        target.write_bytes(data)
        return target

    def show(self, replies: Sequence[Reply]) -> None:
        """Print replies and remember their buttons as the numbered choices."""
        buttons: list[Button] = []
        for reply in replies:
            self._print(plain(reply.text))
            if reply.document is not None:
                saved = self._save(reply.document.name, reply.document.data)
                self._print(f"Saved {saved}")
            for row in reply.buttons:
                cells = []
                for button in row:
                    if button.url is not None:
                        cells.append(f"{button.label} <{button.url}>")
                        continue
                    buttons.append(button)
                    cells.append(f"[{len(buttons)}] {button.label}")
                self._print("  " + "   ".join(cells))
        if replies:
            self.buttons = buttons

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def run(self, stdin: TextIO) -> None:
        """Read lines until end of input or ``/quit``; prompt only on a terminal."""
        interactive = stdin.isatty()
        if interactive:
            self._print("Movie bot console. Try /help, /like toy story, /recommend; /quit ends.")
        while True:
            if interactive:
                print("> ", end="", file=self.out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                break
            if not interactive and line.strip():
                self._print(f"> {line.strip()}")
            if not await self.handle(line):
                break
            if not interactive and line.strip():
                self._print("")
