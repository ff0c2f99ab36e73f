"""Resync of one order or customer, cursors shown and moved, the review list (issue 9)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.resync import resync_customers, resync_orders
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro, assert_clean_error
from tests.hubs import erp_rows, hub_rows
from tests.synctools import engine_for, shop_orders


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(60, seed=5)) as server:
        yield server


async def snapshot(home: Path) -> tuple:
    """What a resync may change: hub orders and customers, ERP documents, lines, customers."""
    out = []
    for rows, queries in ((hub_rows, ("SELECT shop_id, state, data FROM orders ORDER BY 1",
                                      "SELECT shop_id, data FROM customers ORDER BY 1",
                                      "SELECT COUNT(*) FROM outbox WHERE done_at IS NULL")),
                          (erp_rows, ("SELECT * FROM documents ORDER BY id",
                                      "SELECT * FROM document_lines ORDER BY 1, 2",
                                      "SELECT * FROM customers ORDER BY id",
                                      "SELECT code, stock FROM articles ORDER BY code"))):
        for q in queries:
            out.append(rows(home, q))
    return tuple(out)


async def resync(engine, body):
    return (await engine.run_operation("shop1", "resync", body, trigger="cli")).result()


def pick(emu, state: int = 2) -> int:
    return next(oid for oid, o in sorted(shop_orders(emu.state).items()) if o["state"] == state)


async def test_resync_order_changed_on_the_shop_once(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    oid = pick(emu)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        async with httpx.AsyncClient(base_url=emu.url) as http:
            o = emu.state.table("orders")[oid]
            excl = Decimal(emu.state.value("orders", o, "total_paid_tax_excl")) + Decimal("8.20")
            incl = Decimal(emu.state.value("orders", o, "total_paid_tax_incl")) + Decimal("10.00")
            ship = {f: str(Decimal(emu.state.value("orders", o, f)) + Decimal(d)) for f, d in (
                ("total_shipping_tax_excl", "8.20"), ("total_shipping_tax_incl", "10.00"),
                ("total_shipping", "10.00"))}
            await http.patch(f"/_emulator/orders/{oid}", json={
                "total_paid_tax_incl": str(incl), "total_paid_tax_excl": str(excl),
                "total_paid": str(incl), "carrier_tax_rate": "22.000", **ship})
            await http.post("/_emulator/requests/reset")
        first = await resync(engine, lambda c: resync_orders(c, [oid]))
        assert list(first.changed) == [oid] and not first.unresolved
        assert any("hub:" in w and "total_tax_incl" in w for w in first.changed[oid])
        assert any("ERP: document" in w and "updated" in w for w in first.changed[oid])
        before = await snapshot(home)
        again = await resync(engine, lambda c: resync_orders(c, [oid]))
        assert again.changed == {} and again.unchanged == [oid]
        assert await snapshot(home) == before
        erp = await engine.erp()
        doc = await erp.find_document(f"shop1:o:{oid}")
        assert (doc.total_tax_incl, doc.total_tax_excl) == (incl, excl)
        hub = json.loads(await engine.hub.scalar(
            "SELECT data FROM orders WHERE shop_id = ?", (oid,)))
        assert Decimal(hub["total_tax_incl"]) == incl
    async with httpx.AsyncClient(base_url=emu.url) as http:
        counts = (await http.get("/_emulator/requests")).json()
    assert counts["writes"] == 0  # a resync only reads the shop


async def test_resync_reports_what_the_erp_does_not_allow(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    oid = pick(emu)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        erp = await engine.erp()
        number = (await erp.find_document(f"shop1:o:{oid}")).number
        await erp.set_state(number, "invoiced")
        emu.state.table("orders")[oid]["total_paid_tax_incl"] = "77.00"
    r = await asincro(home, "resync", "shop1", "--order", str(oid))
    assert r.code == 1
    assert f"document {number} is invoiced" in r.out and "77.00" in r.out


async def test_resync_imports_an_order_the_hub_lacks(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        async with httpx.AsyncClient(base_url=emu.url) as http:
            new_id = (await http.post("/_emulator/orders", json={"generate": 1})).json()["ids"][0]
        emu.state.change_order_state(new_id, 2)
        result = await resync(engine, lambda c: resync_orders(c, [new_id]))
        assert "imported into the hub" in result.changed[new_id]
        assert (await (await engine.erp()).find_document(f"shop1:o:{new_id}")) is not None
        again = await resync(engine, lambda c: resync_orders(c, [new_id]))
        assert again.unchanged == [new_id]
        missing = await resync(engine, lambda c: resync_orders(c, [99999]))
        assert missing.not_found == [99999]


async def test_resync_customer(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    st = emu.state
    oid = next(i for i, o in sorted(shop_orders(st).items()) if o["state"] == 2 and st.value(
        "customers", st.table("customers")[o["customer"]], "is_guest") in ("0", 0))
    cid = shop_orders(st)[oid]["customer"]
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        async with httpx.AsyncClient(base_url=emu.url) as http:
            await http.patch(f"/_emulator/customers/{cid}", json={"firstname": "Zeno"})
        first = await resync(engine, lambda c: resync_customers(c, [cid]))
        assert cid in first.changed
        erp = await engine.erp()
        assert (await erp.find_customer(f"shop1:c:{cid}")).name.startswith("Zeno ")
        before = await snapshot(home)
        again = await resync(engine, lambda c: resync_customers(c, [cid]))
        assert again.unchanged == [cid]
        assert await snapshot(home) == before
    r = await asincro(home, "resync", "shop1", "--customer", "424242")
    assert_clean_error(r, "not in the hub")


async def test_cursor_show_set_and_replay(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    assert (await asincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url,
                          "--key", emu.key)).code == 0
    assert (await asincro(home, "sync", "shop1", "--orders", "-q")).code == 0
    shown = json.loads((await asincro(home, "cursor", "show", "shop1", "--json")).out)
    assert shown["orders"]["value"] == str(max(emu.state.table("orders")))
    assert shown["states"]["value"] is None
    assert_clean_error(await asincro(home, "cursor", "set", "shop1", "orders", "10"),
                       "needs a confirmation", "--yes")
    assert_clean_error(await asincro(home, "cursor", "set", "shop1", "orders", "abc", "--yes"),
                       "shop order id")
    assert_clean_error(await asincro(home, "cursor", "set", "shop1", "customers", "soon",
                                     "--yes"), "date and time")
    r = await asincro(home, "cursor", "set", "shop1", "orders", "10", "--yes")
    assert r.code == 0 and "orders cursor of shop1: 10" in r.out
    text = await asincro(home, "cursor", "show", "shop1")
    assert "orders" in text.out and " 10 " in text.out
    replay = json.loads((await asincro(home, "sync", "shop1", "--orders", "--json")).out)
    assert replay["outcome"] == "ok"
    assert replay["counts"].get("documents_inserted", 0) == 0  # replayed, nothing doubled
    shown = json.loads((await asincro(home, "cursor", "show", "shop1", "--json")).out)
    assert shown["orders"]["value"] == str(max(emu.state.table("orders")))


async def test_review_lists_auto_coded_articles_and_merged_guests(tmp_path: Path, emu) -> None:
    st = emu.state
    pid = sorted(st.table("products"))[0]
    for d in st.table("order_details").values():
        if int(d["product_id"]) == pid:
            d["product_reference"] = ""
    home = tmp_path / "home"
    assert (await asincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url,
                          "--key", emu.key)).code == 0
    assert (await asincro(home, "sync", "shop1", "--orders", "-q")).code == 0
    r = await asincro(home, "review", "shop1", "--json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["articles"] and all(a["code"].startswith(f"PS{pid}-") for a in data["articles"])
    assert data["merged_guests"]
    for m in data["merged_guests"]:  # one ERP customer per e-mail, guests and accounts
        assert len(m["customer_ids"]) > 1 and m["email"]
        assert m["erp_ref"] == f"shop1:e:{m['email']}" or m["erp_ref"] in {
            f"shop1:c:{i}" for i in m["customer_ids"]}
    later = json.loads((await asincro(home, "review", "shop1", "--since", "2999-01-01",
                                      "--json")).out)
    assert later["articles"] == [] and later["merged_guests"] == []
    text = await asincro(home, "review", "shop1")
    assert "auto-coded articles: " in text.out and "merged guest customers: " in text.out


async def test_embedded_update_document_moves_stock_and_refuses_final_documents(
        tmp_path: Path) -> None:
    from datetime import date

    from core.erp.embedded import EmbeddedErp
    from core.erp.port import CustomerData, ErpError, OrderDocumentData, OrderLineData

    erp = await EmbeddedErp.open(tmp_path / "erp.db")
    try:
        await erp.add_article("A1", "Widget", "10.00", stock=100)
        await erp.add_article("B2", "Gadget", "20.00", stock=50)
        code = (await erp.upsert_customer(CustomerData("s:c:1", "Mario Rossi"))).code

        def doc(ref: str, *lines: tuple[str, int]) -> OrderDocumentData:
            ls = tuple(OrderLineData(c, c, q, Decimal("10"), Decimal("12.2"), Decimal("22"))
                       for c, q in lines)
            total = sum((Decimal("12.2") * q for _, q in lines), Decimal(0))
            return OrderDocumentData(ref, code, date(2026, 3, 1), "EUR", ls, total / 2, total)

        await erp.insert_orders([doc("s:o:1", ("A1", 3)), doc("s:o:2", ("A1", 1))])
        updated = await erp.update_document(doc("s:o:1", ("A1", 1), ("B2", 2)))
        assert updated.total_tax_incl == Decimal("36.6") and updated.state == "open"
        stock = {a.code: a.stock for a in await erp.list_articles()}
        assert stock == {"A1": 98, "B2": 48}  # 100 - 1 - 1, 50 - 2
        found = await erp.find_documents(["s:o:1", "s:o:2", "s:o:3"])
        assert set(found) == {"s:o:1", "s:o:2"} and len(found["s:o:1"].lines) == 2
        await erp.set_state(updated.number, "shipped")
        with pytest.raises(ErpError, match="is shipped and cannot be changed"):
            await erp.update_document(doc("s:o:1", ("A1", 5)))
        with pytest.raises(ErpError, match="no document"):
            await erp.update_document(doc("s:o:9", ("A1", 5)))
        assert {a.code: a.stock for a in await erp.list_articles()} == stock
    finally:
        await erp.close()
