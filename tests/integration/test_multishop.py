"""Multishop and languages (issue 16), over loopback against the emulator.

Two accounts bound to shops 1 and 2 of one emulated multishop install: each reads only its
shop's orders, and every request it makes carries its ``id_shop`` (the emulator's request
log, side channel ``requests/log``), so its listings and order states are written in its
shop only. A shop with English (id 1) and Italian (id 2): an account with ``--language it``
keeps Italian order state and product names, one without keeps the shop's English ones.
"""

from __future__ import annotations

import json
from dataclasses import replace

import httpx
import pytest

from core import accounts as acc
from core import listings as lst
from core.reconcile import reconcile
from core.runs import run_log
from emulator.data import generate
from emulator.server import EmulatorServer
from tests.helpers import asincro, assert_clean_error
from tests.synctools import OPTIONS, engine_for, erp_documents

EXCLUDED = {6, 8}
MAP = {"shipped": 4, "invoiced": 5, "cancelled": 6}


def shop_orders(state, shop: int) -> set[int]:
    """The importable orders of one shop of the install, from the emulator's tables."""
    return {oid for oid, o in state.table("orders").items()
            if o["id_shop"] == str(shop) and int(o["current_state"]) not in EXCLUDED}


async def hub_orders(engine, account: str) -> set[int]:
    rows = await engine.hub.fetchall(
        "SELECT o.shop_id FROM orders o JOIN accounts a ON a.id = o.account_id WHERE a.name = ?",
        (account,))
    return {r[0] for r in rows}


@pytest.fixture
async def install(tmp_path):
    async with EmulatorServer(generate(40, seed=11, shops=2)) as emu:
        async with engine_for(tmp_path / "home", emu, name="") as engine:
            for name, shop in (("shop-a", 1), ("shop-b", 2)):
                await acc.add_account(engine.hub, acc.build_account(
                    name, emu.url, key=emu.key, tz="Europe/Rome",
                    options={**OPTIONS, "state_map": MAP, "shop_id": shop}))
            async with httpx.AsyncClient(base_url=emu.url + "_emulator/") as side:
                yield emu, engine, side


async def test_two_accounts_import_disjoint_orders_each_in_its_shop(install, tmp_path):
    emu, engine, side = install
    one, two = shop_orders(emu.state, 1), shop_orders(emu.state, 2)
    assert one and two, "the seeded install should have importable orders in both shops"

    await side.post("requests/reset")
    s = await engine.run_sync("shop-b", "orders")
    assert s.outcome == "ok", s.errors
    log = (await side.get("requests/log")).json()
    assert log and all(r["id_shop"] == "2" for r in log), [r for r in log if r["id_shop"] != "2"][:5]

    s = await engine.run_sync("shop-a", "orders")
    assert s.outcome == "ok", s.errors
    got_a, got_b = await hub_orders(engine, "shop-a"), await hub_orders(engine, "shop-b")
    assert got_a == one and got_b == two
    assert not got_a & got_b
    importable = {oid for oid, o in emu.state.table("orders").items()
                  if int(o["current_state"]) not in EXCLUDED}
    assert got_a | got_b == importable
    # in the ERP: one document per order, under the account of its shop
    refs = {d.external_ref for d in await erp_documents(tmp_path / "home")}
    assert refs == {f"shop-a:o:{i}" for i in one} | {f"shop-b:o:{i}" for i in two}
    # a rerun of either imports nothing
    again = await engine.run_sync("shop-a", "orders")
    assert again.outcome == "ok" and not again.counts.get("orders_imported")
    # each account's reconcile reads its shop's orders only, and finds them all in the ERP
    for name, shop in (("shop-a", 1), ("shop-b", 2)):
        report = await reconcile(engine, name)
        assert report.aligned, report.counts()
        assert report.orders_checked == sum(1 for o in emu.state.table("orders").values()
                                            if o["id_shop"] == str(shop))


async def test_states_and_listings_write_only_in_their_shop(install):
    emu, engine, side = install
    for name in ("shop-a", "shop-b"):
        s = await engine.run_sync(name, "orders")
        assert s.outcome == "ok", s.errors
    erp = await engine.erp()
    docs = await erp.list_documents("open")
    mine = [d for d in docs if d.external_ref.startswith("shop-a:o:")
            and int(emu.state.tables["orders"][int(d.external_ref.rsplit(":", 1)[1])]["current_state"])
            not in (4, 5, 6)][:3]
    others = [d for d in docs if d.external_ref.startswith("shop-b:o:")][:2]
    assert mine and others
    for d in mine + others:
        await erp.set_state(d.number, "cancelled")
    histories_before = set(emu.state.tables["order_histories"])

    await side.post("requests/reset")
    s = await engine.run_sync("shop-a", "states")
    assert s.outcome == "ok", s.errors
    assert s.counts["states_pushed"] == len(mine)
    log = (await side.get("requests/log")).json()
    assert any(r["method"] == "POST" for r in log)
    assert all(r["id_shop"] == "1" for r in log)
    new = [h for i, h in emu.state.tables["order_histories"].items() if i not in histories_before]
    assert {int(h["id_order"]) for h in new} == {int(d.external_ref.rsplit(":", 1)[1]) for d in mine}
    assert all(emu.state.tables["orders"][int(h["id_order"])]["id_shop"] == "1" for h in new)
    for d in others:  # account b's cancelled documents wait for account b
        assert emu.state.tables["orders"][int(d.external_ref.rsplit(":", 1)[1])]["current_state"] != "6"

    # a listing of account b sets the ERP's stock in shop 2; shop 1 keeps its own
    code, pid = await engine.hub.fetchone(
        "SELECT code, product_id FROM articles a JOIN accounts c ON c.id = a.account_id "
        "WHERE c.name = 'shop-b' AND attribute_id = 0 ORDER BY product_id LIMIT 1")
    shop1_before = (await side.get(f"products/{pid}", params={"shop": 1})).json()
    wanted = shop1_before["quantity"] + 17
    await erp.set_stock(code, wanted)
    await lst.save_list(engine.hub, "b-web", add_codes=[code])
    await lst.save_listing(engine.hub, "b-web", account="shop-b", lists=["b-web"], create=True,
                           rules=[lst.make_rule("always", "update", "quantity")])
    await side.post("requests/reset")
    s = await engine.run_sync("shop-b", "listings")
    assert s.outcome == "ok", s.errors
    assert s.counts["listing_actions"] == 1
    assert all(r["id_shop"] == "2" for r in (await side.get("requests/log")).json())
    assert (await side.get(f"products/{pid}", params={"shop": 2})).json()["quantity"] == wanted
    assert (await side.get(f"products/{pid}", params={"shop": 1})).json() == shop1_before


async def test_the_emulator_keeps_each_shop_to_its_own(install):
    emu, _engine, _side = install
    one = min(shop_orders(emu.state, 1))
    auth = (emu.key, "")
    async with httpx.AsyncClient(base_url=emu.url + "api/", auth=auth) as api:
        r = await api.get(f"orders/{one}", params={"id_shop": "2", "output_format": "JSON"})
        assert r.status_code == 404
        assert r.json()["errors"] == [{"code": 131, "message": f"This Order ({one}) does not exists on this shop"}]
        r = await api.post("order_histories", params={"id_shop": "2", "output_format": "JSON"},
                           content=f"<prestashop><order_history><id_order>{one}</id_order>"
                                   "<id_order_state>6</id_order_state></order_history></prestashop>")
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == 131
        r = await api.get("orders", params={"id_shop": "2", "display": "[id,id_shop]", "output_format": "JSON"})
        assert {o["id_shop"] for o in r.json()["orders"]} == {"2"}
        r = await api.get("orders", params={"id_shop": "x", "output_format": "JSON"})
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == 999
        r = await api.get("orders", params={"id_shop": "9", "output_format": "JSON"})
        assert r.status_code == 403 and r.json()["errors"][0]["code"] == 132
        r = await api.get("orders", params={"id_group_shop": "5", "output_format": "JSON"})
        assert r.status_code == 500 and r.json()["errors"][0]["code"] == 999
        r = await api.get("shops", params={"display": "full", "output_format": "JSON"})
        assert [(s["id"], s["name"]) for s in r.json()["shops"]] == [(1, "PrestaShop"), (2, "PrestaShop 2")]


async def test_bad_shop_id_and_language_are_refused_in_one_line(install, tmp_path):
    emu, engine, _side = install
    home = tmp_path / "home"
    add = ("account", "add", "new1", "--url", emu.url, "--key", emu.key)
    r = await asincro(home, *add, "--shop-id", "7")
    assert_clean_error(r, "no shop 7", "1 (PrestaShop)", "2 (PrestaShop 2)")
    r = await asincro(home, *add, "--shop-id", "two")
    assert_clean_error(r, "invalid shop id", "--shop-id")
    r = await asincro(home, *add, "--language", "de")
    assert_clean_error(r, "no active language 'de'", "en (English (English))", "it (Italiano (Italian))")
    r = await asincro(home, "account", "edit", "shop-a", "--shop-id", "3")
    assert_clean_error(r, "no shop 3")
    r = await asincro(home, "account", "edit", "shop-a", "--language", "english")
    assert_clean_error(r, "invalid language")
    assert (await acc.get_account(engine.hub, "shop-a")).options["shop_id"] == 1
    r = await asincro(home, *add, "--shop-id", "2", "--language", "it")
    assert r.code == 0, r.err
    account = await acc.get_account(engine.hub, "new1")
    assert account.option("shop_id") == 2 and account.option("language") == "it"
    r = await asincro(home, "account", "test", "new1")
    assert r.code == 0, r.err
    assert "shops: 1 PrestaShop, 2 PrestaShop 2 (this account's)" in r.out
    assert "languages: en English (English), it Italiano (Italian)" in r.out
    r = await asincro(home, "account", "edit", "new1", "--shop-id", "none", "--language", "none")
    assert r.code == 0, r.err
    assert (await acc.get_account(engine.hub, "new1")).options.keys().isdisjoint({"shop_id", "language"})


@pytest.fixture
async def bilingual(tmp_path):
    async with EmulatorServer(generate(16, seed=4, languages=("en", "it"))) as emu:
        async with engine_for(tmp_path / "home", emu, name="") as engine:
            for name, language in (("shop-it", "it"), ("shop-en", None)):
                options = {**OPTIONS, "state_map": MAP}
                if language:
                    options["language"] = language
                await acc.add_account(engine.hub, acc.build_account(
                    name, emu.url, key=emu.key, tz="Europe/Rome", options=options))
            yield emu, engine


async def test_an_italian_account_keeps_italian_state_and_product_names(bilingual, tmp_path):
    emu, engine = bilingual
    products = emu.state.tables["products"]
    states = emu.state.tables["order_states"]
    for name in ("shop-it", "shop-en"):
        s = await engine.run_sync(name, "orders")
        assert s.outcome == "ok", s.errors

    async def hub(account: str, sql: str) -> list:
        return await engine.hub.fetchall(
            sql + " AND account_id = (SELECT id FROM accounts WHERE name = ?)", (account,))

    italian = {r[0]: r[1] for r in await hub("shop-it", "SELECT product_id, name FROM articles "
                                                       "WHERE attribute_id = 0")}
    english = {r[0]: r[1] for r in await hub("shop-en", "SELECT product_id, name FROM articles "
                                                        "WHERE attribute_id = 0")}
    assert italian and set(italian) == set(english)
    for pid in italian:
        assert italian[pid] == products[pid]["name"][2], pid
        assert english[pid] == products[pid]["name"][1], pid
        assert italian[pid] != english[pid]
    combos = await hub("shop-it", "SELECT product_id, name FROM articles WHERE attribute_id != 0")
    for pid, name in combos:
        assert name.startswith(products[pid]["name"][2] + " - "), name

    for account, lang in (("shop-it", 2), ("shop-en", None)):
        for (data,) in await hub(account, "SELECT data FROM orders WHERE 1 = 1"):
            order = json.loads(data)
            if lang is None:
                assert "state_name" not in order
            else:
                assert order["state_name"] == states[order["state"]]["name"][lang]
    # the ERP's articles and documents carry the names of each account's language
    erp = await engine.erp()
    it_codes = {r[0]: r[1] for r in await hub("shop-it", "SELECT code, product_id FROM articles "
                                                         "WHERE attribute_id = 0")}
    found = await erp.find_articles(list(it_codes))
    assert {code: a.description for code, a in found.items()} == {
        code: products[pid]["name"][2] for code, pid in it_codes.items()}
    docs = {d.external_ref: d for d in await erp_documents(tmp_path / "home")}
    it_doc = next(d for ref, d in docs.items() if ref.startswith("shop-it:"))
    assert any(line.description in italian.values() for line in it_doc.lines)

    # a state sent back is logged with its Italian name; `account states` names them in Italian
    doc = next(d for ref, d in sorted(docs.items()) if ref.startswith("shop-it:")
               and emu.state.tables["orders"][int(ref.rsplit(":", 1)[1])]["current_state"] not in ("4", "5", "6"))
    await erp.set_state(doc.number, "shipped")
    s = await engine.run_sync("shop-it", "states")
    assert s.outcome == "ok" and s.counts["states_pushed"] == 1, s.errors
    text = "\n".join(m for _i, _at, _lvl, m in await run_log(engine.hub, s.id))
    assert '-> state 4 "Spedito" (shipped' in text
    home = tmp_path / "home"
    r = await asincro(home, "account", "states", "shop-it", "--json")
    assert r.code == 0, r.err
    assert {s["id"]: s["name"] for s in json.loads(r.out)}[4] == "Spedito"
    r = await asincro(home, "account", "states", "shop-en", "--json")
    assert {s["id"]: s["name"] for s in json.loads(r.out)}[4] == "Shipped"


async def test_a_language_the_shop_lacks_stops_the_run_with_one_line(bilingual):
    _emu, engine = bilingual
    account = await acc.get_account(engine.hub, "shop-it")
    await acc.save_account(engine.hub, replace(account, options={**account.options, "language": "fr"}))
    s = await engine.run_sync("shop-it", "orders")
    assert s.outcome == "failed"
    assert any("no active language 'fr'" in e and "it (Italiano (Italian))" in e for e in s.errors), s.errors


async def test_a_resync_keeps_the_names_of_the_account_language(bilingual, tmp_path):
    emu, engine = bilingual
    s = await engine.run_sync("shop-it", "orders")
    assert s.outcome == "ok", s.errors
    rows = await engine.hub.fetchall(
        "SELECT shop_id, data FROM orders WHERE account_id = (SELECT id FROM accounts "
        "WHERE name = 'shop-it') ORDER BY shop_id")
    oid, before = rows[0][0], json.loads(rows[0][1])
    assert before["state_name"] and before["lines"][0]["name"]
    r = await asincro(tmp_path / "home", "resync", "shop-it", "--order", str(oid))
    assert r.code == 0, r.err
    after = json.loads(await engine.hub.scalar(
        "SELECT data FROM orders WHERE shop_id = ? AND account_id = (SELECT id FROM accounts "
        "WHERE name = 'shop-it')", (oid,)))
    assert after == before
    # a state changed on the shop is named in Italian by the resync
    emu.state.change_order_state(oid, 4)
    r = await asincro(tmp_path / "home", "resync", "shop-it", "--order", str(oid))
    assert r.code == 0, r.err
    after = json.loads(await engine.hub.scalar(
        "SELECT data FROM orders WHERE shop_id = ? AND account_id = (SELECT id FROM accounts "
        "WHERE name = 'shop-it')", (oid,)))
    assert after["state"] == 4 and after["state_name"] == "Spedito"
