"""The hub (and the embedded ERP) in a PostgreSQL database, through psycopg 3.

``PgDatabase`` keeps ``Database``'s contract (docs/HUB.md): one connection per process,
``transaction()`` for writes, ``fetchall``/``fetchone``/``scalar`` for reads, the same
migrations, the same rows (``row[0]`` and ``row["name"]``). What SQLite gives by its
nature is made explicit here:

- a write transaction takes a transaction-scoped advisory lock on its schema first, so
  write transactions of every process on the schema follow one another, as SQLite's
  ``BEGIN IMMEDIATE`` makes them; a transaction that hands out work with
  ``FOR UPDATE SKIP LOCKED`` may go without it (``transaction(serial=False)``);
- each schema (``hub``, ``erp``) keeps its migration number in ``sincro_schema``;
- a committed write notifies the channel of its schema, which the console listens to in
  place of SQLite's ``PRAGMA data_version``.

The URL's password never leaves this module: messages name ``PgTarget.shown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import psycopg
from psycopg import pq
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.types.numeric import NumericLoader

from core.errors import StoreError
from core.store.db import Database, Dialects, Migration, _bound, split_sql
from core.store.sql import to_postgres

CONNECT_TIMEOUT_S = 10


@dataclass(frozen=True, slots=True)
class PgTarget:
    """A schema in a PostgreSQL database, named by a ``postgresql://`` URL."""

    url: str
    schema: str

    @property
    def shown(self) -> str:
        """The URL without its password (and without its query)."""
        return shown_url(self.url)

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"PgTarget({self.shown!r}, schema={self.schema!r})"


def shown_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = host + (f":{parts.port}" if parts.port else "")
        if parts.username:
            netloc = f"{unquote(parts.username)}@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "postgresql://(a URL that cannot be read)"


def password_of(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class Row(tuple):
    """A result row read by position or by column name, as ``sqlite3.Row``."""

    _index: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Any:
    desc = cursor.description
    if desc is None:
        return tuple
    index: dict[str, int] = {}
    for i, d in enumerate(desc):
        index.setdefault(d.name, i)

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row._index = index
        return row

    return make


class _NumberLoader(NumericLoader):
    """``SUM`` over integers is ``numeric`` in PostgreSQL: an int again, as in SQLite."""

    def load(self, data: Buffer) -> Any:
        value = Decimal(str(data, "utf-8"))
        return int(value) if value == value.to_integral_value() else float(value)


class _BoolLoader(Loader):
    """A comparison's result is 1 or 0, as in SQLite."""

    def load(self, data: Buffer) -> int:
        return 1 if bytes(data) == b"t" else 0


class _BoolDumper(Dumper):
    """True and False go in as 1 and 0: the schema's flags are integers, as in SQLite."""

    oid = 20  # int8

    def dump(self, obj: Any) -> bytes:
        return b"1" if obj else b"0"


def _adapt(conn: psycopg.AsyncConnection[Any]) -> None:
    conn.adapters.register_loader("numeric", _NumberLoader)
    conn.adapters.register_loader("bool", _BoolLoader)
    conn.adapters.register_dumper(bool, _BoolDumper)


class PgCursor:
    """What a statement gave: its rows, ``rowcount``, and ``lastrowid`` (always None:
    new ids are read with ``RETURNING id``)."""

    lastrowid = None

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount

    async def fetchall(self) -> list[Any]:
        rows, self._at = self._rows[self._at:], len(self._rows)
        return rows

    async def fetchone(self) -> Any:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    async def close(self) -> None:
        return None

    def __aiter__(self) -> PgCursor:
        return self

    async def __anext__(self) -> Any:
        row = await self.fetchone()
        if row is None:
            raise StopAsyncIteration
        return row


class _Call:
    """A statement under way: awaited, or used as ``async with``, as aiosqlite's."""

    def __init__(self, coro: Any) -> None:
        self._coro = coro

    def __await__(self) -> Any:
        return self._coro.__await__()

    async def __aenter__(self) -> PgCursor:
        result: PgCursor = await self._coro
        return result

    async def __aexit__(self, *exc: object) -> None:
        return None


def _params(params: Any) -> Any:
    if params is None:
        return ()
    if isinstance(params, dict):
        return params
    return tuple(params)


class PgConn:
    """The connection as the stores use it: ``execute``, ``executemany``."""

    def __init__(self, db: PgDatabase, raw: psycopg.AsyncConnection[Any]) -> None:
        self._db = db
        self.raw = raw

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def execute(self, sql: str, params: Any = ()) -> _Call:
        return _Call(self._execute(sql, params))

    def executemany(self, sql: str, seq: Iterable[Any]) -> _Call:
        return _Call(self._executemany(sql, seq))

    async def _execute(self, sql: str, params: Any) -> PgCursor:
        try:
            async with self.raw.cursor() as cur:
                await cur.execute(to_postgres(sql), _params(params))
                rows = await cur.fetchall() if cur.description is not None else []
                return PgCursor(rows, cur.rowcount)
        except psycopg.OperationalError as exc:
            raise self._db.failed(exc) from None

    async def _executemany(self, sql: str, seq: Iterable[Any]) -> PgCursor:
        batch = [_params(p) for p in seq]
        if not batch:
            return PgCursor([], 0)
        try:
            async with self.raw.cursor() as cur:
                await cur.executemany(to_postgres(sql), batch)
                return PgCursor([], cur.rowcount)
        except psycopg.OperationalError as exc:
            raise self._db.failed(exc) from None

    async def script(self, sql: str) -> None:
        """Statements as they are, several at once (no placeholders)."""
        try:
            async with self.raw.cursor() as cur:
                await cur.execute(sql.encode())
        except psycopg.OperationalError as exc:
            raise self._db.failed(exc) from None

    async def close(self) -> None:
        await self.raw.close()


class PgDatabase(Database):
    """``Database`` on a schema of a PostgreSQL database."""

    dialect = "postgresql"

    def __init__(self, target: PgTarget, migrations: Sequence[Migration], *,
                 label: str = "database", busy_timeout_ms: int | None = None) -> None:
        super().__init__(target.schema, migrations, label=label, busy_timeout_ms=busy_timeout_ms)
        self.target = target
        self._pg: PgConn | None = None
        # a stable number per schema: its writers' advisory lock, and its channel
        self.lock_key = zlib.crc32(f"sincro:{target.schema}".encode())
        self.channel = f"sincro_{target.schema}"
        self._listening = False
        self._others = 0  # commits seen from other connections

    begin_snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ"
    glob = "~"

    @staticmethod
    def glob_pattern(pattern: str) -> str:
        return glob_regex(pattern)

    @property
    def where(self) -> str:
        return f"{self.target.shown} (schema {self.target.schema})"

    # -- lifecycle -----------------------------------------------------
    async def open(self) -> PgDatabase:
        self._pg = await self._connect()
        try:
            await self._migrate_pg()
        except BaseException:
            await self.close()
            raise
        return self

    async def _connect(self) -> PgConn:
        try:
            raw = await psycopg.AsyncConnection.connect(
                self.target.url, autocommit=True, row_factory=_row_factory,
                connect_timeout=CONNECT_TIMEOUT_S, application_name="sincro",
                # a write waits for another process's as long as on SQLite (busy_timeout)
                options=f"-c search_path={self.target.schema} "
                        f"-c lock_timeout={int(self.busy_timeout_ms)}")
        except (psycopg.Error, OSError, ValueError) as exc:
            raise StoreError(
                f"cannot open the {self.label} at {self.where}: {self.reason(exc)}",
                hint="check that PostgreSQL runs and that SINCRO_HUB names its host, port, "
                     "user, password and database",
            ) from None
        _adapt(raw)
        raw.add_notify_handler(self._notified)
        return PgConn(self, raw)

    async def close(self) -> None:
        if self._pg is not None:
            pg, self._pg = self._pg, None
            with contextlib.suppress(psycopg.Error, OSError):
                await pg.close()

    @property
    def conn(self) -> PgConn:  # type: ignore[override]
        if self._pg is None:
            raise RuntimeError(f"{self.label} is not open")
        return self._pg

    def reason(self, exc: BaseException) -> str:
        """What went wrong, in one line, without the password."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        secret = password_of(self.target.url)
        for form in {secret, unquote(secret)} if secret else ():
            text = text.replace(form, "***")
        return text.replace(self.target.url, self.target.shown)

    def lost(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"the {self.label} at {self.where} failed: {self.reason(exc)}",
            hint="check that PostgreSQL runs and can be reached, then run again; "
                 "nothing was half-written",
        )

    def locked(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"the {self.label} at {self.where} is locked by another process "
            f"(waited {self.busy_timeout_ms / 1000:g} s: {self.reason(exc)})",
            hint="wait for the other Sincro to finish, or stop it")

    def failed(self, exc: BaseException) -> StoreError:
        """A statement's OperationalError, named: a lock waited for too long, or the
        connection lost."""
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return self.locked(exc)
        return self.lost(exc)

    def fault(self, exc: BaseException) -> StoreError | None:
        if isinstance(exc, psycopg.OperationalError):
            return self.lost(exc)
        return None

    # -- schema --------------------------------------------------------
    async def _migrate_pg(self) -> None:
        conn = self.conn
        schema = self.target.schema
        # one process at a time creates or upgrades the schema
        await conn.execute("SELECT pg_advisory_lock(?)", (self.lock_key,))
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute("CREATE TABLE IF NOT EXISTS sincro_schema (version BIGINT NOT NULL)")
            current = await self.scalar("SELECT MAX(version) FROM sincro_schema") or 0
            target = self.schema_version
            if current > target:
                raise StoreError(
                    f"the {self.label} at {self.where} was written by a newer Sincro "
                    f"(schema {current}, this version knows {target})",
                    hint="upgrade Sincro, or point SINCRO_HUB at another database",
                )
            if current == target:
                return
            async with self.transaction() as tx:
                for migration in self.migrations[current:]:
                    if isinstance(migration, str):
                        for statement in split_sql(migration):
                            await tx.execute(to_postgres(statement, ddl=True), ())
                    elif isinstance(migration, Dialects):
                        await tx.script(migration.postgresql)
                    else:
                        await migration(tx)
                await tx.execute("DELETE FROM sincro_schema")
                await tx.execute("INSERT INTO sincro_schema (version) VALUES (?)", (target,))
        finally:
            with contextlib.suppress(psycopg.Error, StoreError):
                await conn.execute("SELECT pg_advisory_unlock(?)", (self.lock_key,))

    # -- queries -------------------------------------------------------
    @asynccontextmanager
    async def transaction(self, *, serial: bool = True) -> AsyncIterator[PgConn]:  # type: ignore[override]
        """A write transaction; with ``serial`` (the default) it waits for every other
        writer of this schema, as a SQLite write transaction does."""
        bound = _bound.get()
        hook = bound[1] if bound is not None and bound[0] is self else None
        async with self._lock:
            self._holder = asyncio.current_task()
            conn = await self._live(True)  # no transaction yet on it
            try:
                try:
                    # cancelled while BEGIN runs, the server may have begun: rolled back
                    await conn.execute("BEGIN")
                    if serial:
                        await conn.execute("SELECT pg_advisory_xact_lock(?)", (self.lock_key,))
                    mark = hook.tx_begin() if hook is not None else None
                except psycopg.errors.LockNotAvailable as exc:
                    await self._rollback(conn)
                    raise self.locked(exc) from None
                except BaseException:
                    await self._rollback(conn)
                    raise
                try:
                    yield conn
                    if hook is not None:
                        await hook.tx_write(conn)
                    await conn.execute("SELECT pg_notify(?, '')", (self.channel,))
                    await conn.execute("COMMIT")
                except BaseException as exc:
                    await self._rollback(conn)
                    if hook is not None:
                        hook.tx_end(mark, False)
                    if isinstance(exc, psycopg.errors.LockNotAvailable):
                        raise self.locked(exc) from None
                    if isinstance(exc, psycopg.Error) and not isinstance(exc, StoreError):
                        fault = self.fault(exc)
                        if fault is not None:
                            raise fault from None
                    raise
                if hook is not None:
                    hook.tx_end(mark, True)
            finally:
                self._holder = None

    async def _rollback(self, conn: PgConn) -> None:
        if self._pg is None:
            return
        with contextlib.suppress(psycopg.Error, StoreError, OSError):
            await asyncio.shield(conn.execute("ROLLBACK"))

    async def fetchall(self, sql: str, params: Sequence[Any] | dict = ()) -> list[Any]:
        async with self._reading():
            cur = await (await self._live(self._holder is None)).execute(sql, params)
            return await cur.fetchall()

    async def fetchone(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        async with self._reading():
            cur = await (await self._live(self._holder is None)).execute(sql, params)
            return await cur.fetchone()

    async def _live(self, may_reconnect: bool) -> PgConn:
        """The connection; a new one when the last was lost (PostgreSQL restarted, the
        network cut) and no transaction was open on it: a daemon goes on by itself once
        the database is back. Inside a transaction the loss is the transaction's error."""
        conn = self.conn
        if may_reconnect and (conn.raw.broken or conn.raw.closed):
            with contextlib.suppress(psycopg.Error, OSError):
                await conn.raw.close()
            self._pg = conn = await self._connect()
            self._listening = False  # LISTEN again at the next look
        return conn

    # -- other processes' commits ---------------------------------------
    def _notified(self, notify: psycopg.Notify) -> None:
        if self._pg is not None and notify.pid != self._pg.raw.info.backend_pid:
            self._others += 1

    async def data_version(self) -> int:
        """Grows when another connection commits to this schema (LISTEN/NOTIFY; a look
        costs one empty statement, which also takes in the notifications that came)."""
        async with self._reading():
            if not self._listening:
                await self.conn.execute(f'LISTEN "{self.channel}"')
                self._listening = True
            else:
                await self.conn.execute("SELECT 1")
        return self._others


async def schema_exists(target: PgTarget, *, label: str = "hub database") -> bool:
    """Whether Sincro has made ``target``'s schema: looked at without making it."""
    conn = await PgDatabase(target, [], label=label)._connect()
    try:
        row = await (await conn.execute("SELECT to_regclass(?) IS NOT NULL",
                                        (f'"{target.schema}".sincro_schema',))).fetchone()
        return bool(row[0])
    finally:
        await conn.close()


def glob_regex(pattern: str) -> str:
    """SQLite's GLOB as a PostgreSQL regular expression: ``*``, ``?``, ``[...]`` (``[^...]``
    negated), case-sensitive, matching the whole text."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("]", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end].replace("\\", "\\\\")
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    out.append("$")
    return "".join(out)
