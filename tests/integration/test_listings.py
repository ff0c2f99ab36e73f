"""Listings and sales lists (O-5, L-1..L-3), over loopback against the emulator.

The emulator's side channel shows the products' state (``active``, quantities)
and counts requests, so a dry run is proven to make no write request.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import httpx
import pytest

from core import accounts as acc
from core import listings as lst
from core.engine import Engine
from core.runs import run_log
from core.sync.listings import listings_all
from emulator.data import add_generated_orders, generate
from emulator.server import EmulatorServer
from tests.helpers import assert_clean_error, sincro

SHOP_SEED, SHOP_ORDERS = 3, 5


def new_order_plan() -> tuple[int, tuple[int, str, int]]:
    """A seed whose next generated order is importable and has a product without
    combinations; returns it and that row (product id, reference, quantity)."""
    for seed in range(1, 50):
        st = generate(SHOP_ORDERS, seed=SHOP_SEED)
        oid = add_generated_orders(st, 1, seed)[0]
        if st.tables["orders"][oid]["current_state"] in ("6", "8"):
            continue
        rows = [d for d in st.tables["order_details"].values() if d["id_order"] == str(oid)]
        for r in rows:
            if r["product_attribute_id"] == "0" and r.get("product_reference"):
                return seed, (int(r["product_id"]), r["product_reference"],
                              int(r["product_quantity"]))
    raise AssertionError("no suitable generated order")


@dataclass
class Env:
    emu: EmulatorServer
    engine: Engine
    side: httpx.AsyncClient

    @property
    def shop(self):
        return self.emu.state

    async def erp(self):
        return await self.engine.erp()

    async def product(self, pid: int) -> dict:
        return (await self.side.get(f"products/{pid}")).json()

    async def activate(self, pid: int, active: bool = True) -> None:
        r = await self.side.patch(f"objects/products/{pid}", json={"active": "1" if active else "0"})
        assert r.status_code == 200

    async def writes(self) -> int:
        return (await self.side.get("requests")).json()["writes"]

    async def reset_counts(self) -> None:
        await self.side.post("requests/reset")

    async def erp_stock(self, code: str, stock: int) -> None:
        erp = await self.erp()
        if code in await erp.find_articles([code]):
            await erp.set_stock(code, stock)
        else:
            await erp.add_article(code, f"article {code}", "10.00", stock=stock)

    async def mapped(self) -> set[str]:
        return {r[0] for r in await self.engine.hub.fetchall("SELECT code FROM articles")}

    def unmapped_product(self, mapped: set[str], exclude: set[int]) -> tuple[int, str]:
        """A product without combinations that no order brought into the hub."""
        combos = {c["id_product"] for c in self.shop.tables["combinations"].values()}
        for pid, p in sorted(self.shop.tables["products"].items()):
            if str(pid) not in combos and p["reference"] not in mapped and pid not in exclude:
                return pid, p["reference"]
        raise AssertionError("no unmapped product")

    def unmapped_combination(self, mapped: set[str]) -> tuple[int, int, str]:
        for cid, c in sorted(self.shop.tables["combinations"].items()):
            if c["reference"] not in mapped:
                return int(c["id_product"]), cid, c["reference"]
        raise AssertionError("no unmapped combination")

    def combination_stock(self, cid: int) -> int:
        return int(next(s["quantity"] for s in self.shop.tables["stock_availables"].values()
                        if s["id_product_attribute"] == str(cid)))


@pytest.fixture
async def env(tmp_path):
    async with EmulatorServer(generate(SHOP_ORDERS, seed=SHOP_SEED)) as emu:
        async with Engine(tmp_path / "home", notify=False) as engine:
            await acc.add_account(engine.hub, acc.build_account(
                "shop1", emu.url, key=emu.key, tz="Europe/Rome",
                options={"tax_map": {"0": "N4"}}))
            summary = await engine.run_sync("shop1", "orders")
            assert summary.outcome == "ok", summary.errors
            async with httpx.AsyncClient(base_url=emu.url + "_emulator/") as side:
                yield Env(emu, engine, side)


async def log_text(env: Env, run_id: int) -> str:
    return "\n".join(m for _i, _at, _lvl, m in await run_log(env.engine.hub, run_id))


STOP_PUBLISH = [lst.make_rule("stock <= 0", "stop"), lst.make_rule("stock > 0", "publish")]


async def test_orders_taking_stock_to_zero_stop_the_product_and_stock_brings_it_back(env):
    seed, (pid, code, qty) = new_order_plan()
    other_pid, other_code = env.unmapped_product(await env.mapped(), {pid})
    combo_pid, combo_id, combo_code = env.unmapped_combination(await env.mapped() | {code})
    await env.erp_stock(code, qty)  # the new order takes it to 0
    await env.erp_stock(other_code, 0)  # out of stock, but no new order touches it
    await env.erp_stock(combo_code, 0)
    for p in (pid, other_pid, combo_pid):
        await env.activate(p)
    await lst.save_list(env.engine.hub, "web", add_codes=[code, other_code, combo_code])
    await lst.save_listing(env.engine.hub, "web", account="shop1", lists=["web"],
                           rules=STOP_PUBLISH, create=True)
    r = await env.side.post("orders", json={"generate": 1, "seed": seed})
    assert r.status_code == 201

    s = await env.engine.run_sync("shop1", "orders")
    assert s.outcome == "ok", s.errors
    assert s.counts["documents_inserted"] == 1
    assert (await (await env.erp()).find_articles([code]))[code].stock == 0
    assert (await env.product(pid))["active"] is False
    assert (await env.product(other_pid))["active"] is True  # not touched by the new order
    assert s.counts["listing_actions"] == 1
    assert f"listing web: set product {pid} (article {code}) active: 1 -> 0" in \
        await log_text(env, s.id)

    # stock comes back: publish, with the ERP's quantity
    await env.erp_stock(code, 7)
    s = await env.engine.run_sync("shop1", "listings")
    assert s.outcome == "ok", s.errors
    shown = await env.product(pid)
    assert shown["active"] is True and shown["quantity"] == 7
    # the untouched articles (matched by shop reference, no mapping) are stopped now
    assert (await env.product(other_pid))["active"] is False
    assert env.combination_stock(combo_id) == 0  # a combination stops at quantity 0
    assert (await env.product(combo_pid))["active"] is True

    # nothing differs any more: no write
    await env.reset_counts()
    s = await env.engine.run_sync("shop1", "listings")
    assert s.outcome == "ok" and not s.counts.get("listing_actions")
    assert await env.writes() == 0


async def test_no_listing_work_when_no_new_order_went_in(env):
    _seed, (pid, code, _qty) = new_order_plan()
    await env.erp_stock(code, 0)
    await env.activate(pid)
    await lst.save_list(env.engine.hub, "web", add_codes=[code])
    await lst.save_listing(env.engine.hub, "web", account="shop1", lists=["web"],
                           rules=STOP_PUBLISH, create=True)
    await env.reset_counts()
    s = await env.engine.run_sync("shop1", "orders")
    assert "listings-after-orders" not in s.steps
    assert (await env.product(pid))["active"] is True
    assert await env.writes() == 0


async def test_dry_run_makes_no_write_request(env):
    _seed, (pid, code, _qty) = new_order_plan()
    await env.erp_stock(code, 0)
    await env.activate(pid)
    await lst.save_list(env.engine.hub, "web", add_patterns=["SKU-*"])
    await lst.save_listing(env.engine.hub, "web", account="shop1", lists=["web"],
                           rules=[*STOP_PUBLISH, lst.make_rule("always", "update")], create=True)
    await env.reset_counts()
    dry = (await env.engine.run_operation("shop1", "listings",
                                          lambda ctx: listings_all(ctx, only="web"),
                                          trigger="cli", dry_run=True)).summary
    assert dry.outcome == "ok", dry.errors
    assert await env.writes() == 0
    assert dry.counts["listing_actions"] >= 1
    assert (await env.product(pid))["active"] is True
    assert await env.engine.hub.scalar("SELECT COUNT(*) FROM listing_pushed") == 0


async def test_price_changed_updates_the_price_once(env):
    _seed, (pid, code, _qty) = new_order_plan()
    erp = await env.erp()
    await env.erp_stock(code, 5)
    await erp.set_price(code, "12.50")
    await lst.save_list(env.engine.hub, "web", add_codes=[code])
    await lst.save_listing(env.engine.hub, "web", account="shop1", lists=["web"], create=True,
                           rules=[lst.make_rule("price changed", "update", "price")])
    s = await env.engine.run_sync("shop1", "listings")
    assert s.outcome == "ok", s.errors
    assert (await env.product(pid))["price"].startswith("12.5")
    await env.reset_counts()
    s = await env.engine.run_sync("shop1", "listings")
    assert await env.writes() == 0
    assert "rules apply to 0" in await log_text(env, s.id)
    await erp.set_price(code, "13.00")
    s = await env.engine.run_sync("shop1", "listings")
    assert (await env.product(pid))["price"].startswith("13")
    assert s.counts["listing_actions"] == 1


async def test_cli_lists_listings_import_and_run(tmp_path):
    home = tmp_path / "home"
    async with EmulatorServer(generate(SHOP_ORDERS, seed=SHOP_SEED)) as emu:
        def run(*args):
            return asyncio.to_thread(sincro, home, *args)

        async with httpx.AsyncClient(base_url=emu.url + "_emulator/") as side:
            r = await run("account", "add", "shop1", "--tax-map", "0=N4", "--url", emu.url, "--key", emu.key,
                          "--tz", "Europe/Rome")
            assert r.code == 0, r.err
            r = await run("sync", "shop1", "--orders", "--quiet")
            assert r.code == 0, r.err + r.out
            r = await run("erp", "articles", "--json")
            codes = [a["code"] for a in json.loads(r.out)]
            assert codes
            r = await run("list", "add", "spare", "--code", "A,B", "--pattern", "SKU-9*")
            assert r.code == 0 and "2 codes, 1 patterns" in r.out, r.err
            r = await run("list", "drop", "spare", "--code", "B")
            assert "1 codes" in r.out

            toml = tmp_path / "listings.toml"
            toml.write_text(
                f'[lists.web]\ncodes = {json.dumps(codes)}\n\n'
                '[listings.web]\naccount = "shop1"\nlists = ["web"]\n\n'
                '[[listings.web.rules]]\nwhen = "always"\ndo = "stop"\nstop = "zero"\n',
                encoding="utf-8")
            r = await run("listing", "import", str(toml))
            assert r.code == 0 and "imported 1 sales lists and 1 listings" in r.out, r.err
            r = await run("listing", "rule", "add", "web", "--when", "stock > 1000",
                          "--do", "publish", "--position", "1")
            assert r.code == 0, r.err
            r = await run("listing", "show", "web")
            assert "1. when stock > 1000: publish" in r.out
            assert "2. when always: stop (quantity 0)" in r.out
            r = await run("listing", "list", "--json")
            assert json.loads(r.out)[0]["lists"] == ["web"]

            await side.post("requests/reset")
            r = await run("listing", "run", "web", "--dry-run")
            assert r.code == 0, r.err
            assert "would set product" in r.out and "quantity:" in r.out
            assert (await side.get("requests")).json()["writes"] == 0

            r = await run("listing", "run", "web", "--json")
            assert r.code == 0, r.err
            summary = json.loads(r.out)
            assert summary["counts"]["listing_actions"] >= 1
            assert (await side.get("requests")).json()["writes"] >= 1

            r = await run("listing", "disable", "web")
            assert r.code == 0
            r = await run("listing", "run", "web")
            assert_clean_error(r, "listing web is disabled", "sincro listing enable web")
            r = await run("list", "remove", "web")
            assert_clean_error(r, "sales list web is used by listings web")
            r = await run("listing", "run", "nope")
            assert_clean_error(r, "no listing named 'nope'")
            r = await run("listing", "rule", "add", "web", "--when", "stock >> 1", "--do", "stop")
            assert_clean_error(r, "invalid rule condition")
            bad = tmp_path / "bad.toml"
            bad.write_text("[listings.x\n", encoding="utf-8")
            r = await run("listing", "import", str(bad))
            assert_clean_error(r, "is not valid TOML")
            bad.write_text('[listings.x]\naccount = "nope"\nlists = ["web"]\n', encoding="utf-8")
            r = await run("listing", "import", str(bad))
            assert_clean_error(r, "no account named 'nope'")
            r = await run("listing", "add", "web", "--account", "shop1", "--list", "web")
            assert_clean_error(r, "there is already a listing named web")
            r = await run("listing", "add", "y", "--account", "shop1", "--list", "missing")
            assert_clean_error(r, "no sales list named 'missing'")
