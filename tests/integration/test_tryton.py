"""Sincro against a real Tryton 8.0 server (trytond from the `tryton` dependency group).

The server runs in its own process on a free loopback port, from a template
database built once and cached (tests/tryton_server.py).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from core.erp.port import (
    ArticleData,
    CustomerData,
    DestinationData,
    ErpError,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
)
from core.erp.tryton import TrytonErp, TrytonSettings
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro, assert_clean_error
from tests.synctools import EXCLUDED, shop_orders
from tests.tryton_server import (
    ADMIN_PASSWORD,
    DB_NAME,
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
    return template_db("sale")


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
    with sqlite3.connect(home / "hub.db") as db:
        return db.execute("SELECT value FROM settings WHERE name = 'erp'").fetchone()[0]


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

        with sqlite3.connect(home / "hub.db") as hub:
            code_of = {(p, a): c for p, a, c in hub.execute(
                "SELECT product_id, attribute_id, code FROM articles")}
        table = emu.state.table("orders")
        customers = emu.state.table("customers")
        for s in sales:
            oid = int(s["description"].rsplit(":", 1)[1])
            o = table[oid]
            assert s["reference"] == o["reference"]
            c = customers[int(o["id_customer"])]
            assert c["lastname"] in s["party."]["name"]
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
