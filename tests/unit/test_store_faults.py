"""Storage faults named (core.store.faults), and a run's counts and lines written with
its transactions (RunRecorder bound to the hub's transactions)."""

from __future__ import annotations

import errno
import json
import sqlite3
from pathlib import Path

import pytest

from core import accounts as acc
from core.errors import DiskFull, StoreDamaged
from core.runs import RunRecorder, create_run, finish_run, mark_interrupted
from core.store import faults
from core.store.db import Database
from core.store.hub import open_hub


def sqlite_error(cls: type, message: str, code: int) -> sqlite3.Error:
    exc = cls(message)
    exc.sqlite_errorcode = code
    return exc


@pytest.mark.sqlite_only  # SQLite's error codes and the file's filesystem
def test_classify_names_a_full_disk_with_the_file_and_the_space_left(tmp_path: Path) -> None:
    hub = tmp_path / "hub.db"
    full = faults.classify(sqlite_error(sqlite3.OperationalError, "database or disk is full",
                                        13), hub, "hub database")
    assert isinstance(full, DiskFull) and full.exit_code == 2
    assert str(full).startswith(f"disk full: cannot write {hub} (")
    assert "free on its filesystem" in str(full)
    nospace = faults.classify(OSError(errno.ENOSPC, "No space left on device",
                                      str(tmp_path / "x")), hub)
    assert isinstance(nospace, DiskFull) and str(tmp_path / "x") in str(nospace)
    for code, text in ((26, "file is not a database"), (11, "database disk image is malformed")):
        bad = faults.classify(sqlite_error(sqlite3.DatabaseError, text, code), hub, "hub database")
        assert isinstance(bad, StoreDamaged)
        assert str(bad).startswith(f"the hub database {hub} is damaged ({text}); restore")
    assert faults.classify(sqlite_error(sqlite3.IntegrityError, "UNIQUE", 2067), hub) is None
    assert faults.classify(ValueError("x"), hub) is None
    wrapped = RuntimeError("outer")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert isinstance(faults.find(wrapped, hub), DiskFull)
    assert faults.human_bytes(0) == "0 bytes" and faults.human_bytes(3 << 20) == "3.0 MiB"


@pytest.mark.sqlite_only  # a SQLite file that cannot grow (PRAGMA max_page_count)
async def test_a_transaction_that_fills_the_file_is_named_and_leaves_nothing(
        tmp_path: Path) -> None:
    db = await Database(tmp_path / "t.db", ["CREATE TABLE t (v TEXT)"], label="hub").open()
    try:
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ('kept')")
        pages = await db.scalar("PRAGMA page_count")
        await db.conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # a full disk
        with pytest.raises(DiskFull) as caught:
            async with db.transaction() as conn:
                for i in range(200):
                    await conn.execute("INSERT INTO t VALUES (?)", (f"{i:04}" * 200,))
        assert str(tmp_path / "t.db") in str(caught.value)
        assert not db.conn.in_transaction
        assert await db.scalar("SELECT COUNT(*) FROM t") == 1  # nothing half-written
        await db.conn.execute("PRAGMA max_page_count = 1073741823")  # space returns
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES ('after')")
        assert await db.scalar("SELECT COUNT(*) FROM t") == 2
    finally:
        await db.close()


async def test_a_runs_counts_and_lines_go_in_with_its_transactions(tmp_path: Path) -> None:
    hub = await open_hub(tmp_path / "hub.db")
    try:
        await acc.add_account(hub, acc.build_account("shop1", "https://shop.example",
                                                     key="A" * 32, tz="UTC"))
        account = await acc.get_account(hub, "shop1")
        run_id = await create_run(hub, account.id, "orders", "cli", "me")
        rec = RunRecorder(hub, run_id, "shop1", lambda event: None)

        async def row() -> tuple[dict, int, float | None]:
            r = await hub.fetchone("SELECT counts, duration_s FROM runs WHERE id = ?", (run_id,))
            lines = await hub.scalar("SELECT COUNT(*) FROM run_logs WHERE run_id = ?", (run_id,))
            return json.loads(r[0]), lines, r[1]

        with rec.attached():
            rec.info("reading orders")
            async with hub.transaction() as conn:  # a page: counted inside, written with it
                await conn.execute("CREATE TABLE page (v TEXT)")
                rec.counts["orders_imported"] += 100
                rec.log("debug", "order 1 imported")
            counts, lines, took = await row()
            assert counts == {"orders_imported": 100} and lines == 2 and took is not None

            with pytest.raises(RuntimeError):  # a page that does not commit
                async with hub.transaction() as conn:
                    await conn.execute("INSERT INTO page VALUES (1)")
                    rec.counts["orders_imported"] += 100
                    rec.error("the shop went away")
                    raise RuntimeError("boom")
            assert rec.counts == {"orders_imported": 100, "errors": 1}
            assert (await row())[:2] == ({"orders_imported": 100}, 2)

        async with hub.transaction() as conn:  # not the run's: nothing of it written
            await conn.execute("INSERT INTO page VALUES (2)")
        assert (await row())[:2] == ({"orders_imported": 100}, 2)

        await rec.flush()  # the error line waits for the next transaction of the run
        counts, lines, _ = await row()
        assert counts == {"orders_imported": 100, "errors": 1} and lines == 3

        await mark_interrupted(hub, [run_id])  # as if its process had been killed
        r = await hub.fetchone("SELECT outcome, ended_at, started_at FROM runs WHERE id = ?",
                               (run_id,))
        assert r["outcome"] == "interrupted" and r["ended_at"] >= r["started_at"]
        last = await hub.scalar("SELECT message FROM run_logs WHERE run_id = ? ORDER BY id DESC",
                                (run_id,))
        assert last.startswith("run interrupted: its process ended before it finished")

        run2 = await create_run(hub, account.id, "orders", "cli", "me")
        rec2 = RunRecorder(hub, run2, "shop1", lambda event: None)
        rec2.counts["orders_imported"] = 5
        rec2.info("done")
        await finish_run(hub, rec2, "ok", 1.25)
        r = await hub.fetchone("SELECT outcome, counts, duration_s FROM runs WHERE id = ?",
                               (run2,))
        assert (r[0], json.loads(r[1]), r[2]) == ("ok", {"orders_imported": 5}, 1.25)
    finally:
        await hub.close()
