"""Customers sync (C-1..C-3): changes on the shop reach the hub and the ERP."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from core.erp.embedded import EmbeddedErp
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.synctools import engine_for, shop_orders

ROME = ZoneInfo("Europe/Rome")


@pytest.fixture
async def emu():
    state = generate(60, seed=12)
    state.clock = lambda: datetime.now(ROME).replace(tzinfo=None)  # a shop in Rome
    async with EmulatorServer(state) as server:
        yield server


def _imported_customer(emu) -> tuple[int, int]:
    """A registered customer with an importable order and an e-mail of its own (one ERP
    customer stands for every shop customer with one e-mail), and that order's invoice
    address."""
    st = emu.state
    emails: dict[str, int] = {}
    for c in st.table("customers").values():
        key = st.value("customers", c, "email").strip().lower()
        emails[key] = emails.get(key, 0) + 1
    for oid, o in shop_orders(st).items():
        c = st.table("customers")[o["customer"]]
        if emails[st.value("customers", c, "email").strip().lower()] > 1:
            continue
        if o["state"] not in (6, 8) and st.value("customers", c, "is_guest") in ("0", 0, False):
            return o["customer"], int(st.table("orders")[oid]["id_address_invoice"])
    raise AssertionError("no registered customer in the data")


async def _erp_customer(home: Path, ref: str):
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        return await erp.find_customer(ref)
    finally:
        await erp.close()


async def _change(emu, cid: int, aid: int) -> None:
    async with httpx.AsyncClient(base_url=emu.url) as http:
        r = await http.patch(f"_emulator/customers/{cid}",
                             json={"firstname": "Àngela", "lastname": "D'Amico-Rossi",
                                   "email": "angela.new@example.com"})
        r.raise_for_status()
        r = await http.patch(f"_emulator/objects/addresses/{aid}",
                             json={"vat_number": "IT01234567890", "company": "Nuova Srl"})
        r.raise_for_status()


async def test_manual_customers_sync_updates_names_emails_vat_and_addresses(
        tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    cid, aid = _imported_customer(emu)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        before = await _erp_customer(home, f"shop1:c:{cid}")
        await _change(emu, cid, aid)
        summary = await engine.run_sync("shop1", "customers")
        again = await engine.run_sync("shop1", "customers")
    assert summary.outcome == "ok", summary.errors
    after = await _erp_customer(home, f"shop1:c:{cid}")
    assert before.code == after.code  # updated, not duplicated
    assert after.name == "Àngela D'Amico-Rossi"
    assert after.email == "angela.new@example.com"
    assert summary.counts["customers_updated"] >= 1
    assert again.counts.get("customers_updated", 0) == 0
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        dests = await erp.list_destinations(after.code)
    finally:
        await erp.close()
    assert any(d.company == "Nuova Srl" for d in dests)


async def test_scheduled_runs_refresh_only_customers_changed_on_the_shop(
        tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    cid, aid = _imported_customer(emu)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        first = await engine.run_sync("shop1", "scheduled")  # sets the customers cursor
        assert first.outcome in ("ok", "partial"), first.errors
        await _change(emu, cid, aid)
        second = await engine.run_sync("shop1", "scheduled")
    assert second.counts.get("customers_changed") == 1, second.counts
    after = await _erp_customer(home, f"shop1:c:{cid}")
    assert after.email == "angela.new@example.com"


async def test_customers_without_orders_are_never_imported(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    st = emu.state
    lonely = st.next_id("customers")
    st.add("customers", {"id": lonely, "email": "nobody@example.com", "firstname": "No",
                         "lastname": "Orders", "date_upd": st.now(), "date_add": st.now()})
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        await engine.run_sync("shop1", "customers")
        await engine.run_sync("shop1", "scheduled")
    assert await _erp_customer(home, f"shop1:c:{lonely}") is None
