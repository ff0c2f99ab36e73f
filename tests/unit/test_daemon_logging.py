"""The daemon's log: every line once, in its format (docs/ARCHITECTURE.md, "Logging")."""

from __future__ import annotations

import json
import logging

from core.daemon import daemon_logging
from core.events import ALSO_AN_EVENT


def test_engine_warnings_become_daemon_lines_once(capsys) -> None:
    lines: list[str | None] = []
    with daemon_logging(lines.append, "logfmt"):
        logging.getLogger("sincro.prestashop").warning("shop %s answers slowly", "s1")
        logging.getLogger("sincro.run").warning("a run's own line", extra=ALSO_AN_EVENT)
        logging.getLogger("sincro.engine").info("not a warning")
    assert len(lines) == 1
    line = lines[0]
    assert line is not None
    assert "level=warning event=log logger=sincro.prestashop" in line
    assert 'msg="shop s1 answers slowly"' in line
    assert capsys.readouterr().err == ""  # nothing beside the daemon's own lines


def test_an_exception_is_one_line_without_its_traceback(capsys) -> None:
    lines: list[str | None] = []
    with daemon_logging(lines.append, "json"):
        try:
            raise ValueError("bad \x1b[31m value")
        except ValueError:
            logging.getLogger("sincro.scheduler").exception("scheduled run of s1 failed")
    assert len(lines) == 1 and lines[0] is not None
    fields = json.loads(lines[0])
    assert fields["level"] == "error" and fields["logger"] == "sincro.scheduler"
    assert fields["msg"] == "scheduled run of s1 failed"
    assert fields["error"].startswith("ValueError: bad ")
    assert "\x1b" not in lines[0]  # shop text is shown, never obeyed
    assert "Traceback" not in lines[0] and capsys.readouterr().err == ""


def test_the_logger_is_given_back_as_it_was() -> None:
    logger = logging.getLogger("sincro")
    before = (logger.handlers[:], logger.propagate)
    with daemon_logging(lambda line: None, "logfmt"):
        assert len(logger.handlers) == 1 and not logger.propagate
    assert (logger.handlers[:], logger.propagate) == before
