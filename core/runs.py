"""Runs (R-3): each sync recorded with its trigger, steps, counts, errors and log."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextvars import Token
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.events import ALSO_AN_EVENT, Event, LogLine, RunProgress
from core.kinds import Level, Outcome, RunKind, Trigger
from core.store.db import Database
from core.timeutil import iso, utcnow

log = logging.getLogger("sincro.run")

COUNT_NAMES = (
    "orders_imported", "orders_skipped", "customers_created", "customers_updated",
    "destinations", "articles_coded", "documents_inserted", "states_pushed",
    "listing_actions", "articles_created", "customers_changed", "errors",
)


# Short names for run counts, in the order an operator reads them.
COUNT_LABELS = (
    ("orders_imported", "orders"),
    ("orders_skipped", "skipped"),
    ("customers_created", "new customers"),
    ("customers_updated", "customers updated"),
    ("customers_changed", "customers changed"),
    ("destinations", "addresses"),
    ("articles_coded", "articles coded"),
    ("articles_created", "articles created"),
    ("documents_inserted", "documents"),
    ("refunds_read", "refunds"),
    ("credit_notes", "credit notes"),
    ("refunds_waiting", "refunds waiting"),
    ("states_pushed", "states"),
    ("listing_actions", "listing actions"),
    ("errors", "errors"),
)


def describe_counts(values: Mapping[str, int], *, limit: int | None = None) -> str:
    """'12 orders, 3 new customers' — only what is not zero."""
    parts = [f"{values[key]} {'error' if label == 'errors' and values[key] == 1 else label}"
             for key, label in COUNT_LABELS if values.get(key)]
    known = {key for key, _ in COUNT_LABELS}
    parts += [f"{v} {k.replace('_', ' ')}" for k, v in sorted(values.items())
              if k not in known and v]
    if limit is not None and len(parts) > limit:
        parts = parts[:limit] + ["…"]
    return ", ".join(parts) if parts else "nothing to do"


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A run as the hub recorded it. Its kind, trigger and outcome are the recorded text: a
    ``RunKind``, ``Trigger`` and ``Outcome`` value (equal to the member) for runs of this
    version; a hub written by another version may hold others, shown as they are."""

    id: int
    account: str
    kind: str
    trigger: str
    outcome: str | None  # None while the run goes on
    started_at: str
    ended_at: str | None
    counts: dict[str, int]
    errors: list[str]
    steps: list[str]
    measured_s: float | None = None  # the engine's clock; older runs have only the stamps

    @property
    def duration_s(self) -> float | None:
        if not self.ended_at:
            return None
        if self.measured_s is not None:
            return self.measured_s
        return (datetime.fromisoformat(self.ended_at)
                - datetime.fromisoformat(self.started_at)).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "account": self.account, "kind": self.kind, "trigger": self.trigger,
            "outcome": self.outcome, "started_at": self.started_at, "ended_at": self.ended_at,
            "duration_s": self.duration_s, "counts": self.counts, "errors": self.errors,
            "steps": self.steps,
        }


# A log line waits at most this long for a transaction of its run before it is written in
# one of its own: a console following the run from another process sees it within a second.
LINES_WITHIN = 0.5
_INSERT_LINES = "INSERT INTO run_logs (run_id, at, level, message) VALUES (?, ?, ?, ?)"


class RunRecorder:
    """Collects a run's counts, errors and log lines, and writes them as the run goes.

    While attached (``attach``, ``attached``), every hub write transaction of the run's
    task also writes the buffered log lines and the counts so far (``tx_write``): what a
    page counts is committed with the page, so a run killed at any moment keeps the
    counts of what it really committed, its log up to there, and its duration up to its
    last write. A transaction that rolls back takes back what was counted inside it and
    keeps its log lines for the next one. Lines that no transaction of the run takes within
    ``LINES_WITHIN`` (a long wait on the shop or the ERP) are written on their own, without
    the counts (``settle`` before the run's last transaction).
    """

    def __init__(self, db: Database, run_id: int, account: str, publish: Callable[[Event], None],
                 *, record: bool = True):
        self.db = db
        self.record = record
        self.id = run_id
        self.account = account
        self.publish = publish
        self.counts: Counter[str] = Counter()
        self.errors: list[str] = []
        self.steps: list[str] = []
        self._pending: list[tuple[int, str, str, str]] = []
        self._writing: list[tuple[int, str, str, str]] = []  # lines in an open transaction
        self._t0 = time.monotonic()
        self._lines_timer: asyncio.TimerHandle | None = None
        self._lines_task: asyncio.Task[None] | None = None

    def log(self, level: Level, message: str) -> None:
        now = utcnow()
        # the plain text (what the hub holds): SQLite binds a str subclass more slowly
        self._pending.append((self.id, iso(now), str(level), message))
        if self.record and self._lines_timer is None:
            self._lines_due()
        log.log(getattr(logging, level.upper(), logging.INFO), "%s run=%s %s",
                self.account, self.id, message, extra=ALSO_AN_EVENT)
        self.publish(LogLine(run_id=self.id, account=self.account, at=now, level=level,
                             message=message))

    def _lines_due(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # logged outside a loop: the next transaction writes it
            return
        self._lines_timer = loop.call_later(LINES_WITHIN, self._write_due_lines)

    def _write_due_lines(self) -> None:
        self._lines_timer = None
        if self._pending and (self._lines_task is None or self._lines_task.done()):
            # a context of its own: the run's transaction hook (counts) is not bound there
            self._lines_task = asyncio.get_running_loop().create_task(
                self._write_lines(), context=contextvars.Context())

    async def _write_lines(self) -> None:
        rows, self._pending = self._pending, []
        try:
            async with self.db.transaction() as conn:
                await conn.executemany(_INSERT_LINES, rows)
        except Exception:  # the hub busy or closed: the run's next transaction writes them
            self._pending[:0] = rows

    async def settle(self) -> None:
        """No line write of its own left behind: before the run's last transaction."""
        if self._lines_timer is not None:
            self._lines_timer.cancel()
            self._lines_timer = None
        if self._lines_task is not None:
            await asyncio.shield(self._lines_task)
            self._lines_task = None

    def info(self, message: str) -> None:
        self.log(Level.INFO, message)

    def warning(self, message: str) -> None:
        self.log(Level.WARNING, message)

    def error(self, message: str) -> None:
        self.errors.append(message)
        self.counts["errors"] += 1
        self.log(Level.ERROR, message)

    def progress(self, step: str, done: int, total: int | None = None) -> None:
        self.publish(RunProgress(run_id=self.id, account=self.account, step=step, done=done,
                                 total=total))

    # -- written with the run's transactions --------------------------------
    def attach(self) -> Token | None:
        """From now on, the current task's hub transactions write this run's lines and
        counts; hand the token to ``detach``."""
        if not self.record:
            return None
        return self.db.attach(self)

    def detach(self, token: Token | None) -> None:
        if token is not None:
            self.db.detach(token)

    @contextlib.contextmanager
    def attached(self) -> Iterator[None]:
        token = self.attach()
        try:
            yield
        finally:
            self.detach(token)

    def tx_begin(self) -> Counter[str]:
        return Counter(self.counts)

    async def tx_write(self, conn) -> None:
        rows, self._pending = self._pending, []
        self._writing += rows
        if rows:
            await conn.executemany(_INSERT_LINES, rows)
        await conn.execute(
            "UPDATE runs SET counts = ?, errors = ?, steps = ?, "
            "duration_s = CASE WHEN ended_at IS NULL THEN ? ELSE duration_s END WHERE id = ?",
            (json.dumps(dict(self.counts)), json.dumps(self.errors), json.dumps(self.steps),
             round(self.elapsed, 3), self.id),
        )

    def tx_end(self, mark: Counter[str], committed: bool) -> None:
        if not committed:
            # what was counted inside a transaction that did not commit did not happen;
            # its errors did, and its lines are written with the next transaction
            errors = self.counts["errors"]
            self.counts.clear()
            self.counts.update(mark)
            self.counts["errors"] = errors
            self._pending[:0] = self._writing
        self._writing = []

    async def flush(self) -> None:
        """Write the buffered lines and the counts now, in a transaction of their own."""
        if not self.record:
            self._pending.clear()
            return
        with self.db.bind(self):
            async with self.db.transaction():
                pass

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0


async def create_run(db: Database, account_id: int, kind: RunKind, trigger: Trigger,
                     owner: str) -> int:
    async with db.transaction() as conn:
        cur = await conn.execute(
            "INSERT INTO runs (account_id, kind, trigger, owner, started_at) VALUES (?, ?, ?, ?, ?) "
            "RETURNING id", (account_id, kind, trigger, owner, iso(utcnow())),
        )
        row = await cur.fetchone()
        assert row is not None  # RETURNING id of the row just inserted
        return int(row[0])


async def finish_run(db: Database, rec: RunRecorder, outcome: Outcome,
                     duration_s: float | None = None) -> None:
    """The run's end, its outcome and its last lines and counts, in one transaction."""
    await rec.settle()
    with db.bind(rec):
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE runs SET ended_at = ?, outcome = ?, duration_s = ? WHERE id = ?",
                (iso(utcnow()), outcome, duration_s, rec.id),
            )


def _summary(row) -> RunSummary:
    return RunSummary(
        id=row["id"], account=row["account"], kind=row["kind"], trigger=row["trigger"],
        outcome=row["outcome"], started_at=row["started_at"], ended_at=row["ended_at"],
        counts=json.loads(row["counts"]), errors=json.loads(row["errors"]),
        steps=json.loads(row["steps"]), measured_s=row["duration_s"],
    )


_SELECT = ("SELECT runs.*, accounts.name AS account FROM runs "
           "JOIN accounts ON accounts.id = runs.account_id")


async def list_runs(db: Database, account: str | None = None, limit: int = 50) -> list[RunSummary]:
    if account:
        rows = await db.fetchall(_SELECT + " WHERE accounts.name = ? ORDER BY runs.id DESC LIMIT ?",
                                 (account, limit))
    else:
        rows = await db.fetchall(_SELECT + " ORDER BY runs.id DESC LIMIT ?", (limit,))
    return [_summary(r) for r in rows]


async def get_run(db: Database, run_id: int) -> RunSummary | None:
    row = await db.fetchone(_SELECT + " WHERE runs.id = ?", (run_id,))
    return _summary(row) if row else None


async def run_log(db: Database, run_id: int,
                  after_id: int = 0) -> list[tuple[int, str, Level, str]]:
    """A run's log lines: id, time, level, message."""
    rows = await db.fetchall(
        "SELECT id, at, level, message FROM run_logs WHERE run_id = ? AND id > ? ORDER BY id",
        (run_id, after_id))
    return [(r[0], r[1], Level(r[2]), r[3]) for r in rows]


async def mark_abandoned(db: Database, owner_alive: Callable[[str], bool]) -> int:
    """Runs left without an end by a process that died: outcome 'interrupted'."""
    rows = await db.fetchall("SELECT id, owner FROM runs WHERE ended_at IS NULL")
    dead = [r["id"] for r in rows if not owner_alive(r["owner"])]
    await mark_interrupted(db, dead)
    return len(dead)


async def mark_interrupted(db: Database, run_ids: list[int]) -> None:
    """Runs whose process ended without finishing them (killed, or the machine stopped):
    'interrupted', ending at their last write, with the counts and lines written as they
    went, and a line saying so."""
    if not run_ids:
        return
    marks = ",".join("?" * len(run_ids))
    rows = await db.fetchall(
        f"SELECT id, started_at, duration_s FROM runs WHERE id IN ({marks})", run_ids)
    now = iso(utcnow())
    ends = []
    for r in rows:
        try:
            ended = iso(datetime.fromisoformat(r["started_at"])
                        + timedelta(seconds=float(r["duration_s"] or 0)))
        except (TypeError, ValueError):
            ended = r["started_at"]
        ends.append((ended, r["id"]))
    async with db.transaction() as conn:
        closed = []
        for end, i in ends:  # each once, when two processes find it at the same time
            cur = await conn.execute(
                "UPDATE runs SET ended_at = ?, outcome = 'interrupted' WHERE id = ? "
                "AND ended_at IS NULL", (end, i))
            if cur.rowcount == 1:
                closed.append(i)
        await conn.executemany(
            "INSERT INTO run_logs (run_id, at, level, message) VALUES (?, ?, 'warning', ?)",
            [(i, now, "run interrupted: its process ended before it finished (killed, or the "
              "machine stopped); the counts are what it had committed, and the next run "
              "resumes where it stopped") for i in closed])


async def prune(db: Database, keep_days: int) -> None:
    cutoff = iso(utcnow() - timedelta(days=keep_days))
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM runs WHERE ended_at IS NOT NULL AND started_at < ?",
                           (cutoff,))
