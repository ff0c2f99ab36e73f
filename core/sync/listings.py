"""Listing rules applied to the shop (O-5, L-1..L-3).

For each enabled listing of the account: the ERP articles of its sales lists
(codes, and glob patterns resolved in the ERP), matched to shop products and
combinations through the hub's article mappings or by reference; the shop's
current values read in batches (products by id, stock by product); the first
rule that holds decides the action; only values that differ are written, each
change logged with product, field, old and new value.

Steps: ``listings`` (every enabled listing of the account, all its articles;
``sincro listing run NAME`` runs it with ``only=NAME``, that listing alone) and
``listings-after-orders`` (only when the partial sync put new orders into the
ERP, only the articles those orders touched).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.kinds import Level
from core.listings import Article, Listing, Rule, get_listing, list_listings
from core.prestashop.errors import ShopError
from core.sync.context import RunContext
from core.sync.snapshot import OrderSnapshot
from core.timeutil import iso, utcnow

CENT = Decimal("0.000001")
WRITE_BATCH = 32


@dataclass
class Target:
    """Where an ERP article lives on the shop."""

    code: str
    product_id: int
    attribute_id: int  # 0: the product itself


@dataclass
class Plan:
    """Changes for one listing: product fields and stock rows, old -> new."""

    products: dict[int, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    stock: dict[int, tuple[Any, int, int, str]] = field(default_factory=dict)  # id: (row, old, new, code)
    codes: dict[int, str] = field(default_factory=dict)  # product id -> a code, for the log
    pushed: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> values pushed


async def listings_all(ctx: RunContext, *, only: str | None = None) -> None:
    """Every enabled listing of the account; ``only``: that listing alone (a listing run)."""
    ctx.run.steps.append("listings")
    if only is not None:
        listing = await get_listing(ctx.hub, only)
        if listing.account == ctx.account.name:
            await apply_listing(ctx, listing)
            return
    listings = [lst for lst in await list_listings(ctx.hub, ctx.account.name) if lst.enabled]
    if not listings:
        ctx.run.info("listings: no enabled listing uses this account")
        return
    for listing in listings:
        await apply_listing(ctx, listing)


async def listings_after_orders(ctx: RunContext) -> None:
    run = ctx.run
    if ctx.dry_run:
        return  # nothing went into the ERP
    if not run.counts.get("documents_inserted"):
        return
    listings = [lst for lst in await list_listings(ctx.hub, ctx.account.name) if lst.enabled]
    if not listings:
        return
    run.steps.append("listings-after-orders")
    codes = await touched_codes(ctx, ctx.state.new_order_ids)
    if not codes:
        return
    run.info(f"listings: new orders touched {len(codes)} articles")
    for listing in listings:
        await apply_listing(ctx, listing, only_codes=codes)


async def touched_codes(ctx: RunContext, order_ids: list[int]) -> set[str]:
    """Article codes on the orders this run put into the ERP: those it imported, and older
    ones a failed partial sync had left behind."""
    codes: set[str] = set()
    rows = await ctx.hub.fetchall(
        "SELECT shop_id, data FROM orders WHERE account_id = ? AND erp_number IS NOT NULL AND "
        "pushed_at >= (SELECT started_at FROM runs WHERE id = ?)", (ctx.account_id, ctx.run.id))
    seen = {r[0] for r in rows}
    datas = [r[1] for r in rows]
    ids = sorted(set(order_ids) - seen)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = await ctx.hub.fetchall(
            "SELECT data FROM orders WHERE account_id = ? AND erp_number IS NOT NULL AND shop_id IN "
            f"({','.join('?' * len(chunk))})", (ctx.account_id, *chunk))
        datas.extend(r[0] for r in rows)
    for data in datas:
        order: OrderSnapshot = json.loads(data)
        codes.update(line["code"] for line in order.get("lines", []))
    return codes


async def listing_codes(ctx: RunContext, listing: Listing) -> list[str]:
    """The listing's article codes: its lists' codes, and patterns resolved in the ERP."""
    from core.listings import get_list

    codes: dict[str, None] = {}
    for name in listing.lists:
        lst = await get_list(ctx.hub, name)
        codes.update(dict.fromkeys(lst.codes))
        for pattern in lst.patterns:
            codes.update(dict.fromkeys(a.code for a in await ctx.connector.list_articles(pattern)))
    return list(codes)


async def apply_listing(ctx: RunContext, listing: Listing, *,
                        only_codes: set[str] | None = None) -> None:
    run = ctx.run
    tag = f"listing {listing.name}"
    if not listing.rules:
        run.warning(f"{tag}: no rules; nothing to do")
        return
    codes = await listing_codes(ctx, listing)
    if only_codes is not None:
        codes = [c for c in codes if c in only_codes]
    if not codes:
        run.info(f"{tag}: no articles to look at")
        return
    erp = await ctx.connector.articles_stock_price(codes)
    missing = [c for c in codes if c not in erp]
    if missing:
        run.warning(f"{tag}: {len(missing)} articles are not in the ERP: "
                    + ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else ""))
    last = await _last_pushed(ctx, listing)
    decided: dict[str, tuple[Rule, Article]] = {}
    for code in codes:
        a = erp.get(code)
        if a is None:
            continue
        art = Article(code, int(a.stock), Decimal(a.price), bool(a.active), last.get(code))
        rule = listing.decide(art)
        if rule is not None:
            decided[code] = (rule, art)
    run.info(f"{tag}: {len(codes)} articles, rules apply to {len(decided)}")
    if not decided:
        return

    targets = await find_targets(ctx, list(decided))
    lost = [c for c in decided if c not in targets]
    if lost:
        run.warning(f"{tag}: {len(lost)} articles are not on the shop (no mapping and no product "
                    "or combination with that reference): " + ", ".join(lost[:10])
                    + (" ..." if len(lost) > 10 else ""))
    if not targets:
        return
    pids = sorted({t.product_id for t in targets.values()})
    client = ctx.shop.client
    products = await client.products(pids)
    stock_rows = await client.stock_availables_for(pids)
    stock_by_key: dict[tuple[int, int], Any] = {}
    for row in stock_rows:
        stock_by_key.setdefault((row.id_product, row.id_product_attribute), row)

    plan = Plan()
    for code, t in targets.items():
        rule, art = decided[code]
        product = products.get(t.product_id)
        if product is None:
            run.warning(f"{tag}: article {code}: product {t.product_id} is not on the shop")
            continue
        _plan_article(ctx, tag, plan, rule, art, t, product, stock_by_key.get(
            (t.product_id, t.attribute_id)))
    await _write(ctx, listing, tag, plan)


def _plan_article(ctx: RunContext, tag: str, plan: Plan, rule: Rule, art: Article, t: Target,
                  product: Any, stock: Any) -> None:
    want_active: bool | None = None
    want_qty: int | None = None
    want_price: Decimal | None = None
    if rule.action == "publish":
        want_active, want_qty = True, max(art.stock, 0)
    elif rule.action == "update":
        if "quantity" in rule.update_fields:
            want_qty = max(art.stock, 0)
        if "price" in rule.update_fields:
            if t.attribute_id:
                ctx.run.log(Level.DEBUG, f"{tag}: article {art.code} is a combination; its price is "
                            "an impact on the product's price and is left alone")
            else:
                want_price = art.price
    elif rule.action == "stop":
        if rule.stop_mode == "zero" or t.attribute_id:
            want_qty = 0  # a combination has no active flag of its own
        else:
            want_active = False
    pushed: dict[str, Any] = {}
    changes = plan.products.setdefault(t.product_id, {})
    plan.codes.setdefault(t.product_id, art.code)
    if want_active is not None:
        pushed["active"] = want_active
        if bool(product.active) != want_active:
            changes["active"] = (bool(product.active), want_active)
    if want_price is not None:
        pushed["price"] = str(want_price)
        if Decimal(product.price).quantize(CENT) != want_price.quantize(CENT):
            changes["price"] = (Decimal(product.price), want_price)
    if want_qty is not None:
        if stock is None:
            ctx.run.warning(f"{tag}: article {art.code}: product {t.product_id} combination "
                            f"{t.attribute_id} has no stock row on the shop")
        else:
            pushed["quantity"] = want_qty
            if int(stock.quantity) != want_qty:
                plan.stock[stock.id] = (stock, int(stock.quantity), want_qty, art.code)
    if not changes:
        plan.products.pop(t.product_id, None)
    if pushed:
        plan.pushed[art.code] = pushed


async def _write(ctx: RunContext, listing: Listing, tag: str, plan: Plan) -> None:
    run = ctx.run
    client = ctx.shop.client
    failed_codes: set[str] = set()

    async def product(pid: int, code: str, changes: dict[str, tuple[Any, Any]]) -> None:
        try:
            await client.update_product(
                pid, active=changes["active"][1] if "active" in changes else None,
                price=changes["price"][1] if "price" in changes else None)
        except ShopError as exc:
            run.error(f"{tag}: product {pid} (article {code}) not updated: {exc}")
            failed_codes.add(code)
            return
        for fname, (old, new) in changes.items():
            run.info(f"{tag}: set product {pid} (article {code}) {fname}: "
                     f"{_show(old)} -> {_show(new)}")
        run.counts["listing_actions"] += len(changes)

    async def stock(row: Any, where: str, code: str, old: int, new: int) -> None:
        try:
            await client.set_stock(row, new)
        except ShopError as exc:
            run.error(f"{tag}: {where} (article {code}) quantity not set: {exc}")
            failed_codes.add(code)
            return
        run.info(f"{tag}: set {where} (article {code}) quantity: {old} -> {new}")
        run.counts["listing_actions"] += 1

    jobs: list[tuple[Any, tuple]] = []
    for pid, changes in sorted(plan.products.items()):
        code = plan.codes[pid]
        if ctx.dry_run:
            for fname, (old, new) in changes.items():
                run.info(f"{tag}: would set product {pid} (article {code}) {fname}: "
                         f"{_show(old)} -> {_show(new)}")
            run.counts["listing_actions"] += len(changes)
        else:
            jobs.append((product, (pid, code, changes)))
    for _sid, (row, old, new, code) in sorted(plan.stock.items()):
        where = f"product {row.id_product}" + (
            f" combination {row.id_product_attribute}" if row.id_product_attribute else "")
        if ctx.dry_run:
            run.info(f"{tag}: would set {where} (article {code}) quantity: {old} -> {new}")
            run.counts["listing_actions"] += 1
        else:
            jobs.append((stock, (row, where, code, old, new)))
    # the client bounds requests in flight; batches keep the log close to the order of work
    for i in range(0, len(jobs), WRITE_BATCH):
        await asyncio.gather(*(job(*args) for job, args in jobs[i:i + WRITE_BATCH]))
    if ctx.dry_run:
        return
    now = iso(utcnow())
    rows = [(listing.id, code, v.get("price"), v.get("quantity"),
             None if "active" not in v else int(v["active"]), now, ctx.run.id or None)
            for code, v in plan.pushed.items() if code not in failed_codes]
    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "INSERT INTO listing_pushed (listing_id, code, price, quantity, active, at, run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (listing_id, code) DO UPDATE SET "
            "price = COALESCE(excluded.price, listing_pushed.price), "
            "quantity = COALESCE(excluded.quantity, listing_pushed.quantity), "
            "active = COALESCE(excluded.active, listing_pushed.active), at = excluded.at, "
            "run_id = excluded.run_id",
            rows)


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, Decimal):
        return format(v.quantize(Decimal("0.01")) if v == v.quantize(Decimal("0.01")) else v, "f")
    return str(v)


async def _last_pushed(ctx: RunContext, listing: Listing) -> dict[str, Decimal]:
    rows = await ctx.hub.fetchall(
        "SELECT code, price FROM listing_pushed WHERE listing_id = ? AND price IS NOT NULL",
        (listing.id,))
    return {r[0]: Decimal(r[1]) for r in rows}


async def find_targets(ctx: RunContext, codes: list[str]) -> dict[str, Target]:
    """Shop product/combination of each code: the hub's mapping, else the shop reference."""
    out: dict[str, Target] = {}
    for i in range(0, len(codes), 500):
        chunk = codes[i:i + 500]
        rows = await ctx.hub.fetchall(
            "SELECT code, product_id, attribute_id FROM articles WHERE account_id = ? AND code IN "
            f"({','.join('?' * len(chunk))})", (ctx.account_id, *chunk))
        for r in rows:
            out[r[0]] = Target(r[0], r[1], r[2])
    rest = [c for c in codes if c not in out and not any(ch in c for ch in "[]|")]
    if rest:
        client = ctx.shop.client
        for chunk in _text_chunks(rest):
            flt = {"reference": "[" + "|".join(chunk) + "]"}
            for item in await client.list_raw("products", filters=flt, display="[id,reference]"):
                ref = str(item.get("reference") or "")
                if ref in chunk and ref not in out:
                    out[ref] = Target(ref, int(str(item["id"])), 0)
        rest = [c for c in rest if c not in out]
        for chunk in _text_chunks(rest):
            flt = {"reference": "[" + "|".join(chunk) + "]"}
            items = await client.list_raw("combinations", filters=flt,
                                          display="[id,id_product,reference]")
            for item in items:
                ref = str(item.get("reference") or "")
                if ref in chunk and ref not in out:
                    out[ref] = Target(ref, int(str(item["id_product"])), int(str(item["id"])))
    return out


def _text_chunks(values: list[str], max_len: int = 1200, max_count: int = 100) -> list[list[str]]:
    chunks: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for v in values:
        if cur and (len(cur) >= max_count or size + len(v) + 3 > max_len):
            chunks.append(cur)
            cur, size = [], 0
        cur.append(v)
        size += len(v) + 3
    if cur:
        chunks.append(cur)
    return chunks

