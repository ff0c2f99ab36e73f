"""Issue 16: the shop's refunds (order slips) become credit notes in the ERP, against the
emulator over loopback: one per slip, exactly once, linked to the refunded order's
document, each row at the order row's VAT rate, the totals those of the slip to the cent
(docs/FISCAL.md, "Refunds")."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core import accounts as acc
from core.erp.embedded import EmbeddedErp
from core.kinds import RunKind, Trigger
from core.reconcile import reconcile
from core.resync import apply_fix
from emulator.data import add_generated_slips, generate
from emulator.pricing import ROUND_ITEM, ROUND_LINE, ROUND_TOTAL
from emulator.server import EmulatorServer
from tests.helpers import asincro
from tests.hubs import erp_write
from tests.synctools import (
    OPTIONS,
    assert_erp_holds_each_importable_order_once,
    assert_erp_holds_each_slip_once,
    engine_for,
)

D = Decimal
CENT = D("0.01")
PAID = {2, 3, 4, 5}


@pytest.fixture
async def emu():
    async with EmulatorServer(generate(60, seed=16)) as server:
        yield server


def _rate(state, detail_id: int) -> Decimal:
    detail = state.table("order_details")[detail_id]
    ids = [int(t["id"]) for t in (detail.get("associations") or {}).get("taxes", [])]
    return sum((D(state.tables["taxes"][i]["rate"]) for i in ids), D(0))


def _paid_orders(state) -> list[dict]:
    return [o for o in state.table("orders").values()
            if int(state.value("orders", o, "current_state")) in PAID]


async def _slip(emu, oid: int, products: dict[int, int] | None = None,
                shipping: bool = False) -> dict:
    """A refund made on the shop, through the emulator's side channel."""
    async with httpx.AsyncClient(base_url=emu.url) as http:
        r = await http.post(f"/_emulator/orders/{oid}/slips",
                            json={"products": {str(k): v for k, v in (products or {}).items()},
                                  "shipping": shipping})
    assert r.status_code == 200, r.text
    return r.json()


async def _stock(home: Path, codes: list[str]) -> dict[str, int]:
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        return {c: a.stock for c, a in (await erp.find_articles(codes)).items()}
    finally:
        await erp.close()


async def _credit_notes(home: Path, refs: list[str]) -> dict:
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        return await erp.find_credit_notes(refs)
    finally:
        await erp.close()


async def test_one_line_shipping_only_and_whole_order_each_become_one_credit_note(
        tmp_path: Path, emu) -> None:
    state = emu.state
    home = tmp_path / "home"
    paid = _paid_orders(state)
    multi = next(o for o in paid if len(state.assoc_items("orders", o, "order_rows")) >= 2)
    shipped = next(o for o in paid if o is not multi
                   and D(state.value("orders", o, "total_shipping_tax_excl")) > 0)
    whole = next(o for o in paid if o is not multi and o is not shipped
                 and len(state.assoc_items("orders", o, "order_rows")) >= 2)
    async with engine_for(home, emu) as engine:
        first = await engine.run_sync("shop1", "orders")
        assert first.outcome == "ok", first.errors[:5]
        assert not first.counts.get("credit_notes")

        row = state.assoc_items("orders", multi, "order_rows")[1]
        one = await _slip(emu, multi["id"], {int(row["id"]): 1})
        ship = await _slip(emu, shipped["id"], shipping=True)
        rows = state.assoc_items("orders", whole, "order_rows")
        everything = await _slip(emu, whole["id"], {int(r["id"]): int(r["product_quantity"])
                                                    for r in rows}, shipping=True)
        codes = {(r["product_id"], r["attribute_id"]): r["code"] for r in await engine.hub.fetchall(
            "SELECT product_id, attribute_id, code FROM articles")}
        before = await _stock(home, list(codes.values()))

        second = await engine.run_sync("shop1", "orders")
        assert second.outcome == "ok", second.errors[:5]
        assert second.counts["credit_notes"] == 3
        assert second.counts["refunds_read"] == 3

        notes = await _credit_notes(home, [f"shop1:s:{s['id']}" for s in (one, ship, everything)])
        assert len(notes) == 3
        # one unit of one row: one article line at the row's rate, no shipping
        n1 = notes[f"shop1:s:{one['id']}"]
        (line,) = n1.lines
        assert (line.kind, line.quantity) == ("article", 1)
        assert line.article_code == codes[(int(row["product_id"]),
                                           int(state.value("order_details", row,
                                                           "product_attribute_id") or 0))]
        assert line.vat_rate == _rate(state, int(row["id"]))
        detail = one["associations"]["order_slip_details"][0]
        assert line.total_tax_excl == D(detail["amount_tax_excl"])
        assert line.total_tax_incl == D(detail["amount_tax_incl"])
        assert n1.total_tax_incl == D(one["total_products_tax_incl"]).quantize(CENT)
        assert n1.order_external_ref == f"shop1:o:{multi['id']}"
        assert n1.number.startswith("NC ") and n1.order_number
        # shipping only: one shipping line at the order's carrier rate
        n2 = notes[f"shop1:s:{ship['id']}"]
        (sline,) = n2.lines
        assert sline.kind == "shipping"
        assert sline.vat_rate == D(state.value("orders", shipped, "carrier_tax_rate"))
        assert n2.total_tax_excl == D(ship["total_shipping_tax_excl"]).quantize(CENT)
        assert n2.total_tax_incl == D(ship["total_shipping_tax_incl"]).quantize(CENT)
        # the whole order: every row, its shipping, the VAT per rate equal to the totals
        n3 = notes[f"shop1:s:{everything['id']}"]
        articles = [ln for ln in n3.lines if ln.kind == "article"]
        assert [ln.quantity for ln in articles] == [int(r["product_quantity"]) for r in rows]
        assert [ln.vat_rate for ln in articles] == [_rate(state, int(r["id"])) for r in rows]
        for n, slip in ((n1, one), (n2, ship), (n3, everything)):
            excl = D(slip["total_products_tax_excl"]) + D(slip["total_shipping_tax_excl"])
            incl = D(slip["total_products_tax_incl"]) + D(slip["total_shipping_tax_incl"])
            taxable = sum(v.taxable for v in n.vat_summary)
            tax = sum(v.tax for v in n.vat_summary)
            rounding_excl = sum((ln.unit_price for ln in n.lines if ln.kind == "rounding"), D(0))
            assert taxable + rounding_excl == excl.quantize(CENT), n.number
            assert taxable + tax + n.rounding == incl.quantize(CENT), n.number
            assert n.total_tax_incl == incl.quantize(CENT)
            assert {v.rate for v in n.vat_summary} == {ln.vat_rate for ln in n.lines
                                                        if ln.kind != "rounding"}
        # numbered in their own sequence, the order documents' untouched
        assert sorted(n.number for n in notes.values()) == [
            f"NC {n1.date.year}/00000{i}" for i in (1, 2, 3)]
        # without a return of goods (the default) the stock stays where it was
        assert await _stock(home, list(codes.values())) == before

        third = await engine.run_sync("shop1", "orders")
        assert third.outcome == "ok"
        assert not third.counts.get("credit_notes") and not third.counts.get("refunds_read")

        # the office sees them, and books them, from the command line
        listed = await asincro(home, "erp", "credit-notes", "--json")
        assert listed.code == 0, listed.err
        assert [n["external_ref"] for n in json.loads(listed.out)] == [
            f"shop1:s:{s['id']}" for s in (everything, ship, one)]
        shown = await asincro(home, "erp", "credit-note", n3.number)
        assert shown.code == 0 and n3.order_number in shown.out and "VAT summary" in shown.out
        booked = await asincro(home, "erp", "book-credit-note", n1.number)
        assert booked.code == 0, booked.err
        assert json.loads((await asincro(home, "erp", "credit-note", n1.number, "--json")
                           ).out)["state"] == "booked"
        again = await asincro(home, "erp", "book-credit-note", n1.number)
        assert again.code != 0 and "already booked" in again.err
        # the refunds replayed from the start: read again, none doubled
        cursor = json.loads((await asincro(home, "cursor", "show", "shop1", "--json")).out)
        assert cursor["refunds"]["value"] == str(everything["id"])
        moved = await asincro(home, "cursor", "set", "shop1", "refunds", "0", "--yes")
        assert moved.code == 0, moved.err
        replay = await engine.run_sync("shop1", "orders")
        assert replay.counts["refunds_read"] == 3 and not replay.counts.get("credit_notes")
    await assert_erp_holds_each_slip_once(home, state)
    await assert_erp_holds_each_importable_order_once(home, state)


async def test_goods_returned_put_the_refunded_quantities_back_in_stock(
        tmp_path: Path, emu) -> None:
    state = emu.state
    home = tmp_path / "home"
    paid = _paid_orders(state)
    a, b = paid[0], paid[1]
    async with engine_for(home, emu, options={**OPTIONS, "refund_returns_goods": True}) as engine:
        assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
        rows = state.assoc_items("orders", a, "order_rows")
        slip = await _slip(emu, a["id"], {int(r["id"]): int(r["product_quantity"]) for r in rows})
        hub = engine.hub
        codes = {}
        for r in rows:
            code = await hub.scalar(
                "SELECT code FROM articles WHERE product_id = ? AND attribute_id = ?",
                (int(r["product_id"]), int(state.value("order_details", r,
                                                       "product_attribute_id") or 0)))
            codes[code] = codes.get(code, 0) + int(r["product_quantity"])
        before = await _stock(home, list(codes))
        assert (await engine.run_sync("shop1", "orders")).counts["credit_notes"] == 1
        after = await _stock(home, list(codes))
        assert after == {c: before[c] + q for c, q in codes.items()}
        (note,) = (await _credit_notes(home, [f"shop1:s:{slip['id']}"])).values()
        assert note.goods_returned

        # the option off again, from the command line: the next refund is money only
        r = await asincro(home, "account", "edit", "shop1", "--no-refunds-return-goods")
        assert r.code == 0, r.err
        assert (await acc.get_account(hub, "shop1")).option("refund_returns_goods") is False
        shown = await asincro(home, "account", "show", "shop1", "--json")
        assert json.loads(shown.out)["options"]["refund_returns_goods"] is False
        r = await asincro(home, "account", "edit", "shop1", "--refunds-return-goods")
        assert r.code == 0, r.err
        assert (await acc.get_account(hub, "shop1")).option("refund_returns_goods") is True
        r = await asincro(home, "account", "edit", "shop1", "--no-refunds-return-goods")
        assert r.code == 0, r.err
        rows_b = state.assoc_items("orders", b, "order_rows")
        await _slip(emu, b["id"], {int(rows_b[0]["id"]): 1})
        codes_b = [await hub.scalar(
            "SELECT code FROM articles WHERE product_id = ? AND attribute_id = ?",
            (int(rows_b[0]["product_id"]),
             int(state.value("order_details", rows_b[0], "product_attribute_id") or 0)))]
        mid = await _stock(home, codes_b)
        assert (await engine.run_sync("shop1", "orders")).counts["credit_notes"] == 1
        assert await _stock(home, codes_b) == mid
    await assert_erp_holds_each_slip_once(home, state)


async def test_a_refund_waits_for_its_order_then_goes_in_once(tmp_path: Path, emu) -> None:
    state = emu.state
    home = tmp_path / "home"
    # an order in Payment error (8) is not importable: its refund waits for it
    order = _paid_orders(state)[2]
    oid = order["id"]
    async with engine_for(home, emu) as engine:
        async with httpx.AsyncClient(base_url=emu.url) as http:
            r = await http.post(f"/_emulator/orders/{oid}/state", json={"state": 8})
            assert r.status_code == 200
        assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
        slip = await _slip(emu, oid, shipping=True) if D(
            state.value("orders", order, "total_shipping_tax_excl")) > 0 else await _slip(
            emu, oid, {int(state.assoc_items("orders", order, "order_rows")[0]["id"]): 1})
        other = _paid_orders(state)[0]
        other_slip = await _slip(emu, other["id"], {
            int(state.assoc_items("orders", other, "order_rows")[0]["id"]): 1})
        waiting = await engine.run_sync("shop1", "orders")
        assert waiting.outcome == "ok", waiting.errors
        assert waiting.counts["credit_notes"] == 1  # the other one is not held up
        assert not await _credit_notes(home, [f"shop1:s:{slip['id']}"])
        assert await _credit_notes(home, [f"shop1:s:{other_slip['id']}"])

        async with httpx.AsyncClient(base_url=emu.url) as http:
            r = await http.post(f"/_emulator/orders/{oid}/state", json={"state": 2})
            assert r.status_code == 200
        late = await engine.run_sync("shop1", "orders")
        assert late.outcome == "ok", late.errors
        assert late.counts["documents_inserted"] == 1 and late.counts["credit_notes"] == 1
        again = await engine.run_sync("shop1", "orders")
        assert not again.counts.get("credit_notes")
    await assert_erp_holds_each_slip_once(home, state)


@pytest.mark.parametrize("round_type", [ROUND_ITEM, ROUND_LINE, ROUND_TOTAL],
                         ids=["per-item", "per-line", "on-the-total"])
async def test_generated_refunds_of_a_seeded_shop_each_become_one_credit_note(
        tmp_path: Path, round_type: int) -> None:
    """Refunds of one row, of the shipping and of whole orders, at every rate the shop sells
    and however the shop rounds: each one credit note, its totals the refund's to the cent."""
    state = generate(300, seed=16, round_type=round_type)
    slips = add_generated_slips(state, 16, share=0.15)
    assert len(slips) > 20
    home = tmp_path / "home"
    async with EmulatorServer(state) as emu, engine_for(home, emu) as engine:
        summary = await engine.run_sync("shop1", "orders")
        assert summary.outcome == "ok", summary.errors[:5]
        assert summary.counts["credit_notes"] == len(slips)
    await assert_erp_holds_each_slip_once(home, state)
    notes = await _credit_notes(home, [f"shop1:s:{i}" for i in slips])
    rates = set()
    for sid in slips:
        n, slip = notes[f"shop1:s:{sid}"], state.table("order_slip")[sid]
        rows = slip["associations"]["order_slip_details"]
        articles = [ln for ln in n.lines if ln.kind == "article"]
        assert [ln.vat_rate for ln in articles] == [_rate(state, int(r["id_order_detail"]))
                                                   for r in rows], sid
        rates |= {ln.vat_rate for ln in articles}
        taxable = sum(v.taxable for v in n.vat_summary)
        tax = sum(v.tax for v in n.vat_summary)
        rounding_excl = sum((ln.unit_price for ln in n.lines if ln.kind == "rounding"), D(0))
        assert taxable + rounding_excl == n.total_tax_excl, sid
        assert taxable + tax + n.rounding == n.total_tax_incl, sid
    assert {D(22), D(10), D(4)} <= rates


async def test_reconcile_lists_refunds_missing_from_the_erp_and_its_fix_adds_each_once(
        tmp_path: Path, emu) -> None:
    state = emu.state
    home = tmp_path / "home"
    paid = _paid_orders(state)
    async with engine_for(home, emu) as engine:
        assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
        clean = await reconcile(engine, "shop1")
        assert clean.aligned and clean.counts()["refunds"] == 0
        gone = await _slip(emu, paid[0]["id"], {
            int(state.assoc_items("orders", paid[0], "order_rows")[0]["id"]): 1})
        assert (await engine.run_sync("shop1", "orders")).counts["credit_notes"] == 1
        for table in ("credit_note_lines", "credit_note_vat", "credit_notes"):  # lost by the ERP
            erp_write(home, f"DELETE FROM {table}")
        unread = await _slip(emu, paid[1]["id"], {
            int(state.assoc_items("orders", paid[1], "order_rows")[0]["id"]): 1})

        report = await reconcile(engine, "shop1")
        assert not report.aligned
        assert report.counts()["refunds"] == 2
        assert {(m.slip_id, m.order_id, m.reason) for m in report.refunds} == {
            (gone["id"], paid[0]["id"], "gone"), (unread["id"], paid[1]["id"], "not_read")}

        fixed = (await engine.run_operation(
            "shop1", RunKind.fix("refunds"), lambda ctx: apply_fix(ctx, report, "refunds"),
            trigger=Trigger.CLI)).result()
        assert sorted(fixed.changed) == sorted([gone["id"], unread["id"]]), fixed.unresolved
        assert (await reconcile(engine, "shop1")).aligned
        again = (await engine.run_operation(
            "shop1", RunKind.fix("refunds"), lambda ctx: apply_fix(ctx, report, "refunds"),
            trigger=Trigger.CLI)).result()
        assert not again.unresolved
        rerun = await engine.run_sync("shop1", "orders")
        assert not rerun.counts.get("credit_notes"), rerun.counts
        assert rerun.counts["refunds_read"] == 1  # the cursor passes the fixed one: no double
    await assert_erp_holds_each_slip_once(home, state)


async def test_the_emulator_serves_order_slip_as_prestashop_does(emu) -> None:
    """docs/prestashop/PROTOCOL.md §1: the list node is <order_slips>; order_slip_details is a
    virtual association whose id is the slip's own (getWsOrderSlipDetails); id_order and
    date_upd filter it like any list."""
    state = emu.state
    order = _paid_orders(state)[0]
    rows = state.assoc_items("orders", order, "order_rows")
    slip = await _slip(emu, order["id"], {int(r["id"]): 1 for r in rows})
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=(emu.key, "")) as api:
        xml = await api.get("order_slip", params={"display": "full",
                                                  "filter[id_order]": f"[{order['id']}]"})
        listed = await api.get("order_slip", params={
            "output_format": "JSON", "display": "full", "date": "1",
            "filter[date_upd]": f">[{slip['date_upd'][:10]} 00:00:00]"})
        none = await api.get("order_slip", params={"output_format": "JSON",
                                                   "filter[id]": f">[{slip['id']}]"})
        one = await api.get(f"order_slip/{slip['id']}", params={"output_format": "JSON"})
    assert xml.status_code == 200
    body = xml.text
    assert "<order_slips>" in body and "<order_slip>" in body
    assert ('<order_slip_details nodeType="order_slip_detail" virtualEntity="true">'
            in body)
    assert body.count("<order_slip_detail>") == len(rows)
    assert f'<id_order xlink:href="{emu.url}api/orders/{order["id"]}">' in body
    (item,) = listed.json()["order_slips"]
    details = item["associations"]["order_slip_details"]
    assert {d["id"] for d in details} == {str(slip["id"])}
    assert [int(d["id_order_detail"]) for d in details] == [int(r["id"]) for r in rows]
    assert set(details[0]) == {"id", "id_order_detail", "product_quantity", "amount_tax_excl",
                               "amount_tax_incl"}
    assert none.json() == []
    assert one.json()["order_slip"]["id_order"] == str(order["id"])
    # the refunded rows count it, as OrderSlip::create() saves them
    assert all(int(state.table("order_details")[int(r["id"])]["product_quantity_refunded"]) == 1
               for r in rows)


async def test_a_refund_that_cannot_be_booked_stops_alone_until_corrected(
        tmp_path: Path, emu) -> None:
    state = emu.state
    home = tmp_path / "home"
    paid = _paid_orders(state)
    async with engine_for(home, emu) as engine:
        assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
        first_row = {o["id"]: int(state.assoc_items("orders", o, "order_rows")[0]["id"])
                     for o in paid[:3]}
        bad, *good = [await _slip(emu, oid, {row: 1}) for oid, row in first_row.items()]
        # a module wrote a row the order does not have
        detail = state.table("order_slip")[bad["id"]]["associations"]["order_slip_details"][0]
        detail["id_order_detail"] = "999999"
        run = await engine.run_sync("shop1", "orders")
        assert run.outcome == "partial"
        assert run.counts["credit_notes"] == 2
        (line,) = [e for e in run.errors if f"refund {bad['id']} " in e]
        assert "999999" in line and "\n" not in line
        assert await _credit_notes(home, [f"shop1:s:{s['id']}" for s in good])
        report = await reconcile(engine, "shop1")
        (m,) = report.refunds
        assert (m.slip_id, m.reason) == (bad["id"], "error") and "999999" in m.detail
        again = await engine.run_sync("shop1", "orders")  # retried, still refused, alone
        assert again.outcome == "partial" and not again.counts.get("credit_notes")

        detail["id_order_detail"] = str(first_row[paid[0]["id"]])  # corrected on the shop
        fixed = (await engine.run_operation(
            "shop1", RunKind.fix("refunds"), lambda ctx: apply_fix(ctx, report, "refunds"),
            trigger=Trigger.CLI)).result()
        assert list(fixed.changed) == [bad["id"]] and not fixed.unresolved
        assert (await reconcile(engine, "shop1")).aligned
        assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
    await assert_erp_holds_each_slip_once(home, state)


async def test_the_demo_shops_refunds_become_credit_notes(tmp_path: Path) -> None:
    """The demo shop (sample_data/) refunds now and then as orders arrive (cli.commands.demo)."""
    import random

    from cli.commands.demo import SAMPLE_DATA, refund_one
    from emulator.data import load_dir
    from emulator.dates import date_relative_to_now

    state = load_dir(SAMPLE_DATA)
    date_relative_to_now(state)
    home = tmp_path / "home"
    async with EmulatorServer(state) as emu, engine_for(home, emu) as engine:
        assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
        rng = random.Random(16)
        slips = [refund_one(state, rng) for _ in range(3)]
        assert None not in slips
        run = await engine.run_sync("shop1", "orders")
        assert run.outcome == "ok", run.errors
        assert run.counts["credit_notes"] == 3
    await assert_erp_holds_each_slip_once(home, state)
