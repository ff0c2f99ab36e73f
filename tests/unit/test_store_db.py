"""The hub's Database: a write transaction cancelled at any await leaves none open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.store.location import HUB_SCHEMA, store, target

SCHEMA = ["CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"]


async def test_a_transaction_cancelled_while_it_begins_leaves_none_open(tmp_path: Path) -> None:
    # the file, or the hub schema of SINCRO_HUB's database (tests/conftest.py)
    db = await store(target(tmp_path / "hub.db", HUB_SCHEMA), SCHEMA, label="hub").open()
    try:
        async def write(v: str) -> None:
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t (v) VALUES (?)", (v,))

        for i in range(20):
            writer = asyncio.create_task(write(f"cancelled {i}"))
            await asyncio.sleep(0)  # the writer holds the lock and waits for BEGIN IMMEDIATE
            writer.cancel()
            with pytest.raises(asyncio.CancelledError):
                await writer
            assert not db.conn.in_transaction
            await write(f"kept {i}")
        assert await db.scalar("SELECT COUNT(*) FROM t WHERE v LIKE 'kept%'") == 20
        assert await db.scalar("SELECT COUNT(*) FROM t WHERE v LIKE 'cancelled%'") == 0
    finally:
        await db.close()
