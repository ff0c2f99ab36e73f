"""Storage faults (issue 20, items 6-8): a full disk is named and nothing is lost or
doubled when space returns; a killed run keeps its counts and log; an emptied or
corrupted store is named, never taken for a new one; backup and restore."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from core import accounts as acc
from core.erp.embedded import EmbeddedErp
from core.erp.port import CustomerData, OrderDocumentData, OrderLineData
from core.locks import Lease, new_owner
from core.store.hub import open_hub
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import KEY, asincro, assert_clean_error, sincro
from tests.hubs import hub_rows, hub_write, on_postgres
from tests.synctools import OPTIONS, assert_erp_holds_each_importable_order_once


async def add_shop(home: Path, url: str, key: str, name: str = "shop1") -> None:
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    hub = await open_hub(home / "hub.db")
    try:
        await acc.add_account(hub, acc.build_account(name, url, key=key, tz="Europe/Rome",
                                                     options=OPTIONS))
    finally:
        await hub.close()


async def seeded_home(home: Path, documents: int = 3) -> None:
    """A hub with one account and an embedded ERP holding ``documents`` documents."""
    await add_shop(home, "https://shop.example", KEY)
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        await erp.add_article("A1", "Widget", "10.00", stock=100)
        customer = await erp.upsert_customer(CustomerData("shop1:c:7", "Rossi"))
        for n in range(1, documents + 1):
            line = OrderLineData("A1", "Widget", 1, D("10.00"), D("12.20"), D("22"))
            await erp.insert_order(OrderDocumentData(
                f"shop1:o:{n}", customer.code, date(2026, 11, 27), "EUR", (line,), D("10.00"),
                D("12.20"), shop_reference=f"REF{n}"))
    finally:
        await erp.close()


# -- acceptance 4: a full disk ----------------------------------------------------
def _mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root (CI runs as root)")
    if shutil.which("mount") is None:
        pytest.skip("no mount command to make a size-limited filesystem")
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                           str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not allowed here: {done.stderr.strip()}")


def _unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(path: Path, leave: int) -> None:
    """A filler file taking all the free space on path's filesystem but ``leave`` bytes."""
    size = shutil.disk_usage(path.parent).free - leave
    chunk = b"\0" * (1 << 20)
    with open(path, "wb") as f:
        while size > 0:
            size -= f.write(chunk[:min(size, len(chunk))])


@pytest.mark.sqlite_only  # a full filesystem under the SQLite files
async def test_a_full_disk_is_named_and_the_next_run_completes(tmp_path: Path) -> None:
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "16m")
    try:
        home = mnt / "home"
        state = generate(400, seed=11)
        async with EmulatorServer(state) as emu:
            await add_shop(home, emu.url, emu.key)
            filler = mnt / "filler"
            _fill(filler, leave=1 << 20)  # room for some pages of orders, not for 400

            full = await asincro(home, "sync", "shop1", "--orders")
            assert full.code == 2, full
            assert_clean_error(full, "disk full", str(home), "free on its filesystem")
            last = full.err.strip().splitlines()[-1]
            assert last.startswith("sincro: error: disk full: cannot write "), full.err
            assert str(home / "hub.db") in last or str(home / "erp.db") in last, last

            filler.unlink()  # space returns
            again = await asincro(home, "sync", "shop1", "--orders", "--quiet")
            assert again.code == 0, again
            await assert_erp_holds_each_importable_order_once(home, state)

        runs = hub_rows(home, "SELECT id, outcome, errors, counts FROM runs ORDER BY id")
        assert [r[1] for r in runs][-1] == "ok"
        first = runs[0]
        # recorded as failed with its reason when the hub could still take it; else the
        # next run found it unfinished and marked it interrupted, with what it had written
        assert first[1] in ("failed", "interrupted"), runs
        if first[1] == "failed":
            assert any("disk full" in e for e in json.loads(first[2])), first
        imported = sum(json.loads(r[3]).get("orders_imported", 0) for r in runs)
        assert imported == hub_rows(home, "SELECT COUNT(*) FROM orders")[0][0]
    finally:
        _unmount(mnt)


# -- killed runs keep their counts ------------------------------------------------
async def test_a_killed_run_keeps_its_counts_its_log_and_its_duration(tmp_path: Path) -> None:
    home = tmp_path / "home"
    state = generate(400, seed=9)
    async with EmulatorServer(state) as emu:
        state.faults.add(kind="latency", seconds=0.002)
        await add_shop(home, emu.url, emu.key)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SINCRO_") or k == "SINCRO_HUB"}
        env["SINCRO_HOME"] = str(home)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli", "sync", "shop1", "--orders", "--verbose",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, env=env)
        imported_lines = 0
        while imported_lines < 150:  # page 1 is committed, page 2 under way
            line = await proc.stdout.readline()
            assert line, "the run ended before it could be killed"
            if b" imported" in line and b"debug" in line:
                imported_lines += 1
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

        # as the killed process left it: the row says what it had committed
        in_hub = hub_rows(home, "SELECT COUNT(*) FROM orders")[0][0]
        assert in_hub > 0  # page 1 at least: page 2's lines are written in its transaction
        row = hub_rows(home, "SELECT outcome, counts, duration_s FROM runs WHERE id = 1")[0]
        assert row[0] is None  # nobody has looked yet
        assert json.loads(row[1])["orders_imported"] == in_hub
        assert row[2] > 0
        lines = hub_rows(home, "SELECT message FROM run_logs WHERE run_id = 1")
        assert sum(1 for (m,) in lines if m.endswith(" imported")) == in_hub

        final = await asincro(home, "sync", "shop1", "--orders", "--quiet")
        assert final.code == 0, final
        await assert_erp_holds_each_importable_order_once(home, state)

    listed = json.loads(sincro(home, "runs", "--json").out)
    killed = next(r for r in listed if r["id"] == 1)
    assert killed["outcome"] == "interrupted"
    assert killed["counts"]["orders_imported"] == in_hub
    assert killed["duration_s"] == pytest.approx(row[2])
    assert killed["ended_at"] >= killed["started_at"]
    log = sincro(home, "logs", "1").out
    assert "run interrupted: its process ended before it finished" in log
    assert "reading orders after id 0" in log
    assert sum(r["counts"].get("orders_imported", 0) for r in listed) == \
        hub_rows(home, "SELECT COUNT(*) FROM orders")[0][0]


# -- an emptied or corrupted store ------------------------------------------------
async def test_a_zero_byte_hub_beside_an_erp_with_documents_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    await seeded_home(home, documents=3)
    if on_postgres():  # no file to empty: the hub's schema emptied, the ERP's kept
        hub_write(home, "DROP SCHEMA hub CASCADE")
        for args in (("account", "list"), ("sync", "shop1", "--orders"), ("runs",)):
            res = sincro(home, *args)
            assert res.code == 2, (args, res)
            assert_clean_error(res, "the hub database at postgresql://", "has no account",
                               "(schema erp) holds 3 documents", "not used as new", "pg_dump")
            assert "no accounts yet" not in res.out
        assert hub_rows(home, "SELECT COUNT(*) FROM accounts") == [(0,)]  # nothing added
        return
    (home / "hub.db").write_bytes(b"")
    for args in (("account", "list"), ("sync", "shop1", "--orders"), ("runs",)):
        res = sincro(home, *args)
        assert res.code == 2, (args, res)
        assert_clean_error(res, str(home / "hub.db"), "empty (0 bytes)", str(home / "erp.db"),
                           "3 documents", "sincro restore PATH")
        assert "no accounts yet" not in res.out
    assert (home / "hub.db").stat().st_size == 0  # left as found

    # a hub without any account, put in its place, is not taken for a new one either
    (home / "hub.db").unlink()
    fresh = tmp_path / "other"
    fresh.mkdir()
    db = await open_hub(fresh / "hub.db")
    await db.close()
    shutil.copy(fresh / "hub.db", home / "hub.db")
    res = sincro(home, "account", "list")
    assert res.code == 2, res
    assert_clean_error(res, "without any account", "3 documents", "sincro restore PATH")


async def test_removing_the_last_account_is_not_taken_for_a_lost_hub(tmp_path: Path) -> None:
    home = tmp_path / "home"
    await seeded_home(home)
    assert sincro(home, "account", "remove", "shop1", "--yes").code == 0
    res = sincro(home, "account", "list")
    assert res.code == 0, res


def _garble(path: Path, offset: int, length: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes((i * 37 + 11) % 256 for i in range(length)))


@pytest.mark.sqlite_only  # the bytes of the SQLite files
async def test_garbage_pages_in_the_hub_or_the_erp_are_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    await seeded_home(home, documents=40)
    for i in range(30):  # some pages of rows in the hub
        hub = await open_hub(home / "hub.db")
        try:
            await acc.add_account(hub, acc.build_account(f"s{i}", "https://x.example",
                                                         key=KEY, tz="UTC"))
        finally:
            await hub.close()
    clean_hub = (home / "hub.db").read_bytes()
    clean_erp = (home / "erp.db").read_bytes()
    assert len(clean_hub) > 4 * 4096

    _garble(home / "hub.db", 2 * 4096, 2 * 4096)  # pages 3 and 4
    res = sincro(home, "account", "list")
    assert res.code == 2, res
    assert_clean_error(res, f"the hub database {home / 'hub.db'} is damaged",
                       "sincro restore PATH")
    assert "internal error" not in res.err

    _garble(home / "hub.db", 0, 100)  # the header: not a database at all
    res = sincro(home, "runs")
    assert res.code == 2, res
    assert_clean_error(res, "is damaged (file is not a database)", "sincro restore PATH")

    (home / "hub.db").write_bytes(clean_hub)
    _garble(home / "erp.db", 3 * 4096, 4096)
    res = sincro(home, "erp", "documents")
    assert res.code == 2, res
    assert_clean_error(res, f"the embedded ERP {home / 'erp.db'} is damaged",
                       "sincro restore PATH")
    (home / "erp.db").write_bytes(clean_erp)
    assert sincro(home, "erp", "documents").code == 0


# -- backup and restore -----------------------------------------------------------
def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.sqlite_only  # copies of the SQLite files (refused on PostgreSQL: below)
async def test_backup_and_restore_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "home"
    await seeded_home(home, documents=5)
    target = tmp_path / "backup-1"
    made = sincro(home, "backup", "--to", str(target))
    assert made.code == 0, made
    assert f"sincro restore {target}" in made.out
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["files"]["hub.db"]["accounts"] == 1
    assert manifest["files"]["erp.db"]["documents"] == 5
    for name in ("hub.db", "erp.db", "manifest.json"):
        assert _mode(target / name) == 0o600, name
    assert not list(tmp_path.glob(".backup-1.partial-*"))
    assert sincro(home, "backup", "--to", str(target)).code == 2  # never over a backup

    # after the backup: one more account, one more document, then the hub is garbled
    await add_shop(home, "https://later.example", KEY, name="later")
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        line = OrderLineData("A1", "Widget", 1, D("10.00"), D("12.20"), D("22"))
        customer = await erp.upsert_customer(CustomerData("later:c:1", "Bianchi"))
        await erp.insert_order(OrderDocumentData("later:o:1", customer.code, date(2026, 11, 28),
                                                 "EUR", (line,), D("10.00"), D("12.20")))
    finally:
        await erp.close()
    _garble(home / "hub.db", 0, 100)
    assert sincro(home, "account", "list").code == 2

    refused = sincro(home, "restore", str(target))  # no tty, no --yes
    assert refused.code == 2
    assert_clean_error(refused, "without confirmation", "--yes")

    done = sincro(home, "restore", str(target), "--yes")
    assert done.code == 0, done
    listed = sincro(home, "account", "list", "--json")
    assert listed.code == 0, listed
    assert [a["name"] for a in json.loads(listed.out)] == ["shop1"]
    docs = sincro(home, "erp", "documents", "--json")
    assert docs.code == 0, docs
    assert len(json.loads(docs.out)) == 5
    for name in ("hub.db", "erp.db"):
        assert _mode(home / name) == 0o600, name
    replaced = list(home.glob("replaced-*"))
    assert len(replaced) == 1 and (replaced[0] / "hub.db").exists() \
        and (replaced[0] / "erp.db").exists()
    assert not list(home.glob(".restore-*"))

    # a backup whose file no longer matches its manifest is refused, the home untouched
    _garble(target / "erp.db", 4096, 64)
    before = (home / "hub.db").read_bytes()
    bad = sincro(home, "restore", str(target), "--yes")
    assert bad.code == 2, bad
    assert_clean_error(bad, "does not match its checksum")
    assert (home / "hub.db").read_bytes() == before


@pytest.mark.sqlite_only  # a restore of the SQLite files (refused on PostgreSQL: below)
async def test_restore_is_refused_while_a_run_or_a_daemon_holds_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    await seeded_home(home)
    target = tmp_path / "b"
    assert sincro(home, "backup", "--to", str(target)).code == 0
    await add_shop(home, "https://later.example", KEY, name="later")

    hub = await open_hub(home / "hub.db")
    try:
        account = await acc.get_account(hub, "shop1")
        lease = Lease(hub, account.id, "shop1", new_owner())
        await lease.acquire("orders sync (cli)")
        busy = await asincro(home, "restore", str(target), "--yes")
        assert busy.code == 1, busy
        assert_clean_error(busy, "not restoring: account shop1 is busy: orders sync (cli)",
                           f"process {os.getpid()}")
        await lease.release()

        async with hub.transaction() as conn:  # a daemon schedules this home
            await conn.execute(
                "INSERT INTO scheduler_lease (id, owner, role, pid, host, acquired_at, "
                "expires_at) VALUES (1, 'x', 'daemon', ?, ?, '2026-01-01T00:00:00+00:00', "
                "'2999-01-01T00:00:00+00:00')", (os.getpid(), __import__("socket").gethostname()))
        busy = await asincro(home, "restore", str(target), "--yes")
        assert busy.code == 1, busy
        assert_clean_error(busy, "not restoring: a Sincro daemon")
        names = {a.name for a in await acc.list_accounts(hub)}
        assert names == {"shop1", "later"}  # nothing restored
        async with hub.transaction() as conn:
            await conn.execute("DELETE FROM scheduler_lease")
    finally:
        await hub.close()
    done = sincro(home, "restore", str(target), "--yes")
    assert done.code == 0, done
    assert json.loads(sincro(home, "account", "list", "--json").out)[0]["name"] == "shop1"


@pytest.mark.postgresql_only  # (the SQLite files: the tests above)
async def test_backup_and_restore_refuse_a_postgresql_hub(tmp_path: Path) -> None:
    home = tmp_path / "home"
    await seeded_home(home)
    target = tmp_path / "backup"
    for args in (("backup", "--to", str(target)), ("restore", str(target), "--yes")):
        res = sincro(home, *args)
        assert res.code == 2, (args, res)
        assert_clean_error(res, f"sincro {args[0]} copies the SQLite files",
                           "this hub is in PostgreSQL (SINCRO_HUB)", "pg_dump")
        assert len(res.err.strip().splitlines()) == 1, res.err
        assert "postgresql://" not in res.err  # the URL (and its password) is not shown
    assert not target.exists()
    assert hub_rows(home, "SELECT name FROM accounts") == [("shop1",)]
