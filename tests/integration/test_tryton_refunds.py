"""Issue 16, acceptance 2: the shop's refunds (order slips) against a real Tryton 8.0, where
each becomes one confirmed return sale (docs/FISCAL.md, "Refunds"): its lines the refunded
ones with their quantities negated at the order line's tax, the shipping a line without
product, ``origin`` the refunded sale, Tryton's untaxed, tax and total amounts the slip's to
the cent; once, and reconcile is clean after it."""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from core.erp.port import CreditNoteData, ErpNotFound
from core.erp.tryton import TrytonErp, TrytonSettings
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro
from tests.hubs import hub_rows
from tests.integration.test_tryton import CUSTOMERS, MULTI, SHIP, ZERO, _vat_doc, _vat_setup
from tests.tryton_server import ADMIN_PASSWORD, DB_NAME, TrytonServer, template_db, tryton_available

REASON = tryton_available()
if REASON and os.environ.get("SINCRO_REQUIRE_TRYTON"):  # .ci/run: never a silent skip
    raise RuntimeError(f"SINCRO_REQUIRE_TRYTON is set but {REASON}")
pytestmark = [pytest.mark.skipif(REASON is not None, reason=REASON or ""),
              pytest.mark.timeout(600)]

PW_ENV = "SINCRO_TEST_TRYTON_PW"
ENV = {PW_ENV: ADMIN_PASSWORD}
D = Decimal
CENT = D("0.01")
PAID = {2, 3, 4, 5}
SALE = ["number", "description", "reference", "state", "origin", "party", "invoice_address",
        "shipment_address", "untaxed_amount", "tax_amount", "total_amount", "lines",
        "shipment_method", "shipment_returns", "shipments", "invoices", "sale_date"]


@pytest.fixture
def tryton(tmp_path: Path):
    with TrytonServer(template_db(), tmp_path / "tryton") as srv:
        yield srv


def _num(v) -> Decimal:
    return D(v["decimal"]) if isinstance(v, dict) else D(str(v))


def _rate(state, detail_id: int) -> Decimal:
    detail = state.table("order_details")[detail_id]
    ids = [int(t["id"]) for t in (detail.get("associations") or {}).get("taxes", [])]
    return sum((D(state.tables["taxes"][i]["rate"]) for i in ids), D(0))


async def _slip(emu, oid: int, products: dict[int, int] | None = None,
                shipping: bool = False) -> dict:
    """A refund made on the shop, through the emulator's side channel."""
    async with httpx.AsyncClient(base_url=emu.url) as http:
        r = await http.post(f"/_emulator/orders/{oid}/slips",
                            json={"products": {str(k): v for k, v in (products or {}).items()},
                                  "shipping": shipping})
    assert r.status_code == 200, r.text
    return r.json()


def _totals(slip: dict) -> tuple[Decimal, Decimal]:
    excl = D(slip["total_products_tax_excl"]) + D(slip["total_shipping_tax_excl"])
    incl = D(slip["total_products_tax_incl"]) + D(slip["total_shipping_tax_incl"])
    return excl.quantize(CENT), incl.quantize(CENT)


async def test_refunds_become_one_confirmed_return_sale_each_and_reconcile_is_clean(
        tmp_path: Path, tryton: TrytonServer) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(24, seed=16)) as emu:
        state = emu.state
        r = await asincro(home, "account", "add", "shop1", "--url", emu.url, "--key", emu.key)
        assert r.code == 0, r.err
        r = await asincro(home, "account", "edit", "shop1", "--tax-map",
                          "22=22,10=10,5=5,4=4,0=N4")
        assert r.code == 0, r.err
        r = await asincro(home, "erp", "use", "tryton", "--url", tryton.url, "--db", DB_NAME,
                          "--user", "admin", "--password-env", PW_ENV)
        assert r.code == 0, r.err
        r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=280)
        assert r.code == 0, r.err + r.out
        assert json.loads(r.out)["outcome"] == "ok", r.out

        rpc = tryton.rpc()
        sales = {s["description"]: s for s in rpc.model(
            "sale.sale", "search_read", [], 0, None, None, SALE)}
        paid = [o for o in state.table("orders").values()
                if int(state.value("orders", o, "current_state")) in PAID
                and f"shop1:o:{o['id']}" in sales]

        def rows(o: dict) -> list[dict]:
            return state.assoc_items("orders", o, "order_rows")

        multi = next(o for o in paid if len(rows(o)) >= 2)
        shipped = next(o for o in paid if o is not multi
                       and D(state.value("orders", o, "total_shipping_tax_excl")) > 0)
        whole = next(o for o in paid if o is not multi and o is not shipped
                     and len(rows(o)) >= 2)
        row = rows(multi)[1]
        one = await _slip(emu, multi["id"], {int(row["id"]): 1})
        ship = await _slip(emu, shipped["id"], shipping=True)
        everything = await _slip(emu, whole["id"], {int(x["id"]): int(x["product_quantity"])
                                                    for x in rows(whole)}, shipping=True)
        slips = {f"shop1:s:{s['id']}": (s, o) for s, o in ((one, multi), (ship, shipped),
                                                             (everything, whole))}

        r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=280)
        assert r.code == 0, r.err + r.out
        second = json.loads(r.out)
        assert second["outcome"] == "ok", second
        assert second["counts"]["credit_notes"] == 3, second

        returns = rpc.model("sale.sale", "search_read", [["origin", "!=", None]], 0, None,
                            None, SALE)
        code_of = {(p, a): c for p, a, c in hub_rows(
            home, "SELECT product_id, attribute_id, code FROM articles")}
        assert sorted(s["description"] for s in returns) == sorted(slips)
        for ret in returns:
            slip, order = slips[ret["description"]]
            sale = sales[f"shop1:o:{order['id']}"]
            # confirmed and processed, linked to the refunded sale, same party and addresses
            assert ret["state"] == "processing", ret
            assert ret["origin"] == f"sale.sale,{sale['id']}"
            assert ret["reference"] == order["reference"]
            for f in ("party", "invoice_address", "shipment_address"):
                assert ret[f] == sale[f], f
            # money back only (the default): no return shipment
            assert ret["shipment_method"] == "manual" and not ret["shipment_returns"]
            # Tryton's own amounts are the slip's, negated, to the cent
            excl, incl = _totals(slip)
            assert (_num(ret["untaxed_amount"]), _num(ret["tax_amount"]),
                    _num(ret["total_amount"])) == (-excl, -(incl - excl), -incl), ret
            # the draft customer credit note Tryton made from it says the same
            [inv] = rpc.model("account.invoice", "read", ret["invoices"],
                              ["total_amount", "untaxed_amount", "state", "type"])
            assert (inv["type"], inv["state"]) == ("out", "draft")
            assert (_num(inv["untaxed_amount"]), _num(inv["total_amount"])) == (-excl, -incl)
            lines = rpc.model("sale.line", "read", ret["lines"], [
                "product.code", "quantity", "taxes.name", "taxes.rate", "description"])
            goods = [ln for ln in lines if ln.get("product.")]
            want = {int(d["id_order_detail"]): int(d["product_quantity"])
                    for d in (slip.get("associations") or {}).get("order_slip_details", [])
                    if int(d["product_quantity"])}
            assert sorted(-ln["quantity"] for ln in goods) == sorted(want.values())
            details = state.table("order_details")
            assert sorted(ln["product."]["code"] for ln in goods) == sorted(
                code_of[(int(details[i]["product_id"]), int(state.value(
                    "order_details", details[i], "product_attribute_id") or 0))] for i in want)
            for ln in goods:  # each at its order row's rate
                rates = {_num(t["rate"]) * 100 for t in ln["taxes."]}
                assert rates <= {_rate(state, i) for i in want}, ln
            others = [ln for ln in lines if not ln.get("product.")
                      and ln["description"] != "Rounding"]
            if D(slip["total_shipping_tax_excl"]):
                [sl] = others
                assert sl["quantity"] == -1 and sl["taxes."], sl
            else:
                assert not others, others
        shipping_only = next(s for s in returns if s["description"] == f"shop1:s:{ship['id']}")
        assert not [ln for ln in rpc.model("sale.line", "read", shipping_only["lines"],
                                           ["product"]) if ln["product"]]

        # the connector reads them back as the credit notes sent
        erp = await TrytonErp.open(TrytonSettings(url=tryton.url, db=DB_NAME, user="admin",
                                                  password_env=PW_ENV), ADMIN_PASSWORD)
        try:
            found = await erp.find_credit_notes(list(slips) + ["shop1:s:999999"])
            assert set(found) == set(slips)
            for ref, note in found.items():
                slip, order = slips[ref]
                excl, incl = _totals(slip)
                assert (note.total_tax_excl, note.total_tax_incl) == (excl, incl)
                assert note.order_external_ref == f"shop1:o:{order['id']}"
                assert note.order_number == sales[note.order_external_ref]["number"]
                assert not note.goods_returned and note.state == "open"
                assert sum((v.taxable + v.tax for v in note.vat_summary), D(0)) \
                    + note.rounding == incl
                assert all(ln.quantity > 0 for ln in note.lines if ln.kind == "article")
            [of_whole] = await erp.credit_notes_of(f"shop1:o:{whole['id']}")
            assert of_whole == found[f"shop1:s:{everything['id']}"]
            # a return sale is no order's state change
            changes, _ = await erp.state_changes(None)
            assert not [c for c in changes if ":s:" in (c.external_ref or "")]
        finally:
            await erp.close()

        # a rerun adds none
        r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=280)
        third = json.loads(r.out)
        assert third["outcome"] == "ok" and not third["counts"].get("credit_notes"), third
        assert rpc.model("sale.sale", "search_count", [["origin", "!=", None]]) == 3

        r = await asincro(home, "reconcile", "shop1", "--json", env=ENV, limit=180)
        report = json.loads(r.out)
        assert r.code == 0 and report["aligned"], report
        assert report["counts"] == {c: 0 for c in report["counts"]}, report

        # a refund the refunds step has not read: reconcile finds it missing from Tryton
        # (by its reference), its fix puts it in once, and reconcile is clean again
        other = next(o for o in paid if o not in (multi, shipped, whole))
        late = await _slip(emu, other["id"], {int(rows(other)[0]["id"]): 1})
        r = await asincro(home, "reconcile", "shop1", "--json", env=ENV, limit=180)
        report = json.loads(r.out)
        assert not report["aligned"], report
        assert [(x["slip_id"], x["reason"]) for x in report["refunds"]] == [
            (late["id"], "not_read")], report
        r = await asincro(home, "reconcile", "shop1", "--fix", "refunds", "--json", env=ENV,
                          limit=180)
        assert r.code == 0, r.err + r.out
        r = await asincro(home, "reconcile", "shop1", "--json", env=ENV, limit=180)
        report = json.loads(r.out)
        assert r.code == 0 and report["aligned"], report
        [fixed] = rpc.model("sale.sale", "search_read", [
            ["description", "=", f"shop1:s:{late['id']}"]], 0, None, None, SALE)
        assert fixed["state"] == "processing"
        assert _num(fixed["total_amount"]) == -_totals(late)[1]
        assert rpc.model("sale.sale", "search_count", [["origin", "!=", None]]) == 4
        rpc.close()


async def test_goods_returned_come_back_through_a_return_shipment(
        tmp_path: Path, tryton: TrytonServer) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(12, seed=16)) as emu:
        state = emu.state
        r = await asincro(home, "account", "add", "shop1", "--url", emu.url, "--key", emu.key)
        assert r.code == 0, r.err
        r = await asincro(home, "account", "edit", "shop1", "--tax-map",
                          "22=22,10=10,5=5,4=4,0=N4", "--refunds-return-goods")
        assert r.code == 0, r.err
        r = await asincro(home, "erp", "use", "tryton", "--url", tryton.url, "--db", DB_NAME,
                          "--user", "admin", "--password-env", PW_ENV)
        assert r.code == 0, r.err
        r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=280)
        assert json.loads(r.out)["outcome"] == "ok", r.out + r.err
        rpc = tryton.rpc()
        imported = {s["description"] for s in rpc.model("sale.sale", "search_read", [], 0,
                                                        None, None, ["description"])}
        order = next(o for o in state.table("orders").values()
                     if int(state.value("orders", o, "current_state")) in PAID
                     and f"shop1:o:{o['id']}" in imported)
        rows = state.assoc_items("orders", order, "order_rows")
        erp = await TrytonErp.open(TrytonSettings(url=tryton.url, db=DB_NAME, user="admin",
                                                  password_env=PW_ENV), ADMIN_PASSWORD)
        try:
            sale = await erp.find_document(f"shop1:o:{order['id']}")
            assert sale is not None
            codes: dict[str, int] = {}
            for ln in sale.lines:
                if ln.kind == "article" and ln.article_code:
                    codes[ln.article_code] = codes.get(ln.article_code, 0) + ln.quantity
            before = {c: a.stock for c, a in (await erp.articles_stock_price(list(codes))).items()}
            slip = await _slip(emu, order["id"], {int(x["id"]): int(x["product_quantity"])
                                                  for x in rows})
            r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=280)
            summary = json.loads(r.out)
            assert summary["outcome"] == "ok" and summary["counts"]["credit_notes"] == 1, summary
            after = {c: a.stock for c, a in (await erp.articles_stock_price(list(codes))).items()}
            assert after == {c: before[c] + q for c, q in codes.items()}, (before, after)
            ref = f"shop1:s:{slip['id']}"
            [ret] = rpc.model("sale.sale", "search_read", [["description", "=", ref]], 0, None,
                              None, SALE)
            assert ret["shipment_method"] == "order"
            shipments = rpc.model("stock.shipment.out.return", "read", ret["shipment_returns"],
                                  ["state"])
            assert [s["state"] for s in shipments] == ["done"]
            note = (await erp.find_credit_notes([ref]))[ref]
            assert note.goods_returned
            assert note.total_tax_incl == _totals(slip)[1]
            # once: the rerun neither adds a sale nor moves the stock again
            r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=280)
            assert not json.loads(r.out)["counts"].get("credit_notes")
            assert {c: a.stock for c, a in (await erp.articles_stock_price(
                list(codes))).items()} == after
            changes, _ = await erp.state_changes(None)
            assert not [c for c in changes if c.external_ref == ref]
        finally:
            await erp.close()
            rpc.close()


async def test_multi_rate_credit_notes_equal_the_slip_to_the_cent(tryton: TrytonServer) -> None:
    """Credit notes built directly, at every rate, with the shop's rounding of +0.01 and
    -0.01: Tryton's amounts are theirs negated, read back they are what was sent; once; a
    missing order or another customer's order stops that credit note alone, named."""
    erp = await TrytonErp.open(TrytonSettings(url=tryton.url, db=DB_NAME, user="admin",
                                              password_env=PW_ENV), ADMIN_PASSWORD)
    try:
        dest = await _vat_setup(erp)
        code = {c.external_ref: c.code for c in await erp.upsert_customers(list(CUSTOMERS))}
        orders = [_vat_doc(1, code["s:c:1"], dest["s:c:1"], MULTI, shipping=SHIP),
                  _vat_doc(2, code["s:c:2"], dest["s:c:2"], MULTI[:2])]
        await erp.insert_orders(orders)

        def note(n: int, lines: tuple, shipping=None, rounding=ZERO, order: str = "s:o:1",
                 customer: str = "s:c:1") -> CreditNoteData:
            d = _vat_doc(n, code[customer], dest[customer], lines, shipping=shipping,
                         rounding=rounding)
            return CreditNoteData(f"s:s:{n}", order, code[customer], date.today(), "EUR",
                                  d.lines, d.total_tax_excl, d.total_tax_incl, False,
                                  shipping=d.shipping, vat_summary=d.vat_summary,
                                  rounding=rounding, shop_reference="REF1",
                                  notes=f"Shop refund {n} of order 1 (REF1)")

        notes = [note(1, MULTI[:1]), note(2, (), SHIP), note(3, MULTI, SHIP, D("0.01")),
                 note(4, MULTI[1:3], rounding=D("-0.01"))]
        results = await erp.insert_credit_notes(notes)
        assert [r.created for r in results] == [True] * 4
        rpc = tryton.rpc()
        sales = {s["description"]: s for s in rpc.model(
            "sale.sale", "search_read", [["origin", "!=", None]], 0, None, None, SALE)}
        rounding = {}
        for n in notes:
            s = sales[n.external_ref]
            assert s["state"] == "processing"
            assert (_num(s["untaxed_amount"]), _num(s["tax_amount"]),
                    _num(s["total_amount"])) == (-n.total_tax_excl,
                                                 -(n.total_tax_incl - n.total_tax_excl),
                                                 -n.total_tax_incl), n.external_ref
            rounding[n.external_ref] = [ln["quantity"] for ln in rpc.model(
                "sale.line", "read", s["lines"], ["description", "quantity"])
                if ln["description"] == "Rounding"]
        assert rounding["s:s:3"] == [-1.0] and rounding["s:s:4"] == [1.0], rounding
        rpc.close()
        back = await erp.find_credit_notes([n.external_ref for n in notes])
        for n, r in zip(notes, results, strict=True):
            b = back[n.external_ref]
            assert b == r.credit_note
            assert (b.total_tax_excl, b.total_tax_incl) == (n.total_tax_excl, n.total_tax_incl)
            assert b.vat_summary == n.vat_summary, (b.vat_summary, n.vat_summary)
            assert b.rounding == n.rounding
            assert [(ln.article_code, ln.quantity, ln.vat_rate, ln.vat_code, ln.vat_nature,
                     ln.total_tax_excl) for ln in b.lines if ln.kind == "article"] == [
                (ln.article_code, ln.quantity, ln.vat_rate, ln.vat_code, ln.vat_nature,
                 ln.total_tax_excl) for ln in n.lines]
            assert [(ln.quantity, ln.total_tax_excl) for ln in b.lines
                    if ln.kind == "shipping"] == (
                [(1, n.shipping.amount_tax_excl)] if n.shipping else [])
            assert (b.order_external_ref, b.notes) == ("s:o:1", n.notes)
        assert [c.external_ref for c in await erp.credit_notes_of("s:o:1")] == [
            n.external_ref for n in notes]
        assert await erp.credit_notes_of("s:o:2") == []
        # once: a second insert (and a key repeated in one batch) finds them
        again = await erp.insert_credit_notes(notes + notes[:1])
        assert not any(r.created for r in again)
        assert [r.credit_note.number for r in again] == [r.credit_note.number
                                                          for r in results + results[:1]]
        # left a quotation (--quotation, or a run stopped before confirm): the next insert
        # confirms that sale, and makes no other
        quotes = await TrytonErp.open(TrytonSettings(
            url=tryton.url, db=DB_NAME, user="admin", password_env=PW_ENV, confirm=False),
            ADMIN_PASSWORD)
        try:
            [q] = await quotes.insert_credit_notes([note(7, MULTI[:2], SHIP)])
        finally:
            await quotes.close()
        assert q.created and q.credit_note.state == "open"
        rpc = tryton.rpc()
        [s7] = rpc.model("sale.sale", "search_read", [["description", "=", "s:s:7"]], 0, None,
                         None, ["state"])
        assert s7["state"] == "quotation"
        [c7] = await erp.insert_credit_notes([note(7, MULTI[:2], SHIP)])
        assert c7.created and c7.credit_note.number == q.credit_note.number
        [s7] = rpc.model("sale.sale", "search_read", [["description", "=", "s:s:7"]], 0, None,
                         None, ["state"])
        assert s7["state"] == "processing"
        rpc.close()
        # a missing order, another customer's order: named, and nothing made for them
        for bad in (note(5, MULTI[:1], order="s:o:9"), note(6, MULTI[:1], order="s:o:2")):
            with pytest.raises(ErpNotFound) as exc:
                await erp.insert_credit_notes([bad])
            assert exc.value.external_ref == bad.external_ref
            assert not await erp.find_credit_notes([bad.external_ref])
    finally:
        await erp.close()
