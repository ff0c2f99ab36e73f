"""The hub store: Sincro's own memory (hub.db).

A hub that is missing, empty (0 bytes) or has never had an account while the embedded
ERP beside it (erp.db in the same home) holds documents was lost, truncated or
replaced: it is named as such and not taken for a new hub, so that nothing is
imported a second time into an ERP that already has it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from core.errors import StoreDamaged
from core.home import ERP_FILE
from core.store.db import Database
from core.store.faults import RESTORE_HINT
from core.store.location import ERP_SCHEMA, HUB_SCHEMA, store, target
from core.store.migrations import HUB_MIGRATIONS

LABEL = "hub database"


async def open_hub(path: Path) -> Database:
    """The hub: the SQLite file ``path``, or the ``hub`` schema of SINCRO_HUB's database."""
    place = target(path, HUB_SCHEMA)
    if not isinstance(place, Path):
        return await _open_pg_hub(store(place, HUB_MIGRATIONS, label=LABEL))
    path = Path(path)
    try:
        size: int | None = path.stat().st_size
    except FileNotFoundError:
        size = None
    if not size:
        await _refuse_if_erp_has_documents(path, "missing" if size is None else
                                           "empty (0 bytes)")
    db = await store(path, HUB_MIGRATIONS, label=LABEL).open()
    try:
        if not await db.scalar(
                "SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM settings "
                "WHERE name = 'hub_had_accounts')"):
            await _refuse_if_erp_has_documents(path, "without any account")
    except BaseException:
        await db.close()
        raise
    return db


async def _open_pg_hub(db: Database) -> Database:
    """As for the file: a hub schema without any account beside an ERP schema holding
    documents was emptied, not new."""
    await db.open()
    try:
        if not await db.scalar(
                "SELECT EXISTS (SELECT 1 FROM accounts) OR EXISTS (SELECT 1 FROM settings "
                "WHERE name = 'hub_had_accounts')") and await db.scalar(
                f"SELECT to_regclass('{ERP_SCHEMA}.documents') IS NOT NULL"):
            documents = await db.scalar(f"SELECT COUNT(*) FROM {ERP_SCHEMA}.documents")
            if documents:
                raise StoreDamaged(
                    f"the {LABEL} at {db.where} has no account while the embedded ERP "
                    f"(schema {ERP_SCHEMA}) holds {documents} document"
                    f"{'s' if documents != 1 else ''}: it was emptied, not new, and is not "
                    "used as new (orders would be imported again)",
                    hint="restore the database from its last backup (pg_dump)")
    except BaseException:
        await db.close()
        raise
    return db


async def _refuse_if_erp_has_documents(path: Path, state: str) -> None:
    erp = path.parent / ERP_FILE
    documents = await asyncio.to_thread(erp_documents, erp)
    if documents:
        raise StoreDamaged(
            f"the {LABEL} {path} is {state} while the embedded ERP {erp} holds "
            f"{documents} document{'s' if documents != 1 else ''}: it was lost or emptied, "
            "not new, and is not used as new (orders would be imported again)",
            hint=RESTORE_HINT)


def erp_documents(erp: Path) -> int:
    """How many documents the embedded ERP file holds (0 when it is missing or unreadable:
    opening it names what is wrong with it)."""
    try:
        if not erp.exists() or erp.stat().st_size == 0:
            return 0
        con = sqlite3.connect(f"{erp.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
    except (OSError, sqlite3.Error):
        return 0
    try:
        return int(con.execute("SELECT COUNT(*) FROM documents").fetchone()[0])
    except sqlite3.Error:
        return 0
    finally:
        con.close()
