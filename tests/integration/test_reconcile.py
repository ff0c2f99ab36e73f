"""Reconcile (issue 9): shop vs hub vs ERP, by category, and the fix of each category."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.erp.embedded import EmbeddedErp
from core.reconcile import reconcile
from core.resync import apply_fix
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro
from tests.hubs import erp_rows, erp_write
from tests.synctools import engine_for, more_shipping, shop_orders


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(80, seed=5)) as server:
        yield server


async def delete_document(home: Path, ref: str) -> None:
    """Test-only: a document vanishes from the embedded ERP."""
    ((doc_id,),) = erp_rows(home, "SELECT id FROM documents WHERE external_ref = ?", (ref,))
    for table in ("document_lines", "document_vat", "state_journal"):
        erp_write(home, f"DELETE FROM {table} WHERE document_id = ?", (doc_id,))
    erp_write(home, "DELETE FROM documents WHERE id = ?", (doc_id,))


def pick(emu, n: int, state: int = 2) -> list[int]:
    orders = shop_orders(emu.state)
    return [oid for oid, o in sorted(orders.items()) if o["state"] == state][:n]


async def fix(engine, report, category: str):
    done = await engine.run_operation("shop1", f"fix-{category}",
                                      lambda ctx: apply_fix(ctx, report, category), trigger="cli")
    return done.result()


async def test_three_differences_reported_then_fixed(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    a, b, c = pick(emu, 3)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        clean = await reconcile(engine, "shop1")
        assert clean.aligned, clean.as_dict()
        assert clean.orders_checked == len(emu.state.table("orders"))

        await delete_document(home, f"shop1:o:{a}")
        async with httpx.AsyncClient(base_url=emu.url) as http:
            change = more_shipping(emu.state, b)
            r = await http.patch(f"/_emulator/orders/{b}", json=change)
            assert r.status_code == 200
            r = await http.post(f"/_emulator/orders/{c}/state", json={"state": 6})
            assert r.status_code == 200

        report = await reconcile(engine, "shop1")
        assert not report.aligned
        assert report.counts() == {"missing": 1, "doubled": 0, "differs": 1, "states": 1,
                                   "customers": 0, "doubled_customers": 0, "refunds": 0}
        (m,) = report.problems("missing")
        assert (m.order_id, m.reason) == (a, "not_in_erp")
        (d,) = report.differs
        assert d.order_id == b and d.updatable
        new_total = Decimal(change["total_paid_tax_incl"]).quantize(Decimal("0.01"))
        assert [(f.name, f.shop, f.erp != str(new_total)) for f in d.fields] == [
            ("total_tax_incl", str(new_total), True),
            ("total_tax_excl", str(Decimal(change["total_paid_tax_excl"]).quantize(
                Decimal("0.01"))), True)]
        (s,) = report.states
        assert (s.order_id, s.direction, s.shop_state, s.erp_state) == (c, "shop", 6, "open")

        for category in ("missing", "differs", "states"):
            await fix(engine, report, category)
        after = await reconcile(engine, "shop1")
        assert after.aligned, json.dumps(after.as_dict(), indent=1)
        assert [x.order_id for x in after.acknowledged if x.order_id == c] == [c]

    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        assert await erp.find_document(f"shop1:o:{a}") is not None
        assert (await erp.find_document(f"shop1:o:{b}")).total_tax_incl == new_total
    finally:
        await erp.close()


async def test_erp_ahead_is_pushed_to_the_shop(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    (oid,) = pick(emu, 1)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        erp = await engine.erp()
        doc = await erp.find_document(f"shop1:o:{oid}")
        await erp.set_state(doc.number, "cancelled")
        report = await reconcile(engine, "shop1")
        (s,) = report.states
        assert (s.order_id, s.direction, s.expected_state) == (oid, "erp", 6)
        assert report.counts()["states"] == 1 and sum(report.counts().values()) == 1
        await fix(engine, report, "states")
        assert (await reconcile(engine, "shop1")).aligned
    assert shop_orders(emu.state)[oid]["state"] == 6


async def test_doubled_and_drifted_customers(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    st = emu.state
    oid = next(i for i in pick(emu, 20) if st.value(
        "customers", st.table("customers")[shop_orders(st)[i]["customer"]], "is_guest") in ("0", 0))
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        erp = await engine.erp()
        doc = await erp.find_document(f"shop1:o:{oid}")
        from dataclasses import replace

        from core.erp.port import OrderDocumentData, OrderLineData

        lines = tuple(OrderLineData(ln.article_code, ln.description, ln.quantity, ln.unit_price,
                                    ln.unit_price_tax_incl, ln.vat_rate)
                      for ln in doc.lines if ln.kind == "article")
        extra = OrderDocumentData("manual:1", doc.customer_code, doc.date, doc.currency, lines,
                                  doc.total_tax_excl, doc.total_tax_incl,
                                  shop_reference=doc.shop_reference)
        made = (await erp.insert_order(replace(extra))).document
        customer = shop_orders(emu.state)[oid]["customer"]
        async with httpx.AsyncClient(base_url=emu.url) as http:
            r = await http.patch(f"/_emulator/customers/{customer}", json={"lastname": "Drift"})
            assert r.status_code == 200

        report = await reconcile(engine, "shop1")
        (d,) = report.doubled
        assert d.order_ids == (oid,) and set(d.documents) == {doc.number, made.number}
        (cd,) = report.customers
        assert (cd.customer_id, cd.where, cd.fields) == (customer, "shop", ("lastname",))

        await fix(engine, report, "customers")
        await erp.set_state(made.number, "cancelled")  # the operator undoes the double
        after = await reconcile(engine, "shop1")
        assert after.aligned, after.as_dict()
        assert "Drift" in (await erp.find_customer(cd.erp_ref)).name


async def test_missing_reasons_outbox_and_new(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        async with httpx.AsyncClient(base_url=emu.url) as http:
            r = await http.post("/_emulator/orders", json={"generate": 1, "seed": 9})
            (new_id,) = r.json()["ids"]
        async with engine.hub.transaction() as conn:  # an order stuck in the outbox
            oid = pick(emu, 1)[0]
            await conn.execute("INSERT INTO outbox (account_id, kind, ref, created_at, attempts,"
                               " last_error) VALUES (1, 'order', ?, 'x', 3, 'ERP down')", (oid,))
        await delete_document(home, f"shop1:o:{oid}")
        report = await reconcile(engine, "shop1")
        reasons = {m.order_id: (m.reason, m.detail) for m in report.problems("missing")}
        assert reasons[oid][0] == "outbox" and "ERP down" in reasons[oid][1]
        if shop_orders(emu.state)[new_id]["state"] not in (6, 8):
            assert reasons[new_id][0] == "new"
        await fix(engine, report, "missing")
        assert (await reconcile(engine, "shop1")).aligned


async def test_since_limits_the_period(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    dates = sorted(o["date_add"] for o in emu.state.table("orders").values())
    mid = dates[len(dates) // 2][:10]
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        part = await reconcile(engine, "shop1", since=mid)
    expected = sum(1 for d in dates if d[:10] >= mid)
    assert part.orders_checked == expected < len(dates)


async def test_cli_reconcile_exit_codes_and_fix(tmp_path: Path, emu) -> None:
    home = tmp_path / "home"
    r = await asincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url, "--key", emu.key)
    assert r.code == 0, r.err
    assert (await asincro(home, "sync", "shop1", "--orders", "-q")).code == 0
    ok = await asincro(home, "reconcile", "shop1")
    assert ok.code == 0 and "aligned" in ok.out, ok.out + ok.err
    (a,) = pick(emu, 1)
    await delete_document(home, f"shop1:o:{a}")
    bad = await asincro(home, "reconcile", "shop1", "--json")
    assert bad.code == 1
    data = json.loads(bad.out)
    assert data["counts"]["missing"] == 1 and data["missing"][0]["order_id"] == a
    fixed = await asincro(home, "reconcile", "shop1", "--fix", "missing")
    assert fixed.code == 0, fixed.out + fixed.err
    assert "after the fixes" in fixed.out
    assert emu.key not in fixed.out + fixed.err
    err = await asincro(home, "reconcile", "nope")
    assert err.code == 2 and "no account named 'nope'" in err.err
    err = await asincro(home, "reconcile", "shop1", "--since", "yesterday")
    assert err.code == 2 and "not a date" in err.err


async def test_a_total_the_lines_do_not_explain_is_held_not_adjusted(tmp_path: Path, emu) -> None:
    """Issue 14: a shop total that no line explains is reported, never pushed as is."""
    home = tmp_path / "home"
    (b,) = pick(emu, 1)
    async with engine_for(home, emu) as engine:
        await engine.run_sync("shop1", "orders")
        before = (await (await engine.erp()).find_document(f"shop1:o:{b}")).total_tax_incl
        async with httpx.AsyncClient(base_url=emu.url) as http:
            r = await http.patch(f"/_emulator/orders/{b}", json={"total_paid_tax_incl": "999.99"})
            assert r.status_code == 200
        report = await reconcile(engine, "shop1")
        (d,) = report.differs
        await fix(engine, report, "differs")
        after = await reconcile(engine, "shop1")
        (still,) = after.differs
        assert still.order_id == b
        doc = await (await engine.erp()).find_document(f"shop1:o:{b}")
        assert doc.total_tax_incl == before
        from core.runs import list_runs, run_log

        (run, *_) = await list_runs(engine.hub, "shop1")
        text = " ".join(m for *_, m in await run_log(engine.hub, run.id))
        assert f"order {b}" in text and "held for review" in text
