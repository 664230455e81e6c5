"""Placeholder: the owner of this module replaces it with real subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:  # noqa: D103
    del subparsers
