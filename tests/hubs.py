"""What a test reads of the hub or the embedded ERP directly, on whichever hub it runs
(tests/conftest.py ``hub_kind``): the SQLite files of its home, or the ``hub`` and ``erp``
schemas of the database SINCRO_HUB names. SQL is written as for SQLite (``?``)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from core.store.sql import to_postgres


def on_postgres() -> bool:
    return bool(os.environ.get("SINCRO_HUB"))


def _query(path: Path, schema: str, sql: str, params: tuple | list = (),
           write: bool = False) -> list[tuple[Any, ...]]:
    url = os.environ.get("SINCRO_HUB")
    if url:
        import psycopg

        with psycopg.connect(url, autocommit=True,
                             options=f"-c search_path={schema}") as conn:
            cur = conn.execute(to_postgres(sql), tuple(params))  # type: ignore[arg-type]
            return [tuple(r) for r in cur.fetchall()] if cur.description else []
    con = sqlite3.connect(path)
    try:
        rows = con.execute(sql, tuple(params)).fetchall()
        if write:
            con.commit()
        return rows
    finally:
        con.close()


def hub_rows(home: Path, sql: str, params: tuple | list = ()) -> list[tuple[Any, ...]]:
    return _query(Path(home) / "hub.db", "hub", sql, params)


def hub_write(home: Path, sql: str, params: tuple | list = ()) -> None:
    _query(Path(home) / "hub.db", "hub", sql, params, write=True)


def erp_rows(home: Path, sql: str, params: tuple | list = ()) -> list[tuple[Any, ...]]:
    return _query(Path(home) / "erp.db", "erp", sql, params)


def erp_write(home: Path, sql: str, params: tuple | list = ()) -> None:
    _query(Path(home) / "erp.db", "erp", sql, params, write=True)


def erp_exists(home: Path) -> bool:
    """Whether the embedded ERP has been created (its file, or its schema)."""
    if not on_postgres():
        return (Path(home) / "erp.db").exists()
    return bool(_query(Path(home), "public",
                       "SELECT to_regclass('erp.sincro_schema') IS NOT NULL")[0][0])


def hub_exists(home: Path) -> bool:
    if not on_postgres():
        return (Path(home) / "hub.db").exists()
    return bool(_query(Path(home), "public",
                       "SELECT to_regclass('hub.sincro_schema') IS NOT NULL")[0][0])
