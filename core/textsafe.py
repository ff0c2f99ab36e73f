"""Shop text made safe for a terminal or a log: control characters shown, never obeyed.

Order references, customer and product names, error bodies quoted in messages:
anything a shop or the ERP sent may hold escape sequences (``ESC[2J`` clears the
screen, ``ESC]0;...BEL`` retitles the terminal) or bidi overrides that reorder
what is read. Stored data keeps exactly what was sent; ``visible`` is applied
where text is shown (CLI, logs, daemon lines, console widgets, e-mail text).

- C0 controls, DEL and C1 controls (0x80-0x9f) are written as ``\\x1b``;
- bidi embeddings, overrides and isolates, and the line/paragraph separators,
  as ``\\u202e``;
- ``\\n`` and ``\\t`` are kept only with ``multiline=True``.

Markup is not this module's business: rich ``Text`` and ``markup=False`` keep
``[b]`` literal, as before.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

# C0 but \t and \n, DEL, C1; bidi marks and controls; line and paragraph separators
_MULTI = "\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
_UNSAFE_MULTI = re.compile(f"[{_MULTI}]")
_UNSAFE_LINE = re.compile(f"[{_MULTI}\t\n]")
# what json.dumps(ensure_ascii=False) leaves raw: DEL, C1, bidi and separators
_UNSAFE_JSON = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code == 0x09:
        return "\\t"
    if code == 0x0A:
        return "\\n"
    if code == 0x0D:
        return "\\r"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: Any, *, multiline: bool = False) -> str:
    """``text`` with every control character written out (``\\x1b``); one line unless
    ``multiline``. Safe text comes back unchanged (and fast)."""
    s = text if isinstance(text, str) else ("" if text is None else str(text))
    pattern = _UNSAFE_MULTI if multiline else _UNSAFE_LINE
    if pattern.search(s) is None:
        return s
    return pattern.sub(_escape, s)


def is_safe(text: str, *, multiline: bool = False) -> bool:
    return (_UNSAFE_MULTI if multiline else _UNSAFE_LINE).search(text) is None


def json_text(dumped: str) -> str:
    """A ``json.dumps(..., ensure_ascii=False)`` result with DEL, C1 and bidi characters
    escaped as ``\\u009b``: still the same JSON, and nothing a terminal obeys."""
    if _UNSAFE_JSON.search(dumped) is None:
        return dumped
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)


class VisibleFormatter(logging.Formatter):
    """Log records as one line each, control characters written out; a traceback keeps
    its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        return visible(super().formatMessage(record))

    def formatException(self, ei) -> str:  # noqa: N802
        return visible(super().formatException(ei), multiline=True)


class _StderrNow(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes, as Python's last resort
    does (a handler made once per process still follows a redirected stderr)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def safe_log_handler(stream: Any = None, level: int = logging.WARNING) -> logging.Handler:
    """What Python's last-resort handler does (warnings and errors, the message only, on
    stderr), with shop text shown instead of obeyed."""
    handler = logging.StreamHandler(stream) if stream is not None else _StderrNow()
    handler.setLevel(level)
    handler.setFormatter(VisibleFormatter("%(message)s"))
    handler.set_name("sincro-visible")
    return handler
