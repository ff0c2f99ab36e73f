"""Orders sync end to end (issue 4): emulator over loopback -> hub -> embedded ERP."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core.erp.embedded import EmbeddedErp
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.hubs import hub_rows
from tests.synctools import (
    assert_erp_holds_each_importable_order_once,
    engine_for,
    erp_documents,
    shop_orders,
)


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(180, seed=5)) as server:
        yield server


async def test_every_importable_order_reaches_the_erp_once(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    async with engine_for(home, emu) as engine:
        first = await engine.run_sync("shop1", "orders")
        again = await engine.run_sync("shop1", "orders")
    assert first.outcome == "ok", first.errors
    orders = shop_orders(emu.state)
    importable = [o for o in orders.values() if o["state"] not in (6, 8)]
    assert first.counts["orders_imported"] == len(importable)
    assert first.counts["documents_inserted"] == len(importable)
    assert again.outcome == "ok"
    assert again.counts.get("orders_imported", 0) == 0
    assert again.counts.get("documents_inserted", 0) == 0
    await assert_erp_holds_each_importable_order_once(home, emu.state)


async def test_returning_customers_and_guests_are_not_duplicated(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
    st = emu.state
    customers = st.table("customers")
    orders = shop_orders(st)
    # one ERP customer per e-mail (issue 15), guest or registered, whichever came first
    groups: dict[str, set[int]] = {}
    for o in orders.values():
        if o["state"] in (6, 8):
            continue
        c = customers[o["customer"]]
        groups.setdefault(st.value("customers", c, "email").strip().lower(), set()).add(c["id"])
    # the generator makes returning customers, and guests sharing an e-mail with others
    assert len(groups) < sum(1 for o in orders.values() if o["state"] not in (6, 8))
    assert any(len(ids) > 1 for ids in groups.values())
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        erp_customers = await erp.list_customers()
    finally:
        await erp.close()
    assert len(erp_customers) == len(groups)
    assert max(Counter(c.external_ref for c in erp_customers).values()) == 1
    by_email = {c.email.lower(): c.external_ref for c in erp_customers}
    for email, ids in groups.items():
        ref = by_email[email]
        assert ref == f"shop1:e:{email}" or ref in {f"shop1:c:{i}" for i in ids}, (email, ref)


async def test_articles_are_coded_by_the_rule(tmp_path: Path, emu) -> None:
    st = emu.state
    # one product without a reference, two products sharing one
    products = st.table("products")
    pids = sorted(products)
    st.table("products")[pids[0]]["reference"] = ""
    for comb in st.table("combinations").values():
        if int(comb["id_product"]) == pids[0]:
            comb["reference"] = ""
    for d in st.table("order_details").values():
        if int(d["product_id"]) == pids[0]:
            d["product_reference"] = ""
        if int(d["product_id"]) == pids[1]:
            d["product_reference"] = "SHARED-REF"
        if int(d["product_id"]) == pids[2]:
            d["product_reference"] = "SHARED-REF"
    home = tmp_path / "home"
    async with engine_for(home, emu) as engine:
        summary = await engine.run_sync("shop1", "orders")
    assert summary.outcome == "ok", summary.errors
    rows = hub_rows(home, "SELECT product_id, attribute_id, code, auto_coded FROM articles")
    by_product = {}
    for p, a, code, auto in rows:
        by_product.setdefault(p, []).append((a, code, auto))
    for a, code, auto in by_product.get(pids[0], []):
        assert code == f"PS{pids[0]}-{a}" and auto == 1
    shared = [(p, code) for p in (pids[1], pids[2]) for _, code, _ in by_product.get(p, [])]
    codes = [c for _, c in shared]
    assert codes.count("SHARED-REF") == 1, shared  # the first holder keeps the reference
    assert all(c == "SHARED-REF" or c.startswith("PS") for c in codes)
    assert len(set(codes)) == len(codes)  # no pile-ups, no clashes
    assert not any(c.endswith(("_1", "_2")) for c in codes)
    await assert_erp_holds_each_importable_order_once(home, emu.state)


async def test_an_order_that_becomes_importable_is_picked_up(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    orders = shop_orders(emu.state)
    waiting = next(oid for oid, o in orders.items() if o["state"] == 8)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        emu.state.change_order_state(waiting, 2)
        summary = await engine.run_sync("shop1", "orders")
    assert summary.counts["orders_imported"] == 1
    docs = await EmbeddedErp.open(home / "erp.db")
    try:
        assert await docs.find_document(f"shop1:o:{waiting}") is not None
    finally:
        await docs.close()


async def test_shipping_and_discounts_become_lines_with_exact_amounts(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
    st = emu.state
    docs = await erp_documents(home)
    with_discount = with_shipping = 0
    for d in docs:
        o = st.table("orders")[int(d.external_ref.rsplit(":", 1)[1])]
        kinds = Counter(line.kind for line in d.lines)
        from decimal import Decimal

        if Decimal(st.value("orders", o, "total_shipping_tax_incl")):
            with_shipping += 1
            ship = [line for line in d.lines if line.kind == "shipping"]
            assert ship and ship[0].unit_price_tax_incl == Decimal(
                st.value("orders", o, "total_shipping_tax_incl"))
        if Decimal(st.value("orders", o, "total_discounts_tax_incl")):
            with_discount += 1
            # one discount line per VAT rate of the goods (issue 14), adding up to the shop's
            discounts = [line for line in d.lines if line.kind == "discount"]
            goods_rates = {line.vat_rate for line in d.lines if line.kind == "article"}
            assert 1 <= kinds["discount"] <= len(goods_rates)
            assert len({line.vat_rate for line in discounts}) == len(discounts)
            assert -sum(line.unit_price for line in discounts) == Decimal(
                st.value("orders", o, "total_discounts_tax_excl")).quantize(Decimal("0.01"))
    assert with_shipping and with_discount


async def test_runs_are_recorded_with_counts_and_log(tmp_path: Path, emu) -> None:
    from core.runs import list_runs, run_log

    home = tmp_path / "home"
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders", trigger="console")
        runs = await list_runs(engine.hub, "shop1")
        lines = await run_log(engine.hub, runs[0].id)
    assert runs[0].kind == "orders" and runs[0].trigger == "console" and runs[0].outcome == "ok"
    assert runs[0].counts["documents_inserted"] > 0
    assert runs[0].steps[:2] == ["orders", "partial"]
    assert any("imported" in m for _, _, _, m in lines)
    assert json.dumps(runs[0].as_dict())
