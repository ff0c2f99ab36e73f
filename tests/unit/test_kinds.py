"""Run kinds, triggers, outcomes and levels (core.kinds): StrEnums that write the same plain
strings as before, in JSON, in SQLite and in the daemon's lines."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from core.daemon import format_event
from core.events import LogLine, RunFinished
from core.kinds import Level, Outcome, RunKind, Trigger
from core.resync import FIXES
from core.runs import RunSummary
from core.sync.pipeline import PIPELINES


def test_members_are_their_strings():
    assert RunKind.ORDERS == "orders" and hash(RunKind.ORDERS) == hash("orders")
    assert f"{RunKind.FIX_MISSING} sync" == "fix-missing sync"
    assert str(Trigger.SCHEDULE) == "schedule" and f"{Level.INFO:<7}|" == "info   |"
    assert {"ok": 1}[Outcome.OK] == 1 and Outcome("partial") is Outcome.PARTIAL
    assert [str(level) for level in Level] == ["debug", "info", "warning", "error"]


def test_every_pipeline_and_every_fix_has_its_kind():
    assert all(isinstance(kind, RunKind) for kind in PIPELINES)
    assert [RunKind.fix(c) for c in FIXES] == [
        RunKind.FIX_MISSING, RunKind.FIX_DIFFERS, RunKind.FIX_STATES, RunKind.FIX_CUSTOMERS,
        RunKind.FIX_DOUBLED_CUSTOMERS, RunKind.FIX_REFUNDS]


def test_json_and_sqlite_hold_the_plain_strings():
    summary = RunSummary(1, "shop1", RunKind.ORDERS, Trigger.CLI, Outcome.OK, "t0", "t1", {}, [],
                         [], 2.0)
    plain = RunSummary(1, "shop1", "orders", "cli", "ok", "t0", "t1", {}, [], [], 2.0)
    assert json.dumps(summary.as_dict()) == json.dumps(plain.as_dict())
    assert json.dumps(summary.as_dict(), indent=2) == json.dumps(plain.as_dict(), indent=2)
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE runs (kind TEXT, trigger TEXT, outcome TEXT, level TEXT)")
    db.execute("INSERT INTO runs VALUES (?, ?, ?, ?)",
               (RunKind.FIX_STATES, Trigger.CONSOLE, Outcome.INTERRUPTED, Level.WARNING))
    row = db.execute("SELECT kind, trigger, outcome, level, typeof(kind) FROM runs").fetchone()
    assert row == ("fix-states", "console", "interrupted", "warning", "text")
    assert [type(v) for v in row] == [str] * 5


def test_daemon_lines_are_unchanged():
    at = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    finished = RunFinished(run_id=3, account="shop1", kind=RunKind.SCHEDULED,
                           trigger=Trigger.SCHEDULE, outcome=Outcome.PARTIAL, counts={"errors": 1},
                           errors=("x",), duration_s=1.5)
    line = LogLine(run_id=3, account="shop1", at=at, level=Level.WARNING, message="careful")
    assert format_event(finished, "logfmt") == (
        "level=warning event=run_finished account=shop1 run=3 kind=scheduled trigger=schedule "
        "outcome=partial duration_s=1.5 errors=1")
    assert json.loads(format_event(finished, "json") or "")["outcome"] == "partial"
    assert format_event(line, "logfmt") == (
        "ts=2026-11-28T07:00:00+00:00 level=warning event=log account=shop1 run=3 msg=careful")
