"""core.textsafe and where it is applied: control characters are written out, never obeyed."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime

import pytest
from rich.table import Table
from rich.text import Text

from cli.commands.base import SafeConsole
from core.daemon import format_event
from core.errors import ConfigError
from core.events import LogLine
from core.notify import SmtpSettings, build_message
from core.textsafe import VisibleFormatter, is_safe, json_text, visible

HOSTILE = "\x1b[31mRED\x1b]0;pwned\x07\x1b[2J"
UNSAFE = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def clean(text: str) -> bool:
    return not any(ch in text for ch in UNSAFE)


@pytest.mark.parametrize(("raw", "shown"), [
    ("plain [b]text[/b] àè €", "plain [b]text[/b] àè €"),
    (HOSTILE, "\\x1b[31mRED\\x1b]0;pwned\\x07\\x1b[2J"),
    ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
    ("csi\x9b2J del\x7f nul\x00", "csi\\x9b2J del\\x7f nul\\x00"),
    ("evil\u202efdp.exe \u2066x\u2069 \u2028", "evil\\u202efdp.exe \\u2066x\\u2069 \\u2028"),
    ("emoji 👩‍💻 zwj kept", "emoji 👩‍💻 zwj kept"),
])
def test_visible_writes_control_characters_out(raw: str, shown: str) -> None:
    assert visible(raw) == shown
    assert visible(visible(raw)) == shown  # applying it twice changes nothing
    assert is_safe(shown)


def test_multiline_keeps_newlines_and_tabs_only() -> None:
    assert visible("a\nb\tc\r\x1b", multiline=True) == "a\nb\tc\\r\\x1b"
    assert visible(None) == "" and visible(12) == "12"


def test_json_text_is_the_same_json_without_raw_c1_or_bidi() -> None:
    data = {"m": f"x\x9by\u202ez\x7f{HOSTILE}"}
    dumped = json_text(json.dumps(data, ensure_ascii=False))
    assert clean(dumped) and json.loads(dumped) == data


def test_the_cli_console_shows_shop_text_in_messages_and_tables() -> None:
    out = io.StringIO()
    console = SafeConsole(file=out, highlight=False, soft_wrap=True, width=200)
    console.print(Text(f"order 1 (R{HOSTILE}\nfake: a line of its own)"))
    table = Table("name")
    table.add_row(Text(f"Ann{HOSTILE}"))
    console.print(table)
    console.out(json.dumps({"a": 1}, indent=2))  # JSON keeps its lines
    text = out.getvalue()
    assert clean(text)
    assert "R\\x1b[31mRED" in text and "\\nfake" in text
    assert '{\n  "a": 1\n}' in text


@pytest.mark.parametrize("fmt", ["logfmt", "json"])
def test_daemon_lines_never_carry_raw_control_characters(fmt: str) -> None:
    line = format_event(LogLine(run_id=1, account="shop1", at=datetime(2026, 11, 28, tzinfo=UTC),
                                level="error",
                                message=f"order R{HOSTILE} failed\nlevel=info fake=1 \\ \"q\""),
                        fmt)
    assert line is not None and clean(line) and "\n" not in line
    if fmt == "json":
        assert json.loads(line)["msg"].startswith(f"order R{HOSTILE}")
    else:
        assert 'msg="order R\\x1b[31mRED' in line and "\\nlevel=info" in line


def test_log_records_are_one_visible_line() -> None:
    record = logging.LogRecord("sincro.run", logging.ERROR, __file__, 1, "%s run=%s %s",
                               ("shop1", 3, f"x{HOSTILE}\ny"), None)
    assert VisibleFormatter("%(message)s").format(record) == \
        "shop1 run=3 x\\x1b[31mRED\\x1b]0;pwned\\x07\\x1b[2J\\ny"


def test_notice_text_and_headers_carry_no_control_characters() -> None:
    msg = build_message(f"shop1{HOSTILE}\r\nBcc: x@evil", {
        "id": 7, "kind": "orders", "trigger": "cli", "outcome": "partial",
        "counts": {"orders_imported": 3, f"k{HOSTILE}": 1},
        "errors": [f"customer 7: shop said {HOSTILE}\nsecond line"]},
        ["office@example.com"], sender="sincro@example.com")
    body = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert clean(body) and clean(html)
    assert "shop said \\x1b[31mRED" in body and "second line" in body
    for name, value in msg.items():
        assert "\r" not in value and "\n" not in value and clean(value), name
    assert "Bcc" not in msg


@pytest.mark.parametrize("field", ["host", "sender", "user"])
def test_smtp_settings_refuse_line_breaks(field: str) -> None:
    values = {"host": "smtp.example.com", "sender": "sincro@example.com", "user": "u",
              "password": "p"}
    values[field] += "\r\nRCPT TO:<x@evil>"
    with pytest.raises(ConfigError, match=f"SMTP {field}"):
        SmtpSettings(**values)
