"""Sincro against a real Tryton 8.0 server (trytond from the `tryton` dependency group).

The server runs in its own process on a free loopback port, from a template
database built once and cached (tests/tryton_server.py).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from core.erp.port import (
    ArticleData,
    CustomerData,
    DestinationData,
    DiscountData,
    ErpError,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
    VatSummary,
)
from core.erp.tryton import (
    TrytonErp,
    TrytonSettings,
    codice_fiscale_ok,
    compose_comment,
    line_price,
    parse_comment,
    partita_iva_ok,
)
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro, assert_clean_error
from tests.hubs import hub_rows
from tests.synctools import EXCLUDED, shop_orders
from tests.tryton_server import (
    ADMIN_PASSWORD,
    CARRIERS,
    DB_NAME,
    PAYMENT_TERMS,
    TrytonServer,
    template_db,
    tryton_available,
)

REASON = tryton_available()
if REASON and os.environ.get("SINCRO_REQUIRE_TRYTON"):  # .ci/run: never a silent skip
    raise RuntimeError(f"SINCRO_REQUIRE_TRYTON is set but {REASON}")
pytestmark = [pytest.mark.skipif(REASON is not None, reason=REASON or ""),
              pytest.mark.timeout(300)]  # the first test may build the template (~1 min)

PW_ENV = "SINCRO_TEST_TRYTON_PW"
ENV = {PW_ENV: ADMIN_PASSWORD}


@pytest.fixture(scope="session")
def sale_template() -> Path:
    return template_db()


@pytest.fixture
def tryton(sale_template: Path, tmp_path: Path):
    with TrytonServer(sale_template, tmp_path / "tryton") as srv:
        yield srv


def _settings(srv: TrytonServer, **kw) -> TrytonSettings:
    return TrytonSettings(url=srv.url, db=DB_NAME, user="admin", password_env=PW_ENV, **kw)


async def _use(home: Path, srv: TrytonServer, *extra: str) -> None:
    r = await asincro(home, "erp", "use", "tryton", "--url", srv.url, "--db", DB_NAME,
                      "--user", "admin", "--password-env", PW_ENV, *extra)
    assert r.code == 0, r.err
    assert ADMIN_PASSWORD not in r.out + r.err


def _stored_settings(home: Path) -> str:
    return hub_rows(home, "SELECT value FROM settings WHERE name = 'erp'")[0][0]


# -- acceptance 1 and 2: orders in, states back -------------------------------------
async def test_orders_become_confirmed_sales_once_and_states_come_back(
        tmp_path: Path, tryton: TrytonServer) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(12, seed=8)) as emu:
        r = await asincro(home, "account", "add", "shop1", "--url", emu.url, "--key", emu.key)
        assert r.code == 0, r.err
        await _use(home, tryton)
        assert ADMIN_PASSWORD not in _stored_settings(home)
        check = await asincro(home, "erp", "check", env=ENV)
        assert check.code == 0, check.err
        assert "8.0" in check.out and "sale" in check.out

        r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=180)
        assert r.code == 0, r.err + r.out
        first = json.loads(r.out)
        assert first["outcome"] == "ok", first
        orders = shop_orders(emu.state)
        importable = {oid for oid, o in orders.items() if o["state"] not in EXCLUDED}
        assert first["counts"]["documents_inserted"] == len(importable) > 5

        again = json.loads((await asincro(home, "sync", "shop1", "--orders", "--json",
                                          env=ENV)).out)
        assert again["outcome"] == "ok"
        assert again["counts"].get("documents_inserted", 0) == 0

        rpc = tryton.rpc()
        sales = rpc.model("sale.sale", "search_read", [], 0, None, [["id", "ASC"]],
                          ["description", "reference", "state", "party", "party.name",
                           "shipment_address", "lines", "total_amount"])
        refs = Counter(s["description"] for s in sales)
        assert all(n == 1 for n in refs.values()), refs
        assert {int(r.rsplit(":", 1)[1]) for r in refs} == importable
        assert {s["state"] for s in sales} == {"processing"}, [s["state"] for s in sales]

        code_of = {(p, a): c for p, a, c in hub_rows(
            home, "SELECT product_id, attribute_id, code FROM articles")}
        erp_ref = dict(hub_rows(home, "SELECT shop_id, erp_ref FROM customers"))
        table = emu.state.table("orders")
        for s in sales:
            oid = int(s["description"].rsplit(":", 1)[1])
            o = table[oid]
            assert s["reference"] == o["reference"]
            # the sale's party is the ERP customer the hub keeps for the shop customer (guests
            # with one e-mail share one)
            [party] = rpc.model("party.party", "read", [s["party"]], ["identifiers.code"])
            assert "sincro:" + erp_ref[int(o["id_customer"])] in {
                i["code"] for i in party["identifiers."]}, party
            assert s["shipment_address"]
            lines = rpc.model("sale.line", "read", s["lines"],
                              ["product.code", "quantity", "type"])
            got = Counter()
            for ln in lines:
                if ln.get("product."):
                    got[ln["product."]["code"]] += int(ln["quantity"])
            want = Counter()
            for key, qty in orders[oid]["rows"].items():
                want[code_of[key]] += qty
            assert got == want, (oid, got, want)

        # the operator ships one sale in Tryton: the shop order becomes "shipped"
        def shop_state(sale: dict) -> int:
            oid = int(sale["description"].rsplit(":", 1)[1])
            return int(emu.state.value("orders", table[oid], "current_state"))

        target = next(s for s in sales if shop_state(s) in (2, 3))  # paid, not shipped
        [sale] = rpc.model("sale.sale", "read", [target["id"]], ["shipments"])
        ship = sale["shipments"]
        for button in ("assign_force", "pick", "pack", "do"):
            rpc.model("stock.shipment.out", button, ship)
        r = await asincro(home, "sync", "shop1", "--states", "--json", env=ENV)
        assert r.code == 0, r.err
        summary = json.loads(r.out)
        logs = (await asincro(home, "logs", str(summary["id"]))).out
        assert summary["counts"].get("states_pushed") == 1, logs
        assert shop_state(target) == 4
        rpc.close()


async def test_state_changes_cancelled_shipped_invoiced(tryton: TrytonServer) -> None:
    erp = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
    quotes = await TrytonErp.open(_settings(tryton, confirm=False), ADMIN_PASSWORD)
    try:
        [c] = await erp.upsert_customers([CustomerData("s:c:1", "Ada Lovelace",
                                                       email="ada@example.com")])
        [d] = await erp.upsert_destinations([(c.code, DestinationData(
            "Ada Lovelace", "Via Roma 1", "Milano", "IT", postcode="20100"))])
        await erp.create_articles([ArticleData("PS-1", "Widget", Decimal("10.00"))])

        def doc(n: int) -> OrderDocumentData:
            return OrderDocumentData(
                f"s:o:{n}", c.code, date.today(), "EUR",
                (OrderLineData("PS-1", "Widget", 2, Decimal("10"), Decimal("12.20"),
                               Decimal("22")),),
                Decimal("25"), Decimal("30.50"), d.code, d.code, shop_reference=f"REF{n}",
                shipping=ShippingData(Decimal("5"), Decimal("6.10")))

        shipped, invoiced = await erp.insert_orders([doc(1), doc(2)])
        [quoted] = await quotes.insert_orders([doc(3)])
        assert quoted.document.state == "open" and shipped.created
        assert shipped.document.total_tax_excl == Decimal("25")
        # a second insert returns the first sale
        again = await erp.insert_order(doc(1))
        assert not again.created and again.document.number == shipped.document.number
        assert (await erp.state_changes(None)) == ([], None)

        rpc = tryton.rpc()
        by_ref = {s["description"]: s for s in rpc.model(
            "sale.sale", "search_read", [], 0, None, None,
            ["description", "shipments", "invoices"])}
        rpc.model("sale.sale", "cancel", [rpc.model("sale.sale", "search",
                                                    [["description", "=", "s:o:3"]],
                                                    0, None, None)[0]])
        ship = by_ref["s:o:1"]["shipments"]
        for button in ("assign_force", "pick", "pack", "do"):
            rpc.model("stock.shipment.out", button, ship)
        changes, cursor = await erp.state_changes(None)
        assert sorted((ch.external_ref, ch.event) for ch in changes) == [
            ("s:o:1", "shipped"), ("s:o:3", "cancelled")]
        [sh] = [ch for ch in changes if ch.event == "shipped"]
        [number] = rpc.model("stock.shipment.out", "read", ship, ["number"])
        assert sh.delivery_note_number == number["number"]
        assert (await erp.state_changes(cursor)) == ([], cursor)

        rpc.model("account.invoice", "post", by_ref["s:o:2"]["invoices"])
        changes, cursor2 = await erp.state_changes(cursor)
        assert [(ch.external_ref, ch.event) for ch in changes] == [("s:o:2", "invoiced")]
        assert changes[0].invoice_number and changes[0].invoice_number.startswith("INV")
        assert (await erp.get_document(invoiced.document.number)).state == "invoiced"
        assert (await erp.state_changes(cursor2)) == ([], cursor2)
        rpc.close()

        # stock for the listing rules: the product's quantity in the warehouse
        assert (await erp.articles_stock_price(["PS-1"]))["PS-1"].stock == -2  # 2 shipped
    finally:
        await erp.close()
        await quotes.close()


async def test_session_expiry_logs_in_again(tryton: TrytonServer) -> None:
    erp = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
    try:
        erp.rpc._auth = "Session " + "YWRtaW46MTpub3RhdG9rZW4="  # admin:1:notatoken
        assert await erp.find_customer("nobody") is None
        assert erp.rpc._auth and "YWRtaW46MTpub3RhdG9rZW4=" not in erp.rpc._auth
    finally:
        await erp.close()


async def test_a_sale_tryton_cannot_process_is_reported(tryton: TrytonServer) -> None:
    rpc = tryton.rpc()  # no receivable account: the queued processing cannot invoice
    rpc.model("account.configuration", "write", [1], {"default_account_receivable": None})
    rpc.close()
    erp = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
    try:
        [c] = await erp.upsert_customers([CustomerData("s:c:9", "Bob")])
        [d] = await erp.upsert_destinations([(c.code, DestinationData("Bob", "Street 1",
                                                                      "Roma", "IT"))])
        await erp.create_articles([ArticleData("PS-9", "Thing", Decimal("1"))])
        doc = OrderDocumentData("s:o:9", c.code, date.today(), "EUR",
                                (OrderLineData("PS-9", "Thing", 1, Decimal("1"), Decimal("1.22"),
                                               Decimal("22")),),
                                Decimal("1"), Decimal("1.22"), d.code, d.code)
        with pytest.raises(ErpError) as exc:
            await erp.insert_orders([doc])
        assert exc.value.external_ref == "s:o:9"
        assert "process" in exc.value.message
    finally:
        await erp.close()


# -- acceptance 3: erp check ---------------------------------------------------------------
async def test_check_reports_a_missing_sale_module_and_company(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with TrytonServer(template_db("company"), tmp_path / "tryton") as srv:
        await _use(home, srv)
        r = await asincro(home, "erp", "check", env=ENV)
        assert_clean_error(r, "sale", "not activated")
        assert "8.0" in r.out and "company" in r.out
        rpc = srv.rpc()
        [uid] = rpc.model("res.user", "search", [["login", "=", "admin"]], 0, None, None)
        rpc.model("res.user", "write", [uid], {"company": None})
        rpc.context = {}
        rpc.model("res.user", "write", [uid], {"companies": [["remove", [1]]]})
        rpc.close()
        r = await asincro(home, "erp", "check", env=ENV)
        assert_clean_error(r, "company is not set up")


# -- secrets and configuration (no server needed for most) ---------------------------------
async def test_password_never_shown(tmp_path: Path, tryton: TrytonServer) -> None:
    home = tmp_path / "home"
    await _use(home, tryton)
    wrong = "Wr0ng-Passw0rd-Sentinel"
    r = await asincro(home, "erp", "check", env={PW_ENV: wrong})
    assert_clean_error(r, "login refused", PW_ENV)
    assert wrong not in r.out + r.err
    r = await asincro(home, "erp", "check")
    assert_clean_error(r, PW_ENV, "not set")
    # an unreachable server
    bad = tmp_path / "home2"
    r = await asincro(bad, "erp", "use", "tryton", "--url", "http://127.0.0.1:9", "--db", "x",
                      "--user", "admin", "--password-env", PW_ENV)
    assert r.code == 0
    r = await asincro(bad, "erp", "check", env={PW_ENV: wrong})
    assert_clean_error(r, "cannot reach Tryton")
    assert wrong not in r.out + r.err
    # nor in an exception's text, args or repr
    with pytest.raises(ErpError) as exc:
        await TrytonErp.open(_settings(tryton), wrong)
    assert wrong not in str(exc.value) + repr(exc.value.args) + repr(exc.value.__context__)


async def test_embedded_only_commands_say_so_with_tryton(tmp_path: Path) -> None:
    home = tmp_path / "home"
    r = await asincro(home, "erp", "use", "tryton", "--url", "http://127.0.0.1:9", "--db", "x",
                      "--user", "admin", "--password-env", PW_ENV)
    assert r.code == 0, r.err
    r = await asincro(home, "erp", "documents")
    assert_clean_error(r, "embedded ERP", "sincro erp use embedded")
    r = await asincro(home, "erp", "use", "embedded")
    assert r.code == 0
    assert (await asincro(home, "erp", "documents")).code == 0
    assert json.loads(_stored_settings(home)) == {"kind": "embedded"}


# -- issue 14: documents an Italian office can book ---------------------------------------
D = Decimal
ZERO = Decimal("0")


def test_fiscal_checks_agree_with_python_stdnum() -> None:
    """Sincro types an identifier only when Tryton (python-stdnum) accepts it."""
    from stdnum.it import codicefiscale, iva

    rng = random.Random(14)
    pivas = ["00743110157", "12345670017", "01234567890", "00000000000", "IT00743110157",
             "0074311015", "1234567a017", "12345671207", "12345679997", "12345672007"]
    for _ in range(400):
        base = "".join(rng.choice("0123456789") for _ in range(10))
        pivas += [base + d for d in "0123456789"[:3]]
    for n in pivas:
        assert partita_iva_ok(n) == iva.is_valid(n), n
    letters, odd = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789LMNPQRSTUV"
    cfs = ["RSSMRA85T10A562S", "RSSMRA85T10A562X", "RSSMRA85T70A562S", "rssmra85t10a562s",
           "RSSMRA00B29A562", "00743110157", "01234567890"]
    for _ in range(400):
        body = ("".join(rng.choice(letters) for _ in range(6)) + rng.choice(odd) +
                rng.choice(odd) + rng.choice("ABCDEHLMPRST") + rng.choice("0123467LMNQRS") +
                rng.choice(odd) + rng.choice(letters) + "".join(rng.choice(odd) for _ in range(3)))
        check = codicefiscale.calc_check_digit(body)
        cfs += [body + check, body + rng.choice(letters)]
    for c in cfs:
        assert codice_fiscale_ok(c) == codicefiscale.is_valid(c), c


def test_comment_keeps_notes_and_what_could_not_be_a_field() -> None:
    for notes in (None, "Consegnare dopo le 18\nGift: Buon compleanno!", "a\n\n-- Sincro --\nx"):
        for extra in ([], [("Payment", "Satispay")], [("Payment", "X: y"), ("Carrier", "DHL")]):
            comment = compose_comment(notes, extra)
            assert parse_comment(comment) == (notes, dict(extra)), comment
    # a unit price Tryton turns into the shop's line amount
    assert line_price(D("1.23456"), 7, D("8.65")) * 7 == D("8.6499")
    assert line_price(D("3.33"), 3, D("9.99")) == D("3.3300")
    assert line_price(D("10"), 2, None) == D("10.0000")


def _vat_doc(n: int, customer: str, dest: str, lines: tuple[OrderLineData, ...], *,
             shipping: ShippingData | None = None, discounts: tuple[DiscountData, ...] = (),
             rounding: Decimal = ZERO, **kw) -> OrderDocumentData:
    """An order document as Sincro builds it: VAT summary, totals, the shop's rounding."""
    rows: dict[tuple, Decimal] = {}
    for rate, code, nature, amount in (
            [(ln.vat_rate, ln.vat_code, ln.vat_nature, ln.total_tax_excl) for ln in lines]
            + ([(shipping.vat_rate, shipping.vat_code, shipping.vat_nature,
                 shipping.amount_tax_excl)] if shipping else [])
            + [(d.vat_rate, d.vat_code, d.vat_nature, -d.amount_tax_excl) for d in discounts]):
        rows[(rate, code, nature)] = rows.get((rate, code, nature), D(0)) + amount
    summary = tuple(VatSummary(rate, code, nature, taxable,
                               (taxable * rate / 100).quantize(D("0.01"), ROUND_HALF_UP))
                    for (rate, code, nature), taxable in sorted(rows.items(),
                                                                key=lambda r: -r[0][0]))
    excl = sum((r.taxable for r in summary), D(0))
    incl = excl + sum((r.tax for r in summary), D(0)) + rounding
    return OrderDocumentData(f"s:o:{n}", customer, date.today(), "EUR", lines, excl, incl,
                             dest, dest, shop_reference=f"REF{n}", shipping=shipping,
                             discounts=discounts, vat_summary=summary, rounding=rounding, **kw)


def _line(code: str, qty: int, unit: str, rate: str, vat: str, total: str | None = None,
          nature: str | None = None) -> OrderLineData:
    excl = D(total) if total else D(unit) * qty
    r = D(rate)
    return OrderLineData(code, f"Art. {code}", qty, D(unit), D(unit) * (1 + r / 100), r,
                         vat_code=vat, vat_nature=nature, total_tax_excl=excl,
                         total_tax_incl=excl + (excl * r / 100).quantize(D("0.01")))


MULTI = (_line("IT-22", 2, "10.00", "22", "22"), _line("IT-10", 3, "3.33", "10", "10"),
         _line("IT-4", 1, "5.00", "4", "4"), _line("IT-0", 1, "7.00", "0", "N4", nature="N4"),
         _line("IT-22", 7, "1.23456", "22", "22", total="8.65"))
PER_RATE = (DiscountData("Sconto 22%", D("2.00"), D("2.44"), D("22"), vat_code="22"),
            DiscountData("Sconto 10%", D("1.00"), D("1.10"), D("10"), vat_code="10"),
            DiscountData("Sconto 4%", D("0.50"), D("0.52"), D("4"), vat_code="4"))
SHIP = ShippingData(D("5.00"), D("6.10"), D("22"), "Spedizione", vat_code="22")

CUSTOMERS = (
    # a company: valid partita IVA (its codice fiscale is the same 11 digits), PEC and SDI
    CustomerData("s:c:1", "Mario Rossi", company="Rossi S.r.l.", vat_number="00743110157",
                 tax_code="00743110157", email="mario@rossi.it", phone="+39 02 1234567",
                 pec="rossi@pec.rossi.it", sdi_code="M5UXCR1", kind="company", country="IT"),
    # a private customer with a valid codice fiscale
    CustomerData("s:c:2", "Giulia Bianchi", tax_code="RSSMRA85T10A562S",
                 email="giulia@example.it", country="IT"),
    # a wrong check digit and a wrong check character: kept as given, never refused
    CustomerData("s:c:3", "Luca Verdi", company="Verdi & C.", vat_number="01234567890",
                 tax_code="VRDLCU80A01H501X", email="luca@verdi.it", sdi_code="0000000",
                 kind="company", country="IT"),
    # a German company (EU VAT number with its prefix)
    CustomerData("s:c:4", "Hans Muster", company="Muster GmbH", vat_number="DE136695976",
                 email="hans@muster.de", kind="company", country="DE"),
)


async def _vat_setup(erp: TrytonErp) -> dict[str, str]:
    """The customers above, a Milan address each, the articles: {customer ref: address}."""
    customers = await erp.upsert_customers(list(CUSTOMERS))
    dests = await erp.upsert_destinations([(c.code, DestinationData(
        c.name, "Via Torino 2", "Milano", "IT", postcode="20123", province="MI"))
        for c in customers])
    await erp.create_articles([ArticleData(code, code, D("1")) for code in
                               ("IT-22", "IT-10", "IT-4", "IT-0")])
    return {c.external_ref or "": d.code for c, d in zip(customers, dests, strict=True)}


async def test_customers_typed_identifiers_pec_sdi_and_province(tryton: TrytonServer) -> None:
    erp = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
    try:
        made = await erp.upsert_customers(list(CUSTOMERS))
        assert [c.outcome for c in made] == ["created"] * 4
        for want, have in zip(CUSTOMERS, made, strict=True):
            for f in ("name", "company", "vat_number", "tax_code", "email", "phone", "pec",
                      "sdi_code", "kind", "country", "external_ref"):
                assert getattr(have, f) == getattr(want, f), (f, have)
            assert await erp.find_customer(want.external_ref) == replace(have, outcome=None)
        again = await erp.upsert_customers(list(CUSTOMERS))
        assert [c.outcome for c in again] == ["unchanged"] * 4
        # the e-mail finds the customer, the PEC does not
        assert (await erp.find_customer_by_email("MARIO@rossi.it")).code == made[0].code
        assert await erp.find_customer_by_email("rossi@pec.rossi.it") is None
        [nameless] = await erp.upsert_customers([CustomerData("s:c:5", "", email="x@y.it")])
        assert (await erp.find_customer_by_email("x@y.it")).code == nameless.code

        rpc = tryton.rpc()
        parties = {p["id"]: p for p in rpc.model("party.party", "search_read", [
            ["code", "in", [c.code for c in made]]], 0, None, None, ["code", "name"])}
        idents = rpc.model("party.identifier", "search_read", [
            ["party", "in", list(parties)]], 0, None, None, ["party", "type", "code"])
        by_code = {c.code: c.external_ref for c in made}
        got = {(by_code[parties[i["party"]]["code"]], i["type"], i["code"]) for i in idents}
        assert {g for g in got if not g[2].startswith("sincro:")} == {
            ("s:c:1", "it_vat", "00743110157"), ("s:c:1", "it_codicefiscale", "00743110157"),
            ("s:c:1", None, "SDI M5UXCR1"), ("s:c:2", "it_codicefiscale", "RSSMRA85T10A562S"),
            ("s:c:3", None, "VAT 01234567890"), ("s:c:3", None, "CF VRDLCU80A01H501X"),
            ("s:c:3", None, "SDI 0000000"), ("s:c:4", "eu_vat", "DE136695976")}
        assert {p["name"] for p in parties.values()} == {
            "Rossi S.r.l.", "Giulia Bianchi", "Verdi & C.", "Muster GmbH"}
        [pec] = rpc.model("party.contact_mechanism", "search_read", [
            ["value", "=", "rossi@pec.rossi.it"]], 0, None, None, ["type", "name"])
        assert (pec["type"], pec["name"]) == ("email", "PEC")

        # a change is written once; an identifier the office added is left alone
        [rossi] = [p for p in parties if parties[p]["code"] == made[0].code]
        rpc.model("party.identifier", "create", [{"party": rossi, "code": "office note"}])
        changed = replace(CUSTOMERS[0], pec="nuova@pec.rossi.it", sdi_code="ABC1234")
        [c] = await erp.upsert_customers([changed])
        assert (c.outcome, c.pec, c.sdi_code) == ("updated", "nuova@pec.rossi.it", "ABC1234")
        assert (await erp.upsert_customers([changed]))[0].outcome == "unchanged"
        assert rpc.model("party.identifier", "search", [["code", "=", "office note"]],
                         0, None, None)

        # province: the subdivision IT-MI; one Tryton does not have stays empty
        d_mi, d_xx = await erp.upsert_destinations([
            (made[0].code, DestinationData("Mario Rossi", "Via Torino 2", "Milano", "IT",
                                           postcode="20123", province="MI")),
            (made[0].code, DestinationData("Mario Rossi", "Via Roma 1", "Roma", "IT",
                                           province="ZZ"))])
        assert (d_mi.province, d_xx.province) == ("MI", None)
        [a] = rpc.model("party.address", "read", [int(d_mi.code)], ["subdivision.code"])
        assert a["subdivision."]["code"] == "IT-MI"
        again_mi = await erp.upsert_destination(made[0].code, DestinationData(
            "Mario Rossi", "Via Torino 2", "Milano", "IT", postcode="20123", province="MI"))
        assert (again_mi.code, again_mi.outcome) == (d_mi.code, "unchanged")
        rpc.close()
    finally:
        await erp.close()


async def test_multi_rate_sales_equal_the_shop_to_the_cent(tryton: TrytonServer) -> None:
    """Acceptance 4 and 5 on documents built directly: every line has its tax, Tryton's
    untaxed, tax and total amounts are the shop's (with a rounding of +0.01, -0.01, and
    Tryton's own per-tax rounding), notes, payment and carrier reach the sale, and the
    document read back is the one sent."""
    erp = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
    try:
        dest = await _vat_setup(erp)
        code = {c.external_ref: c.code for c in await erp.upsert_customers(list(CUSTOMERS))}

        def doc(n: int, ref: str, **kw) -> OrderDocumentData:
            return _vat_doc(n, code[ref], dest[ref], MULTI, shipping=SHIP, discounts=PER_RATE,
                            **kw)

        docs = [
            doc(1, "s:c:1", notes="Citofono Rossi\nGift: Buon compleanno!",
                payment="Bank wire", payment_method="ps_wirepayment",
                carrier="Corriere Espresso", carrier_id=2),
            doc(2, "s:c:2", rounding=D("0.01"), payment="PayPal", carrier="Poste Italiane"),
            doc(3, "s:c:3", rounding=D("-0.01"), payment="Satispay", carrier="DHL Express",
                notes="Lasciare in portineria", conversion_rate=D("1.0825")),
            # Tryton rounds a rate's discount apart from its goods: 0.06 - 0.00 here, where
            # the summary has 0.05 on 0.23
            _vat_doc(4, code["s:c:4"], dest["s:c:4"], (_line("IT-22", 1, "0.25", "22", "22"),),
                     discounts=(DiscountData("Sconto", D("0.02"), D("0.02"), D("22"),
                                             vat_code="22"),)),
        ]
        assert docs[0].total_tax_excl == D("52.14")
        results = await erp.insert_orders(docs)
        assert all(r.created for r in results)

        rpc = tryton.rpc()
        sales = {s["description"]: s for s in rpc.model(
            "sale.sale", "search_read", [["description", "in", [d.external_ref for d in docs]]],
            0, None, None, ["description", "state", "untaxed_amount", "tax_amount",
                            "total_amount", "comment", "payment_term.name", "carrier",
                            "lines", "invoices", "shipment_address"])}
        for d in docs:
            s = sales[d.external_ref]
            assert s["state"] == "processing", s
            assert (D(s["untaxed_amount"]["decimal"]), D(s["tax_amount"]["decimal"]),
                    D(s["total_amount"]["decimal"])) == (
                d.total_tax_excl, d.total_tax_incl - d.total_tax_excl, d.total_tax_incl), d
            # the invoice Tryton made from the sale says the same
            [inv] = rpc.model("account.invoice", "read", s["invoices"],
                              ["untaxed_amount", "tax_amount", "total_amount"])
            assert D(inv["total_amount"]["decimal"]) == d.total_tax_incl
            assert D(inv["untaxed_amount"]["decimal"]) == d.total_tax_excl
            lines = rpc.model("sale.line", "read", s["lines"], ["taxes.name", "description",
                                                               "quantity", "unit_price"])
            assert all(ln["taxes."] for ln in lines), lines  # every line has its tax
        s1, s2, s3 = (sales[f"s:o:{i}"] for i in (1, 2, 3))
        assert s1["payment_term."]["name"] == "Bank wire" and s1["carrier"]
        assert s1["comment"] == "Citofono Rossi\nGift: Buon compleanno!"
        assert s2["payment_term."]["name"] == "PayPal" and s2["comment"] is None
        assert s3["payment_term."] is None and s3["carrier"] is None
        assert s3["comment"] == ("Lasciare in portineria\n\n-- Sincro --\nPayment: Satispay\n"
                                 "Carrier: DHL Express\nConversion rate: 1.0825")
        names = {c["id"]: c["carrier_product."]["name"] for c in rpc.model(
            "carrier", "search_read", [], 0, None, None, ["carrier_product.name"])}
        assert (names[s1["carrier"]], names[s2["carrier"]]) == ("Corriere Espresso",
                                                                "Poste Italiane")
        # the rounding lines: +1 and -1 times the 0.01 tax, and -1 for Tryton's own rounding
        rounding = {d: sorted((ln["quantity"], ln["taxes."][0]["name"]) for ln in rpc.model(
            "sale.line", "read", sales[d]["lines"], ["description", "quantity", "taxes.name"])
            if ln["description"] == "Rounding") for d in sales}
        assert rounding == {"s:o:1": [], "s:o:2": [(1.0, "ROUNDING")],
                            "s:o:3": [(-1.0, "ROUNDING")], "s:o:4": [(-1.0, "ROUNDING")]}
        rpc.close()

        # read back: what was sent
        back = await erp.find_documents([d.external_ref for d in docs])
        for d in docs:
            b = back[d.external_ref]
            assert (b.total_tax_excl, b.total_tax_incl) == (d.total_tax_excl, d.total_tax_incl)
            assert b.vat_summary == d.vat_summary, (b.vat_summary, d.vat_summary)
            assert b.rounding == d.rounding
            assert (b.notes, b.payment, b.carrier) == (d.notes, d.payment, d.carrier)
            assert b.conversion_rate == d.conversion_rate
            arts = [ln for ln in b.lines if ln.kind == "article"]
            assert [(ln.article_code, ln.quantity, ln.vat_rate, ln.vat_code, ln.vat_nature,
                     ln.total_tax_excl) for ln in arts] == [
                (ln.article_code, ln.quantity, ln.vat_rate, ln.vat_code, ln.vat_nature,
                 ln.total_tax_excl) for ln in d.lines]
            assert [(ln.description, ln.vat_code, -ln.total_tax_excl) for ln in b.lines
                    if ln.kind == "discount"] == [
                (x.description, x.vat_code, x.amount_tax_excl) for x in d.discounts]
        assert await erp.find_document("s:o:2") == back["s:o:2"]
        # a second insert finds the sales and changes nothing
        again = await erp.insert_orders(docs)
        assert not any(r.created for r in again)
        assert [r.document.number for r in again] == [r.document.number for r in results]
    finally:
        await erp.close()


async def test_carrier_without_the_carrier_module_goes_to_the_comment(
        tryton: TrytonServer) -> None:
    erp = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
    try:
        dest = await _vat_setup(erp)
        [c] = await erp.upsert_customers([CUSTOMERS[1]])
        # as on a Tryton without sale_shipment_cost: sales have no carrier, nor a cost method
        erp._carrier_module = False
        rpc = tryton.rpc()
        rpc.model("sale.configuration", "write", [1], {"sale_shipment_cost_method": None})
        rpc.close()
        d = _vat_doc(7, c.code, dest["s:c:2"], MULTI[:2], shipping=SHIP,
                     payment="Bank wire", carrier="Corriere Espresso", notes="Piano 3")
        [r] = await erp.insert_orders([d])
        assert r.created and r.document.total_tax_incl == d.total_tax_incl
        rpc = tryton.rpc()
        [s] = rpc.model("sale.sale", "search_read", [["description", "=", "s:o:7"]], 0, None,
                        None, ["comment", "carrier"])
        rpc.close()
        assert s["comment"] == "Piano 3\n\n-- Sincro --\nCarrier: Corriere Espresso"
        assert s["carrier"] is None
        b = await erp.find_document("s:o:7")
        assert (b.notes, b.payment, b.carrier) == ("Piano 3", "Bank wire", "Corriere Espresso")
    finally:
        await erp.close()


async def test_a_vat_code_without_its_tax_is_named(tryton: TrytonServer) -> None:
    erp = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
    try:
        dest = await _vat_setup(erp)
        [c] = await erp.upsert_customers([CUSTOMERS[1]])
        unknown = _vat_doc(8, c.code, dest["s:c:2"], (_line("IT-22", 1, "10", "22", "N9"),))
        with pytest.raises(ErpError) as exc:
            await erp.insert_orders([unknown])
        assert exc.value.external_ref == "s:o:8"
        assert "'N9'" in exc.value.message and "account.tax" in (exc.value.hint or "")
        wrong = _vat_doc(9, c.code, dest["s:c:2"], (_line("IT-22", 1, "10", "22", "10"),))
        with pytest.raises(ErpError) as exc:
            await erp.insert_orders([wrong])
        assert "'10' is at 10 %" in exc.value.message and exc.value.external_ref == "s:o:9"
        assert await erp.find_document("s:o:9") is None

        # no rounding tax: an order that needs a rounding line says what to create
        rpc = tryton.rpc()
        [rt] = rpc.model("account.tax", "search", [["name", "=", "ROUNDING"]], 0, None, None)
        rpc.model("account.tax", "write", [rt], {"name": "Arrotondamento"})
        rpc.close()
        fresh = await TrytonErp.open(_settings(tryton), ADMIN_PASSWORD)
        try:
            needs = _vat_doc(10, c.code, dest["s:c:2"], MULTI[:1], rounding=D("0.01"))
            with pytest.raises(ErpError) as exc:
                await fresh.insert_orders([needs])
            assert "ROUNDING" in exc.value.message and exc.value.external_ref == "s:o:10"
            # once the office creates it, the same order goes through, once
            named = await TrytonErp.open(_settings(tryton, rounding_tax="Arrotondamento"),
                                         ADMIN_PASSWORD)
            try:
                [r] = await named.insert_orders([needs])
                assert r.document.total_tax_incl == needs.total_tax_incl
                assert r.document.total_tax_excl == needs.total_tax_excl
            finally:
                await named.close()
        finally:
            await fresh.close()
    finally:
        await erp.close()


# -- acceptance 4 and 5 through the real sync --------------------------------------------
async def test_fifty_multi_rate_orders_then_reconcile_reports_nothing(
        tmp_path: Path, tryton: TrytonServer) -> None:
    home = tmp_path / "home"
    async with EmulatorServer(generate(60, seed=14)) as emu:
        r = await asincro(home, "account", "add", "shop1", "--url", emu.url, "--key", emu.key)
        assert r.code == 0, r.err
        r = await asincro(home, "account", "edit", "shop1", "--tax-map",
                          "22=22,10=10,5=5,4=4,0=N4")
        assert r.code == 0, r.err
        await _use(home, tryton)
        r = await asincro(home, "sync", "shop1", "--orders", "--json", env=ENV, limit=280)
        assert r.code == 0, r.err + r.out
        summary = json.loads(r.out)
        assert summary["outcome"] == "ok", summary
        assert summary["counts"]["documents_inserted"] >= 50, summary

        table = emu.state.table("orders")
        rpc = tryton.rpc()
        sales = rpc.model("sale.sale", "search_read", [], 0, None, [["id", "ASC"]], [
            "description", "state", "untaxed_amount", "tax_amount", "total_amount", "lines",
            "comment", "payment_term.name", "carrier"])
        assert len(sales) == summary["counts"]["documents_inserted"]
        multi = 0
        for s in sales:
            o = table[int(s["description"].rsplit(":", 1)[1])]
            excl = D(emu.state.value("orders", o, "total_paid_tax_excl"))
            incl = D(emu.state.value("orders", o, "total_paid_tax_incl"))
            assert s["state"] == "processing", s
            assert (D(s["untaxed_amount"]["decimal"]), D(s["tax_amount"]["decimal"]),
                    D(s["total_amount"]["decimal"])) == (excl, incl - excl, incl), s
            lines = rpc.model("sale.line", "read", s["lines"], ["taxes.name", "description"])
            assert all(ln["taxes."] or ln["description"] == "Rounding" for ln in lines), lines
            rates = {t["name"] for ln in lines for t in ln["taxes."] or []} - {"ROUNDING"}
            multi += len(rates) > 1
            # payment and carrier: a field when Tryton has them, else in the comment
            payment = emu.state.value("orders", o, "payment")
            if payment in PAYMENT_TERMS:
                assert s["payment_term."]["name"] == payment, s
            else:
                assert f"Payment: {payment}" in (s["comment"] or ""), s
        assert multi >= 25, multi
        carriers = {c["id"]: c["carrier_product."]["name"] for c in rpc.model(
            "carrier", "search_read", [], 0, None, None, ["carrier_product.name"])}
        assert {carriers[s["carrier"]] for s in sales if s["carrier"]} <= set(CARRIERS)
        assert any(s["carrier"] for s in sales)
        # order messages and gift messages became notes
        gifts = [str(emu.state.value("orders", o, "gift_message") or "") for o in table.values()]
        comments = "\n".join(s["comment"] or "" for s in sales)
        assert any(g and g in comments for g in gifts), "no gift message reached a sale"
        rpc.close()

        r = await asincro(home, "reconcile", "shop1", "--json", env=ENV, limit=180)
        report = json.loads(r.out)
        assert r.code == 0 and report["aligned"], report
        assert report["counts"] == {c: 0 for c in report["counts"]}, report
        assert report["checked"]["documents"] >= 50
