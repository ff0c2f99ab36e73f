"""`sincro sync ... --dry-run` writes nothing on the shop, the hub or the ERP (issue 9)."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from core.erp.embedded import EmbeddedErp
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro
from tests.hubs import erp_exists, erp_rows, hub_rows, hub_write, on_postgres


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(40, seed=3)) as server:
        yield server


def _tables(home: Path) -> list[tuple[str, Callable[..., list], str]]:
    """Each table of the hub and of the ERP: (where, how to read it, its name)."""
    if on_postgres():
        return [(schema, read, t) for schema, read in (("hub", hub_rows), ("erp", erp_rows))
                for (t,) in hub_rows(home, "SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = ? ORDER BY 1", (schema,))]
    return [(name, read, t) for name, read in (("hub.db", hub_rows), ("erp.db", erp_rows))
            for (t,) in read(home, "SELECT name FROM sqlite_master WHERE type = 'table'")]


def files(home: Path) -> dict[str, tuple[str, int]]:
    """Every file of the home (hub and ERP, with any -wal/-shm) by content hash and mtime;
    on the PostgreSQL hub, each table of the hub and ERP schemas by a hash of its rows."""
    out = {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
           for p in sorted(home.iterdir()) if p.is_file()}
    if on_postgres():
        for where, read, t in _tables(home):
            content = sorted(repr(r) for r in read(home, f'SELECT * FROM "{t}"'))
            out[f"{where}:{t}"] = (hashlib.sha256(repr(content).encode()).hexdigest(), 0)
    return out


async def rows(home: Path) -> dict[str, int]:
    return {f"{where}:{t}": read(home, f'SELECT COUNT(*) FROM "{t}"')[0][0]
            for where, read, t in _tables(home)}


@pytest.mark.parametrize("kind", ["--orders", "--scheduled"])
async def test_dry_run_writes_nowhere(tmp_path: Path, emu, kind: str) -> None:
    home = tmp_path / "home"
    assert (await asincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url, "--key",
                          emu.key)).code == 0
    first = await asincro(home, "sync", "shop1", "--orders", "-q")
    assert first.code == 0, first.err
    async with httpx.AsyncClient(base_url=emu.url) as http:
        # new work for the dry run: orders with new customers and a new article, an ERP
        # state change to send back, and an old run the engine's tidying would prune
        new = (await http.post("/_emulator/orders", json={"generate": 6, "seed": 4})).json()["ids"]
        for oid in new:
            emu.state.change_order_state(oid, 2)
        details = [d for d in emu.state.table("order_details").values()
                   if int(d["id_order"]) in new]
        coded = {(r[0], r[1]) for r in hub_rows(
            home, "SELECT product_id, attribute_id FROM articles")}
        pid = next((int(d["product_id"]) for d in details
                    if (int(d["product_id"]), 0) not in coded), None)
        if pid is None:  # every product of these orders is known as it is: a new one
            pid = 9000
            details[0]["product_id"] = str(pid)
        for d in details:
            if int(d["product_id"]) == pid:  # a product without a reference: auto-coded
                d["product_reference"] = ""
                d["product_attribute_id"] = "0"
        erp = await EmbeddedErp.open(home / "erp.db")
        try:
            number = (await erp.list_documents())[0].number
            await erp.set_state(number, "cancelled")
        finally:
            await erp.close()
        hub_write(home, "INSERT INTO runs (account_id, kind, trigger, owner, started_at, "
                        "ended_at, outcome) VALUES (1, 'orders', 'cli', 'x', "
                        "'2001-01-01T00:00:00+00:00', '2001-01-01T00:01:00+00:00', 'ok')")
        await http.post("/_emulator/requests/reset")
    before_files, before_rows = files(home), await rows(home)

    r = await asincro(home, "sync", "shop1", kind, "--dry-run")
    assert r.code == 0, r.out + r.err

    async with httpx.AsyncClient(base_url=emu.url) as http:
        counts = (await http.get("/_emulator/requests")).json()
    assert counts["writes"] == 0 and set(counts["by_method"]) <= {"GET", "HEAD"}, counts
    assert counts["total"] > 0
    assert files(home) == before_files
    assert await rows(home) == before_rows
    # what would happen is shown
    assert "would import order" in r.out
    assert "would create customer" in r.out or "would link customer" in r.out
    assert "would code article PS" in r.out and "auto-coded" in r.out
    assert "dry run" in r.out
    if kind == "--scheduled":
        assert "would set order" in r.out
    # and the real run then does it all
    real = await asincro(home, "sync", "shop1", kind, "--json")
    assert real.code == 0, real.err
    assert files(home) != before_files


async def test_reconcile_without_fix_writes_nowhere(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    assert (await asincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url, "--key",
                          emu.key)).code == 0
    assert (await asincro(home, "sync", "shop1", "--orders", "-q")).code == 0
    emu.state.table("orders")[2]["total_paid_tax_incl"] = "1.00"
    async with httpx.AsyncClient(base_url=emu.url) as http:
        await http.post("/_emulator/requests/reset")
    before = files(home)
    r = await asincro(home, "reconcile", "shop1")
    assert r.code in (0, 1), r.err
    async with httpx.AsyncClient(base_url=emu.url) as http:
        counts = (await http.get("/_emulator/requests")).json()
    assert counts["writes"] == 0 and counts["total"] > 0
    assert files(home) == before


async def test_a_home_whose_erp_was_never_used_gets_no_erp_file(tmp_path: Path, emu) -> None:
    """A dry run and a reconcile before the first real sync: the embedded ERP is not created
    for them (an empty scratch one stands in), and the output says what a sync would do."""
    home = tmp_path / "home"
    assert (await asincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url, "--key",
                          emu.key)).code == 0
    before = files(home)
    assert "erp.db" not in before and not erp_exists(home)
    scratch = set(Path(tempfile.gettempdir()).glob("sincro-dry-erp-*"))
    dry = await asincro(home, "sync", "shop1", "--orders", "--dry-run")
    assert dry.code == 0, dry.out + dry.err
    assert "would import order" in dry.out and "would create customer" in dry.out
    rec = await asincro(home, "reconcile", "shop1", "--json")
    assert rec.code == 1, rec.err  # every importable order is missing from the ERP
    assert files(home) == before
    assert set(Path(tempfile.gettempdir()).glob("sincro-dry-erp-*")) == scratch  # removed
