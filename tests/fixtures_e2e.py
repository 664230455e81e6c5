"""Fixtures owned by the end-to-end part (see docs/e2e.md).

``emu``
    A fresh Bot API emulator on 127.0.0.1 for each test (modules that share one bot process across
    their tests override it with a module-scoped one).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator import Emulator, fake_token


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A Bot API emulator with a fake token of the real shape, stopped after the test."""
    with Emulator(fake_token()) as emulator:
        yield emulator
