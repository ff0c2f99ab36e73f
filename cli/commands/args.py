"""Argument types for the command line: each value is checked against its meaning.

An argparse ``type=`` function raises ``ArgumentTypeError`` with the value and
what a good one looks like; the parser turns it into one line on stderr and
exit code 2 before anything is opened.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

from core.textsafe import visible

# PrestaShop ids are INT(10) UNSIGNED; SQLite integers are signed 64-bit.
SHOP_ID_MAX = 2**32 - 1
ROW_ID_MAX = 2**63 - 1


def quoted(text: str, limit: int = 60) -> str:
    """A value quoted in a message: one line, control characters visible, long ones cut."""
    s = visible(text)
    return "'" + (s if len(s) <= limit else s[: limit - 1] + "…") + "'"


def _whole(text: str) -> int | None:
    t = text.strip()
    if t[:1] in "+-":
        sign, digits = t[0], t[1:]
    else:
        sign, digits = "", t
    if not digits or not (digits.isascii() and digits.isdigit()) or len(digits) > 30:
        return None
    return int(sign + digits)


def whole(lo: int, hi: int, what: str = "a whole number") -> Callable[[str], int]:
    """A whole number in [lo, hi]."""

    def parse(text: str) -> int:
        value = _whole(text)
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{quoted(text)} is not {what} from {lo:,} to {hi:,}")
        return value

    parse.__name__ = "whole number"
    return parse


def shop_id(text: str) -> int:
    """A PrestaShop id: 1 to 4,294,967,295 (its columns are INT UNSIGNED)."""
    value = _whole(text)
    if value is None or not 1 <= value <= SHOP_ID_MAX:
        raise argparse.ArgumentTypeError(
            f"{quoted(text)} is not a shop id (PrestaShop ids go from 1 to {SHOP_ID_MAX:,})")
    return value


def row_id(what: str) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = _whole(text)
        if value is None or not 1 <= value <= ROW_ID_MAX:
            raise argparse.ArgumentTypeError(f"{quoted(text)} is not a {what} (a whole number "
                                             "from 1)")
        return value

    parse.__name__ = what
    return parse


def seconds(lo: float, hi: float) -> Callable[[str], float]:
    """A finite number of seconds in [lo, hi]."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{quoted(text)} is not a number of seconds from {lo:g} to {hi:g}")
        return value

    parse.__name__ = "seconds"
    return parse


def directory(text: str) -> str:
    """A directory path: not empty, no control characters."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the data directory is empty: give a path, "
                                         "e.g. --home ~/sincro")
    if "\x00" in text or visible(text, multiline=False) != text:
        raise argparse.ArgumentTypeError(f"{quoted(text)} holds control characters: give a "
                                         "plain path")
    return text


def file_path(text: str) -> Path:
    if not text.strip() or "\x00" in text:
        raise argparse.ArgumentTypeError(f"{quoted(text)} is not a file path")
    return Path(text)
