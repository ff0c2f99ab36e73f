"""One aiosqlite connection per process, explicit write transactions.

Writes go through ``transaction()``: ``BEGIN IMMEDIATE`` behind an asyncio
lock, so the one connection never interleaves two transactions and a second
process waits on ``busy_timeout`` instead of failing halfway through.
Schema changes are an ordered list of migrations applied by
``PRAGMA user_version`` in one transaction.

A full disk or a damaged file is named (``core.store.faults``), never passed on as a
bare ``sqlite3`` error: opening runs ``PRAGMA quick_check``, and every statement's
failure is classified. A task may bind a hook to a database (``bind``): each of its
write transactions then lets the hook write too, before COMMIT (a run's counts and
log lines go in with the page they count), and tells it how the transaction ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiosqlite

from core.errors import StoreError
from core.store import faults


@dataclass(frozen=True, slots=True)
class Dialects:
    """A migration that cannot be written once for both hubs (a trigger): its SQLite
    script and its PostgreSQL script."""

    sqlite: str
    postgresql: str


# A migration is a SQL script (written once: core/store/sql.py makes it PostgreSQL's), a
# script per dialect, or a callable run on the connection for the rare change that needs
# code.
Migration = str | Dialects | Callable[[Any], Any]

BUSY_TIMEOUT_MS = 10_000

# Files above this size are not checked with quick_check when opened (it reads every
# page: about 60 ms for 32 MB); damage is still named when a statement meets it.
QUICK_CHECK_MAX_BYTES = 512 << 20


class TransactionHook(Protocol):
    """Writes along with every write transaction of the task it is bound to."""

    def tx_begin(self) -> Any: ...  # after BEGIN: a mark handed back to tx_end

    async def tx_write(self, conn: Any) -> None: ...  # just before COMMIT (either store's)

    def tx_end(self, mark: Any, committed: bool) -> None: ...


_bound: ContextVar[tuple[Database, TransactionHook] | None] = ContextVar(
    "sincro_transaction_hook", default=None)


def default_busy_timeout() -> int:
    """How long a write waits for another process's transaction (SINCRO_BUSY_TIMEOUT_MS)."""
    try:
        return max(0, int(os.environ.get("SINCRO_BUSY_TIMEOUT_MS", BUSY_TIMEOUT_MS)))
    except ValueError:
        return BUSY_TIMEOUT_MS


class Database:
    """A SQLite file with its migrations, opened as an async context manager.

    ``core.store.pg.PgDatabase`` is the same on a PostgreSQL schema; ``open_store`` picks.
    """

    dialect = "sqlite"

    def __init__(
        self,
        path: Path | str,
        migrations: Sequence[Migration],
        *,
        label: str = "database",
        busy_timeout_ms: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.migrations = list(migrations)
        self.label = label
        self.busy_timeout_ms = default_busy_timeout() if busy_timeout_ms is None else busy_timeout_ms
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task | None = None  # the task inside transaction()

    # -- lifecycle -----------------------------------------------------
    async def open(self) -> Database:
        new = not self.path.exists()
        try:
            if new:
                # Create the file ourselves so that it is 0600 from the start.
                fd = os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
                os.close(fd)
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            fault = faults.classify(exc, self.path, self.label)
            if fault is not None:
                raise fault from None
            raise StoreError(
                f"cannot open the {self.label} {self.path}: {_reason(exc)}",
                hint="check that the directory exists and is writable, or choose another --home",
            ) from None
        conn = self._conn
        conn.row_factory = aiosqlite.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            await self._check()
            await self._migrate()
        except (sqlite3.DatabaseError, OSError) as exc:
            await self.close()
            fault = faults.classify(exc, self.path, self.label)
            if fault is not None:
                raise fault from None
            raise StoreError(
                f"the {self.label} {self.path} cannot be used: {_reason(exc)}",
                hint="if another Sincro holds it, wait for it to finish; if the file is damaged, restore it from a backup",
            ) from None
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # a read transaction that sees one committed state; the operator to match a glob
    begin_snapshot = "BEGIN"
    glob = "GLOB"

    @staticmethod
    def glob_pattern(pattern: str) -> str:
        return pattern

    @property
    def where(self) -> str:
        """Where it is, for messages."""
        return str(self.path)

    async def data_version(self) -> int:
        """Changes when another connection has committed a write (PRAGMA data_version)."""
        return int(await self.scalar("PRAGMA data_version"))

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError(f"{self.label} is not open")
        return self._conn

    async def _check(self) -> None:
        """PRAGMA quick_check: a file with garbage pages is named on open, not found
        halfway through a run."""
        try:
            size = self.path.stat().st_size
        except OSError:
            return
        if not size or size > QUICK_CHECK_MAX_BYTES:
            return
        async with self.conn.execute("PRAGMA quick_check(5)") as cur:
            rows = [r[0] for r in await cur.fetchall()]
        if rows != ["ok"]:
            raise faults.damaged(self.path, self.label,
                                 "quick_check: " + "; ".join(str(r) for r in rows[:3]))

    def fault(self, exc: BaseException) -> StoreError | None:
        """The storage fault (full disk, damaged file) ``exc`` is for this file, if any."""
        return faults.classify(exc, self.path, self.label)

    def attach(self, hook: TransactionHook) -> Token:
        """From now on, the current task's (and its new children's) write transactions on
        this database let ``hook`` write too, before COMMIT; ``detach(token)`` ends it."""
        return _bound.set((self, hook))

    @staticmethod
    def detach(token: Token) -> None:
        _bound.reset(token)

    @contextmanager
    def bind(self, hook: TransactionHook) -> Iterator[None]:
        """``attach`` for the length of a block."""
        token = self.attach(hook)
        try:
            yield
        finally:
            self.detach(token)

    # -- schema --------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return len(self.migrations)

    async def _migrate(self) -> None:
        current = await self.scalar("PRAGMA user_version")
        target = self.schema_version
        if current > target:
            raise StoreError(
                f"the {self.label} {self.path} was written by a newer Sincro "
                f"(schema {current}, this version knows {target})",
                hint="upgrade Sincro, or point --home at another directory",
            )
        if current == target:
            return
        async with self.transaction() as conn:
            for migration in self.migrations[current:]:
                if isinstance(migration, str | Dialects):
                    script = migration if isinstance(migration, str) else migration.sqlite
                    for statement in split_sql(script):
                        await conn.execute(statement)
                else:
                    await migration(conn)
            await conn.execute(f"PRAGMA user_version = {target}")

    # -- queries -------------------------------------------------------
    @asynccontextmanager
    async def transaction(self, *, serial: bool = True) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction: BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error. (Every
        SQLite write transaction is serial; ``serial`` matters on PostgreSQL.)"""
        bound = _bound.get()
        hook = bound[1] if bound is not None and bound[0] is self else None
        async with self._lock:
            self._holder = asyncio.current_task()
            conn = self.conn
            try:
                try:
                    await conn.execute("BEGIN IMMEDIATE")
                except asyncio.CancelledError:
                    # Cancelled while BEGIN was queued: it still runs on the connection's
                    # thread, so end it here, or the next transaction finds one open.
                    await end_begun(conn, "ROLLBACK")
                    raise
                except sqlite3.DatabaseError as exc:
                    fault = self.fault(exc)
                    if fault is not None:
                        raise fault from None
                    raise StoreError(
                        f"the {self.label} {self.path} is locked by another process "
                        f"({_reason(exc)})",
                        hint="wait for the other Sincro to finish, or stop it",
                    ) from None
                mark = hook.tx_begin() if hook is not None else None
                try:
                    yield conn
                    if hook is not None:
                        await hook.tx_write(conn)
                    await conn.execute("COMMIT")
                except BaseException as exc:
                    if conn.in_transaction:
                        # after SQLITE_FULL, SQLite may have rolled back already
                        with contextlib.suppress(sqlite3.Error):
                            await asyncio.shield(conn.execute("ROLLBACK"))
                    if hook is not None:
                        hook.tx_end(mark, False)
                    fault = self.fault(exc) if isinstance(exc, sqlite3.Error | OSError) \
                        else None
                    if fault is not None:
                        raise fault from exc
                    raise
                if hook is not None:
                    hook.tx_end(mark, True)
            finally:
                self._holder = None

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[None]:
        """Reads wait for a transaction of another task: they never see uncommitted rows."""
        if self._holder is not None and self._holder is asyncio.current_task():
            yield
            return
        async with self._lock:
            yield

    async def fetchall(self, sql: str, params: Sequence[Any] | dict = ()) -> list[aiosqlite.Row]:
        try:
            async with self._reading(), self.conn.execute(sql, params) as cur:
                return list(await cur.fetchall())
        except sqlite3.DatabaseError as exc:
            fault = self.fault(exc)
            if fault is None:
                raise
            raise fault from None

    async def fetchone(self, sql: str, params: Sequence[Any] | dict = ()) -> aiosqlite.Row | None:
        try:
            async with self._reading(), self.conn.execute(sql, params) as cur:
                return await cur.fetchone()
        except sqlite3.DatabaseError as exc:
            fault = self.fault(exc)
            if fault is None:
                raise
            raise fault from None

    async def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]


async def end_begun(conn: aiosqlite.Connection, how: str) -> None:
    """End a transaction whose BEGIN was queued but whose caller was cancelled before it
    ran. ``how`` (COMMIT or ROLLBACK) is queued now, behind that BEGIN, so it ends it; it
    is queued before this await can be cancelled, so a second cancellation changes nothing."""
    with contextlib.suppress(sqlite3.Error, asyncio.CancelledError):
        await conn.execute(how)


def split_sql(script: str) -> list[str]:
    """Split a migration script into statements (complete_statement-aware)."""
    statements: list[str] = []
    buf = ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__
