"""Customers sync (C-1..C-3): refresh, from the shop, customers the hub already has.

It never imports a customer without an order (those arrive with their first
order). Manual runs take every customer of the account; scheduled runs only
those whose date_upd moved since the last run. Changes go to the outbox, and
the partial sync takes them to the ERP.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from core.sync.context import RunContext, get_cursor, set_cursor
from core.sync.orders import customer_data, shop_addresses
from core.sync.snapshot import AddressSnapshot, CustomerSnapshot
from core.timeutil import iso, utcnow

BATCH = 100


async def sync_customers(ctx: RunContext, *, changed_only: bool = False) -> None:
    run = ctx.run
    run.steps.append("customers-changed" if changed_only else "customers")
    rows = await ctx.hub.fetchall(
        "SELECT shop_id, data FROM customers WHERE account_id = ? ORDER BY shop_id",
        (ctx.account_id,))
    hub: dict[int, CustomerSnapshot] = {r[0]: json.loads(r[1]) for r in rows}
    tz = ctx.shop.tz
    started = datetime.now(tz).replace(microsecond=0)
    since_raw = await get_cursor(ctx.hub, ctx.account_id, "customers") if changed_only else None
    if changed_only and since_raw:
        since = datetime.fromisoformat(since_raw)
        changed = await ctx.shop.customers_changed_since(since)
        ids = sorted(i for i in changed if i in hub)
        run.info(f"customers changed on the shop since {since_raw}: {len(changed)}, "
                 f"{len(ids)} of them known here")
        fetched_first = {i: changed[i] for i in ids}
    else:
        ids = sorted(hub)
        fetched_first = {}
        run.info(f"customers sync: checking all {len(ids)} customers of {ctx.account.name}; "
                 "this can take a while")
    total = len(ids)
    done = 0
    for i in range(0, total, BATCH):
        chunk = ids[i:i + BATCH]
        fresh = {k: fetched_first[k] for k in chunk if k in fetched_first}
        if len(fresh) < len(chunk):
            fresh.update(await ctx.shop.customers(set(chunk) - set(fresh)))
        addresses = await ctx.shop.addresses_of_customers(chunk)
        await _apply(ctx, hub, fresh, addresses)
        done += len(chunk)
        run.progress("customers", done, total)
    if not ctx.dry_run:
        async with ctx.hub.transaction() as conn:
            await set_cursor(conn, ctx.account_id, "customers", started.isoformat())
    run.info(f"customers: {run.counts['customers_changed']} changed on the shop")


async def _apply(ctx: RunContext, hub: dict[int, CustomerSnapshot], fresh: dict,
                 addresses: list) -> None:
    now = iso(utcnow())
    changed_customers = []
    for cid, c in fresh.items():
        new = customer_data(c)
        old: Mapping[str, object] = hub.get(cid, {})
        if {k: v for k, v in new.items() if k != "date_upd"} != \
                {k: v for k, v in old.items() if k != "date_upd"}:
            changed_customers.append((c, new, old))
    rows = await ctx.hub.fetchall(
        f"SELECT shop_id, data FROM addresses WHERE account_id = ? AND customer_shop_id IN "
        f"({','.join('?' * len(fresh)) or 'NULL'})", (ctx.account_id, *fresh))
    hub_addresses: dict[int, AddressSnapshot] = {r[0]: json.loads(r[1]) for r in rows}
    address_changes = []
    touched: set[int] = {c.id for c, _, _ in changed_customers}
    datas = await shop_addresses(ctx.shop, ctx.account, addresses)
    for a in addresses:
        address = datas[a.id]
        if hub_addresses.get(a.id) != address:
            address_changes.append((a, address))
            touched.add(a.id_customer)
    for c, new, old in changed_customers:
        what = [k for k in new if k != "date_upd" and new.get(k) != old.get(k)]
        ctx.run.info(f"customer {c.id}: {', '.join(what)} changed")
    for a, _ in address_changes:
        ctx.run.info(f"customer {a.id_customer}: address {a.id} new or changed")
    ctx.run.counts["customers_changed"] += len(touched)
    if ctx.dry_run or not touched:
        return
    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "UPDATE customers SET data = ?, email = ?, date_upd = ?, updated_at = ? "
            "WHERE account_id = ? AND shop_id = ?",
            [(json.dumps(new, ensure_ascii=False), c.email,
              c.date_upd.isoformat() if c.date_upd else None, now, ctx.account_id, c.id)
             for c, new, _ in changed_customers])
        await conn.executemany(
            "INSERT INTO addresses (account_id, shop_id, customer_shop_id, data) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (account_id, shop_id) DO UPDATE SET data = excluded.data",
            [(ctx.account_id, a.id, a.id_customer, json.dumps(new, ensure_ascii=False))
             for a, new in address_changes])
        await conn.executemany(
            "INSERT INTO outbox (account_id, kind, ref, created_at) "
            "VALUES (?, 'customer', ?, ?) ON CONFLICT DO NOTHING", [(ctx.account_id, cid, now) for cid in touched])
