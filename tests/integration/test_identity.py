"""Issue 15: one ERP customer per person, one article per product, against the emulator."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from core import listings as lst
from core.erp.embedded import EmbeddedErp
from core.reconcile import reconcile, review
from core.resync import apply_fix
from core.sync import orders as orders_step
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro, sincro
from tests.hubs import hub_rows
from tests.synctools import (
    assert_erp_holds_each_importable_order_once,
    engine_for,
    shop_orders,
)


def _pairs(state, n: int = 2) -> list[tuple[int, int]]:
    """Customers with importable orders and e-mails of their own, paired guest/registered:
    (first, second) by first order; the second gets the first's e-mail in upper case."""
    orders = shop_orders(state)
    customers = state.table("customers")
    emails = Counter(state.value("customers", c, "email").strip().lower()
                     for c in customers.values())
    first_order: dict[int, int] = {}
    for oid, o in sorted(orders.items()):
        if o["state"] not in (6, 8):
            first_order.setdefault(o["customer"], oid)
    guests, registered = [], []
    for cid in sorted(first_order, key=first_order.get):
        c = customers[cid]
        if emails[state.value("customers", c, "email").strip().lower()] != 1:
            continue
        (guests if state.value("customers", c, "is_guest") == "1" else registered).append(cid)
    out = []
    # guest first then registered, and registered first then guest
    g, r = guests[0], next(x for x in registered if first_order[x] > first_order[guests[0]])
    out.append((g, r))
    r2 = next(x for x in registered if x != r)
    g2 = next(x for x in guests[1:] if first_order[x] > first_order[r2])
    out.append((r2, g2))
    for first, second in out:
        customers[second]["email"] = customers[first]["email"].upper()
    return out[:n]


async def test_guests_and_accounts_with_one_email_are_one_erp_customer(tmp_path: Path) -> None:
    state = generate(300, seed=15)
    pairs = _pairs(state)
    async with EmulatorServer(state) as emu:
        home = tmp_path / "home"
        async with engine_for(home, emu) as engine:
            summary = await engine.run_sync("shop1", "orders")
            assert summary.outcome == "ok", summary.errors[:3]
            report = await review(engine.hub, "shop1")
        await assert_erp_holds_each_importable_order_once(home, state)
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        orders = shop_orders(state)
        for first, second in pairs:
            codes = set()
            for oid, o in orders.items():
                if o["customer"] in (first, second) and o["state"] not in (6, 8):
                    codes.add((await erp.find_document(f"shop1:o:{oid}")).customer_code)
            assert len(codes) == 1, (first, second, codes)
            merged = [m for m in report.merged if {first, second} <= set(m.customer_ids)]
            assert len(merged) == 1 and merged[0].erp_code == codes.pop()
        emails = Counter((c.email or "").lower() for c in await erp.list_customers())
        assert max(emails.values()) == 1
    finally:
        await erp.close()


async def test_a_hub_made_before_holds_doubles_that_reconcile_lists_and_merges(
        tmp_path: Path, monkeypatch) -> None:
    state = generate(300, seed=16)
    (first, second), *_ = _pairs(state, 1)

    def previous_release(ctx, customer, refs=None):  # the rule of the release before
        if customer.is_guest and customer.email and ctx.account.option("merge_guests"):
            return ctx.ref("e", customer.email.strip().lower())
        return ctx.ref("c", customer.id)

    async with EmulatorServer(state) as emu:
        home = tmp_path / "home"
        with monkeypatch.context() as m:
            m.setattr(orders_step, "customer_ref", previous_release)
            async with engine_for(home, emu) as engine:
                assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
        erp = await EmbeddedErp.open(home / "erp.db")
        try:
            before = len(await erp.list_customers())
        finally:
            await erp.close()
        async with engine_for(home, emu) as engine:  # today's code on that hub
            report = await reconcile(engine, "shop1")
            (pair,) = [d for d in report.doubled_customers
                       if {first, second} <= set(d.customer_ids)]
            assert len(pair.others) == 1
            # an upgrade never creates a customer on its own: new orders of either link
            state.generator.customer_pool = [first, second]
            again = await engine.run_sync("shop1", "orders")
            assert again.counts.get("customers_created", 0) == 0
            result = (await engine.run_operation(
                "shop1", "fix-doubled_customers",
                lambda ctx: apply_fix(ctx, report, "doubled_customers"),
                trigger="cli")).result()
            assert not result.unresolved, result.unresolved
            after = await reconcile(engine, "shop1")
            assert after.doubled_customers == []
            rerun = await engine.run_sync("shop1", "orders")
            assert rerun.counts.get("customers_created", 0) == 0
        erp = await EmbeddedErp.open(home / "erp.db")
        try:
            assert len(await erp.list_customers()) == before - len(report.doubled_customers)
            codes = {d.customer_code for d in
                     [await erp.find_document(f"shop1:o:{oid}")
                      for oid, o in shop_orders(state).items()
                      if o["customer"] in (first, second) and o["state"] not in (6, 8)]
                     if d is not None}
            assert codes == {pair.keep_code}
        finally:
            await erp.close()
        await assert_erp_holds_each_importable_order_once(home, state)


async def test_the_offices_own_customers_and_articles_are_found_not_doubled(
        tmp_path: Path) -> None:
    state = generate(200, seed=17)
    orders = shop_orders(state)
    importable = {oid for oid, o in orders.items() if o["state"] not in (6, 8)}
    customers = state.table("customers")
    addresses = state.table("addresses")
    used = {o["customer"] for oid, o in orders.items() if oid in importable}
    # a company with a valid partita IVA, and a private customer with a codice fiscale,
    # each with one address (their billing data is that address)
    by_customer: dict[int, list[dict]] = {}
    for a in addresses.values():
        by_customer.setdefault(int(a["id_customer"]), []).append(a)
    from core import fiscal

    emails = Counter(state.value("customers", c, "email").strip().lower()
                     for c in customers.values())

    def only(cid: int) -> dict | None:
        """The customer's one address, when it is the only customer with its e-mail."""
        mine = by_customer.get(cid, [])
        if emails[state.value("customers", customers[cid], "email").strip().lower()] != 1:
            return None
        return mine[0] if len(mine) == 1 and mine[0].get("deleted", "0") != "1" else None

    company = next(cid for cid in sorted(used) if (a := only(cid)) and a.get("vat_number")
                   and (v := fiscal.vat_number(a["vat_number"], "IT")) and v.valid)
    person = next(cid for cid in sorted(used) if (a := only(cid)) and a.get("dni")
                  and not a.get("vat_number") and fiscal.tax_code(a["dni"]).valid
                  and customers[cid].get("is_guest", "0") != "1")
    vat = fiscal.vat_number(only(company)["vat_number"], "IT").value
    cf = fiscal.tax_code(only(person)["dni"]).value
    # two products: one the ERP has under the shop reference, one under its EAN13 only
    details = [d for d in state.table("order_details").values()
               if int(d["id_order"]) in importable]
    ref_product = details[0]["product_reference"]
    ean_pid = next(int(d["product_id"]) for d in details
                   if d["product_reference"] != ref_product)
    for d in details:
        if int(d["product_id"]) == ean_pid:
            d["product_reference"] = "NOT-IN-ERP"
            d["product_ean13"] = "8001234567893"
            d["product_attribute_id"] = "0"
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (tmp_path / "customers.csv").write_text(
        "code;name;vat_number;tax_code;email\n"
        f"OFF-1;Ditta in anagrafica;IT {vat};;ufficio@example.it\n"
        f"OFF-2;Persona in anagrafica;;{cf.lower()};\n", encoding="utf-8")
    (tmp_path / "articles.csv").write_text(
        "code,description,price,stock,ean13\n"
        f"{ref_product},Già in magazzino,\"10,00\",50,\n"
        "ERP-EAN,Con EAN,12.50,20,8001234567893\n", encoding="utf-8")
    async with EmulatorServer(state) as emu:
        assert sincro(home, "account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url,
                      "--key", emu.key).code == 0
        for what in ("customers", "articles"):
            r = sincro(home, "erp", "import", what, str(tmp_path / f"{what}.csv"))
            assert r.code == 0, r.err
        async with engine_for(home, emu, name="") as engine:
            summary = await engine.run_sync("shop1", "orders")
            assert summary.outcome == "ok", summary.errors[:3]
            report = await review(engine.hub, "shop1")
    erp = await EmbeddedErp.open(home / "erp.db")
    try:
        docs = {oid: await erp.find_document(f"shop1:o:{oid}") for oid in importable}
        assert all(docs.values())
        for oid, o in orders.items():
            if oid in importable and o["customer"] == company:
                assert docs[oid].customer_code == "OFF-1"
            if oid in importable and o["customer"] == person:
                assert docs[oid].customer_code == "OFF-2"
        lines = [ln for d in docs.values() for ln in d.lines if ln.kind == "article"]
        assert any(ln.article_code == "ERP-EAN" for ln in lines)
        assert not any(ln.article_code == "NOT-IN-ERP" for ln in lines)
        customers_erp = await erp.list_customers()
        assert sum(1 for c in customers_erp if c.vat_number == vat) == 1
        assert sum(1 for c in customers_erp if c.tax_code == cf) == 1
    finally:
        await erp.close()
    matched = {(m.kind, m.by, m.erp_code) for m in report.matches}
    assert ("customer", "vat_number", "OFF-1") in matched
    assert ("customer", "tax_code", "OFF-2") in matched
    assert ("article", "reference", ref_product) in matched
    assert ("article", "ean13", "ERP-EAN") in matched


def test_a_bad_seed_file_names_each_line_and_writes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (tmp_path / "a.csv").write_text(
        "code,description,price,stock,ean13\nA1,Good,1.00,1,\nA1,Again,2.00,1,\n"
        "B2,,x,1.5,12\nC3,Fine,3.00,0,\n", encoding="utf-8")
    r = sincro(home, "erp", "import", "articles", str(tmp_path / "a.csv"))
    assert r.code == 2 and "Traceback" not in r.err
    for fragment in ("line 3: code A1 is also on line 2", "line 4: description is empty",
                     "line 4: price 'x' is not a number", "line 4: stock '1.5'",
                     "line 4: ean13 '12'", "nothing imported"):
        assert fragment in r.err, (fragment, r.err)
    assert "no articles" in sincro(home, "erp", "articles").out.lower() or \
        "A1" not in sincro(home, "erp", "articles").out


async def test_auto_created_articles_start_at_the_shops_stock(tmp_path: Path) -> None:
    state = generate(300, seed=18)
    # one product sold in these orders is out of stock on the shop now
    sold = Counter(int(d["product_id"]) for d in state.table("order_details").values()
                   if d.get("product_attribute_id", "0") in ("0", ""))
    combos = {int(c["id_product"]) for c in state.tables["combinations"].values()}
    empty = next(pid for pid, _ in sold.most_common() if pid not in combos)
    for s in state.tables["stock_availables"].values():
        if int(s["id_product"]) == empty:
            s["quantity"] = "0"
    state.table("products")[empty]["active"] = "1"
    stock = {(int(s["id_product"]), int(s.get("id_product_attribute") or 0)):
             int(s.get("quantity") or 0) for s in state.tables["stock_availables"].values()}
    async with EmulatorServer(state) as emu:
        home = tmp_path / "home"
        async with engine_for(home, emu) as engine:
            assert (await engine.run_sync("shop1", "orders")).outcome == "ok"
            mapped = {r[2]: (r[0], r[1]) for r in hub_rows(
                home, "SELECT product_id, attribute_id, code FROM articles")}
            erp = await engine.erp()
            articles = await erp.find_articles(sorted(mapped))
            for code, a in articles.items():
                assert a.stock == stock[mapped[code]], (code, a.stock, stock[mapped[code]])
            # a "stop when out of stock" dry run right after: only what is out of stock
            await lst.save_list(engine.hub, "all", add_patterns=["*"])
            await lst.save_listing(engine.hub, "web", account="shop1", lists=["all"],
                                   rules=[lst.make_rule("stock <= 0", "stop")], create=True)
        # the operator's dry run, as printed (a dry run records nothing)
        r = await asincro(home, "listing", "run", "web", "--dry-run")
        assert r.code == 0, r.err
        text = r.out
    stopped = {code for code in re.findall(r"\(article ([^)]+)\)[^\n]*(?:active: 1 -> 0|"
                                           r"quantity: \d+ -> 0)", text)}
    out_of_stock = {code for code, key in mapped.items() if stock[key] <= 0}
    assert stopped and stopped <= out_of_stock, (stopped - out_of_stock, text[:2000])
    assert any(mapped[c][0] == empty for c in stopped)
    assert len(stopped) < len(mapped)  # not half the catalogue: only what is out of stock
    active = {int(p) for p, o in state.table("products").items()
              if state.value("products", o, "active") == "1"}
    assert {c for c in out_of_stock if mapped[c][0] in active and mapped[c][1] == 0} <= stopped
