"""Film series (franchises) read from MovieLens titles: "Toy Story 2", "Matrix Reloaded, The".

A series key groups the films of one series; films outside any series have none. This first rule
is deliberately simple (the title's name before a sequel number or a ":" subtitle); the similar-
movies work refines it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

_SEQUEL_TAIL = re.compile(
    r"(?:\s*[:\-]\s.*|\s+(?:part\s+)?(?:\d{1,2}|ii|iii|iv|v|vi|vii|viii|ix|x)\b.*)$", re.I
)
_ARTICLE_TAIL = re.compile(r",\s*(the|a|an)$", re.I)


def _base(name: str) -> str:
    name = _ARTICLE_TAIL.sub("", name.strip())
    name = _SEQUEL_TAIL.sub("", name)
    return re.sub(r"[^a-z0-9]+", " ", name.lower()).strip()


def series_keys(names: Sequence[str]) -> list[str | None]:
    """A series key per title without year (``None`` when no other title shares it)."""
    bases = [_base(str(n)) for n in names]
    counts = Counter(bases)
    return [b if b and counts[b] > 1 else None for b in bases]
