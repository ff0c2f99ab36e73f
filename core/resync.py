"""Bring single orders and customers in line again, replay cursors, apply reconcile fixes.

``resync_orders(ctx, ids)`` re-reads orders from the shop and makes the hub and
the ERP agree with them, idempotently: an order the hub lacks goes through the
import path (then the partial sync); one the hub has is rewritten in the hub
when the shop changed it; its ERP document is inserted when missing, updated
when the ERP allows it (an open document, a connector with
``update_document``), else the difference is reported. A second run changes
nothing. ``resync_customers`` does the same for customers.

Every writing operation here runs as an operation of the engine
(``Engine.run_operation``): under the account's lease, recorded as a run, like a
sync.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from core import accounts as acc
from core.erp.port import ArticleData, ErpError, ErpUnsupported
from core.errors import ConfigError, NotFound
from core.kinds import RunKind, Trigger
from core.sync import vat
from core.sync.context import RunContext, get_cursor, set_cursor
from core.sync.customers import _apply as apply_customers
from core.sync.orders import ArticleMap, PageReader, _write_page, shop_orders
from core.sync.partial import build_document, partial_sync
from core.sync.refunds import fix_missing_refunds
from core.sync.snapshot import CustomerSnapshot, OrderSnapshot
from core.timeutil import iso, utcnow

CURSORS = ("orders", "customers", "states", "refunds")


@dataclass(slots=True)
class ResyncResult:
    """What a resync did, per order or customer id."""

    changed: dict[int, list[str]] = field(default_factory=dict)
    unchanged: list[int] = field(default_factory=list)
    unresolved: dict[int, str] = field(default_factory=dict)  # left as is, and why
    not_found: list[int] = field(default_factory=list)

    def note(self, i: int, what: str) -> None:
        self.changed.setdefault(i, []).append(what)

    def as_dict(self) -> dict[str, Any]:
        return {"changed": {str(k): v for k, v in self.changed.items()},
                "unchanged": self.unchanged,
                "unresolved": {str(k): v for k, v in self.unresolved.items()},
                "not_found": self.not_found}


# -- orders ------------------------------------------------------------------
async def _hub_orders(ctx: RunContext, ids: list[int]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for r in await ctx.hub.fetchall(
                "SELECT shop_id, state, data, erp_number FROM orders WHERE account_id = ? AND "
                f"shop_id IN ({','.join('?' * len(chunk))})", (ctx.account_id, *chunk)):
            out[r[0]] = r
    return out


def _lines(data: OrderSnapshot) -> list[tuple[str, int]]:
    return sorted((ln["code"], int(ln["quantity"])) for ln in data.get("lines", []))


async def resync_orders(ctx: RunContext, ids: list[int]) -> ResyncResult:
    """Re-read these orders from the shop; bring the hub and the ERP in line."""
    run = ctx.run
    run.steps.append("resync-orders")
    result = ResyncResult()
    ids = sorted(set(ids))
    found = await ctx.shop.orders_by_ids(ids)
    result.not_found = [i for i in ids if i not in found]
    for i in result.not_found:
        run.error(f"order {i} is not on the shop")
    if not found:
        return result
    known = await _hub_orders(ctx, sorted(found))
    excluded = {int(s) for s in ctx.account.option("excluded_states") or []}
    articles = await ArticleMap.load(ctx)

    fresh = [o for i, o in found.items() if i not in known]
    if fresh:  # the import path: hub rows, outbox; not importable ones go to pending_orders
        reader = PageReader(ctx, excluded)
        try:
            await _write_page(ctx, await reader.start(fresh), articles, cursor=None,
                              recheck=True)
        finally:
            await reader.close()
        imported = set(ctx.state.new_order_ids)
        for o in fresh:
            if o.id in imported:
                result.note(o.id, "imported into the hub")
            else:
                result.unresolved[o.id] = (f"state {o.current_state} is not importable; "
                                           "it is imported when it becomes importable")

    have = [o for i, o in found.items() if i in known]
    if have:
        await _refresh_known(ctx, have, known, articles, result)
    if await ctx.hub.scalar("SELECT COUNT(*) FROM outbox WHERE account_id = ? AND "
                            "done_at IS NULL", (ctx.account_id,)):
        await partial_sync(ctx)
        docs = await _documents(ctx, [o.id for o in fresh + have])
        for o in fresh + have:
            if ctx.ref("o", o.id) in docs and o.id in result.changed:
                result.note(o.id, f"in the ERP as document {docs[ctx.ref('o', o.id)].number}")
    for i in found:
        if i not in result.changed and i not in result.unresolved:
            result.unchanged.append(i)
    return result


async def _documents(ctx: RunContext, ids: list[int]) -> dict[str, Any]:
    from core.reconcile import find_documents

    return await find_documents(ctx.connector, [ctx.ref("o", i) for i in ids])


async def _refresh_known(ctx: RunContext, orders: list[Any], known: dict[int, Any],
                         articles: ArticleMap, result: ResyncResult) -> None:
    run = ctx.run
    from core.sync.coding import choose_code

    now = iso(utcnow())
    new_articles: list[tuple] = []
    for o in orders:
        for row in o.rows:
            key = (row.product_id, row.product_attribute_id)
            if key not in articles.by_key:
                code, from_ref = choose_code(
                    row.product_reference, *key, rule=ctx.account.option("coding_rule"),
                    prefix=ctx.account.option("article_prefix"), taken=articles.codes)
                articles.by_key[key] = code
                articles.codes.add(code)
                new_articles.append((ctx.account_id, key[0], key[1], code, row.product_reference,
                                     row.product_name, 0 if from_ref else 1, now))
    updates: list[tuple] = []
    datas: dict[int, OrderSnapshot] = {}
    shop_datas = await shop_orders(ctx.shop, orders, articles.by_key)
    for o in orders:
        h = known[o.id]
        new = shop_datas[o.id]
        old: OrderSnapshot = json.loads(h["data"])
        datas[o.id] = new
        what = [k for k in new if new.get(k) != old.get(k)]
        if h["state"] != o.current_state and "state" not in what:
            what.append("state")
        if what:
            updates.append((o.reference, o.current_state, json.dumps(new, ensure_ascii=False),
                            ctx.account_id, o.id))
            result.note(o.id, "hub: " + ", ".join(what) + " updated from the shop")
    if updates or new_articles:
        async with ctx.hub.transaction() as conn:
            await conn.executemany(
                "INSERT INTO articles (account_id, product_id, attribute_id, code, "
                "reference, name, auto_coded, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                new_articles)
            await conn.executemany(
                "UPDATE orders SET reference = ?, state = ?, data = ? WHERE account_id = ? AND "
                "shop_id = ?", updates)
        run.counts["articles_coded"] += sum(1 for a in new_articles if a[6])

    docs = await _documents(ctx, [o.id for o in orders])
    outbox: list[int] = []
    for o in orders:
        doc = docs.get(ctx.ref("o", o.id))
        data = datas[o.id]
        if doc is None:
            outbox.append(o.id)
            result.note(o.id, "ERP: document missing, pushed again")
            continue
        erp_lines = sorted((ln.article_code, ln.quantity) for ln in doc.lines
                           if ln.kind == "article" and ln.article_code)
        erp_merged: dict[str, int] = {}
        for c, q in erp_lines:
            erp_merged[c] = erp_merged.get(c, 0) + q
        want_merged: dict[str, int] = {}
        for c, q in _lines(data):
            want_merged[c] = want_merged.get(c, 0) + q
        diffs = []
        if Decimal(data["total_tax_incl"]) != doc.total_tax_incl:
            diffs.append(f"total {doc.total_tax_incl} -> {data['total_tax_incl']}")
        if Decimal(data["total_tax_excl"]) != doc.total_tax_excl:
            diffs.append(f"total excl. tax {doc.total_tax_excl} -> {data['total_tax_excl']}")
        if erp_merged != want_merged:
            diffs.append("article lines")
        if not diffs:
            continue
        text = ", ".join(diffs)
        update = getattr(ctx.connector, "update_document", None)
        if doc.state != "open" or update is None:
            why = (f"ERP document {doc.number} is {doc.state}" if doc.state != "open"
                   else f"the {ctx.connector.name} ERP cannot update documents")
            result.unresolved[o.id] = f"{why}; differs from the shop: {text}"
            run.warning(f"order {o.id}: {result.unresolved[o.id]}")
            continue
        try:
            await _ensure_articles(ctx, data)
            new_doc = build_document(ctx.ref("o", o.id), data, doc.customer_code,
                                     doc.destination_code, doc.invoice_destination_code,
                                     account=ctx.account)
            await update(new_doc)
        except (ErpError, ErpUnsupported) as exc:
            result.unresolved[o.id] = f"ERP document {doc.number} not updated: {exc}"
            run.error(f"order {o.id}: {result.unresolved[o.id]}")
            continue
        except vat.HeldForReview as exc:  # never adjusted silently (docs/FISCAL.md)
            result.unresolved[o.id] = f"ERP document {doc.number} not updated: {exc}"
            run.error(str(exc))
            continue
        except vat.VatError as exc:
            result.unresolved[o.id] = f"ERP document {doc.number} not updated: {exc}"
            run.error(str(exc))
            continue
        result.note(o.id, f"ERP: document {doc.number} updated ({text})")
        run.info(f"order {o.id}: ERP document {doc.number} updated ({text})")
    if outbox:
        async with ctx.hub.transaction() as conn:
            await conn.executemany(
                "INSERT INTO outbox (account_id, kind, ref, created_at) "
                "VALUES (?, 'order', ?, ?) ON CONFLICT DO NOTHING", [(ctx.account_id, i, now) for i in outbox])


async def _ensure_articles(ctx: RunContext, data: OrderSnapshot) -> None:
    wanted = {ln["code"]: ln for ln in data["lines"]}
    existing = await ctx.connector.find_articles(sorted(wanted))
    missing = sorted(set(wanted) - set(existing))
    if missing:
        await ctx.connector.create_articles([
            ArticleData(code=c, description=wanted[c]["name"] or c,
                        price=Decimal(wanted[c]["unit_price"]),
                        vat_rate=Decimal(wanted[c]["vat_rate"])) for c in missing])
        ctx.run.counts["articles_created"] += len(missing)


# -- customers ---------------------------------------------------------------
async def resync_customers(ctx: RunContext, ids: list[int], *, force_erp: bool = True
                           ) -> ResyncResult:
    """Re-read these hub customers and their addresses from the shop; push them to the ERP."""
    run = ctx.run
    run.steps.append("resync-customers")
    result = ResyncResult()
    ids = sorted(set(ids))
    rows = await ctx.hub.fetchall(
        f"SELECT shop_id, data FROM customers WHERE account_id = ? AND shop_id IN "
        f"({','.join('?' * len(ids)) or 'NULL'})", (ctx.account_id, *ids))
    hub: dict[int, CustomerSnapshot] = {r[0]: json.loads(r[1]) for r in rows}
    for i in ids:
        if i not in hub:
            result.not_found.append(i)
    if result.not_found:
        raise NotFound(f"customer(s) {', '.join(map(str, result.not_found))} not in the hub of "
                       f"{ctx.account.name}",
                       hint="customers arrive with their first order; resync the order instead")
    fresh = await ctx.shop.customers(set(ids))
    for i in ids:
        if i not in fresh:
            result.unresolved[i] = "not on the shop any more"
    addresses = await ctx.shop.addresses_of_customers(list(fresh))
    before = {r[0]: (r[1], r[2]) for r in await _customer_rows(ctx, ids)}
    await apply_customers(ctx, hub, fresh, addresses)
    now = iso(utcnow())
    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "INSERT INTO outbox (account_id, kind, ref, created_at) "
            "VALUES (?, 'customer', ?, ?) ON CONFLICT DO NOTHING", [(ctx.account_id, i, now) for i in fresh])
    erp0 = run.counts["customers_created"] + run.counts["customers_updated"]
    await partial_sync(ctx, force_customers=force_erp)
    erp_changed = run.counts["customers_created"] + run.counts["customers_updated"] > erp0
    after = {r[0]: (r[1], r[2]) for r in await _customer_rows(ctx, ids)}
    for i in fresh:
        if before.get(i) != after.get(i):
            result.note(i, "hub: updated from the shop")
        if erp_changed:
            result.note(i, "ERP: customer data pushed")
        if i not in result.changed:
            result.unchanged.append(i)
    return result


async def _customer_rows(ctx: RunContext, ids: list[int]) -> list[Any]:
    """Each customer's data with its addresses' data, to tell what a resync changed."""
    marks = ",".join("?" * len(ids)) or "NULL"
    addresses: dict[int, list[str]] = {}
    for customer, data in await ctx.hub.fetchall(
            "SELECT customer_shop_id, data FROM addresses WHERE account_id = ? AND "
            f"customer_shop_id IN ({marks}) ORDER BY shop_id", (ctx.account_id, *ids)):
        addresses.setdefault(customer, []).append(data)
    return [(r[0], r[1], "|".join(addresses[r[0]]) if r[0] in addresses else None)
            for r in await ctx.hub.fetchall(
                f"SELECT shop_id, data FROM customers WHERE account_id = ? AND shop_id IN "
                f"({marks})", (ctx.account_id, *ids))]


# -- reconcile fixes -----------------------------------------------------------
FIXES = ("missing", "differs", "states", "customers", "doubled_customers", "refunds")


async def apply_fix(ctx: RunContext, report: Any, category: str) -> ResyncResult:
    """The action for one category of a ReconcileReport (doubled ones are the ERP's to undo)."""
    if category not in FIXES:
        raise ConfigError(f"no automatic fix for {category!r}",
                          hint="fixable: " + ", ".join(FIXES) + "; a doubled ERP document is "
                          "cancelled in the ERP (Sincro never deletes ERP documents)")
    ids = report.ids(category)
    if category in ("missing", "differs"):
        return await resync_orders(ctx, ids) if ids else ResyncResult()
    if category == "customers":
        return await resync_customers(ctx, ids) if ids else ResyncResult()
    if category == "doubled_customers":
        return await merge_customers(ctx, report.problems("doubled_customers"))
    if category == "refunds":
        return await fix_refunds(ctx, report.ids("refunds"))
    return await fix_states(ctx, report.problems("states"))


async def fix_refunds(ctx: RunContext, slip_ids: list[int]) -> ResyncResult:
    """Refunds missing from the ERP: re-read from the shop, then one credit note each
    (by slip id: the credit note made, or why not)."""
    ctx.run.steps.append("fix-refunds")
    result = ResyncResult()
    if not slip_ids:
        return result
    errors_before = len(ctx.run.errors)
    done = await fix_missing_refunds(ctx, slip_ids)
    for sid in sorted(set(slip_ids)):
        if sid in done:
            result.note(sid, f"credit note {done[sid]} in the ERP")
        else:
            why = next((e for e in ctx.run.errors[errors_before:] if f"refund {sid} " in e),
                       "still waiting for its order in the ERP")
            result.unresolved[sid] = why
    return result


async def merge_customers(ctx: RunContext, doubles: list[Any]) -> ResyncResult:
    """One ERP customer per e-mail for hubs made before (issue 15): the first one is kept;
    the others' shop customers point at it in the hub, and in the ERP their documents and
    destinations move to it and the extra customer goes, where the ERP can do that (else
    the extra stays and the result says so). Each pair is done once: a rerun finds none."""
    run = ctx.run
    result = ResyncResult()
    merge = getattr(ctx.connector, "merge_customers", None)
    for d in doubles:
        if d.keep_code is None:
            result.unresolved[d.customer_ids[0]] = (
                f"{d.email}: the customer to keep ({d.keep_ref}) is not in the ERP yet; "
                "run an orders sync first")
            continue
        for ref, code in d.others:
            moved: list[str] = []
            why = None
            if code and code != d.keep_code:
                if merge is None:
                    why = (f"the {ctx.connector.name} ERP cannot move documents between customers: "
                           f"customer {code} stays, with its documents; merge it by hand")
                else:
                    try:
                        moved = await merge(d.keep_code, code)
                    except ErpError as exc:
                        why = f"customer {code} not merged in the ERP: {exc}"
            async with ctx.hub.transaction() as conn:
                cur = await conn.execute(
                    "SELECT shop_id FROM customers WHERE account_id = ? AND erp_ref = ?",
                    (ctx.account_id, ref))
                ids = [r[0] for r in await cur.fetchall()]
                await conn.execute(
                    "UPDATE customers SET erp_ref = ?, erp_code = ?, erp_hash = NULL "
                    "WHERE account_id = ? AND erp_ref = ?",
                    (d.keep_ref, d.keep_code, ctx.account_id, ref))
                # their destinations moved or merged into the kept one's: found again by text
                await conn.executemany(
                    "UPDATE addresses SET erp_destination = NULL, erp_hash = NULL "
                    "WHERE account_id = ? AND customer_shop_id = ?",
                    [(ctx.account_id, i) for i in ids])
            for i in ids:
                text = (f"{d.email}: now ERP customer {d.keep_code} ({d.keep_ref})"
                        + (f", documents {', '.join(moved)} moved from {code}" if moved else "")
                        + (f", customer {code} removed" if code and not why else ""))
                result.note(i, text)
            if why:
                result.unresolved[ids[0] if ids else d.customer_ids[0]] = why
                run.warning(f"{d.email}: {why}")
            run.info(f"{d.email}: shop customers {', '.join(map(str, ids))} merged into ERP "
                     f"customer {d.keep_code}" + (f" ({len(moved)} documents moved)"
                                                  if moved else ""))
    return result


async def fix_states(ctx: RunContext, diffs: list[Any]) -> ResyncResult:
    """ERP ahead: push the states to the shop (the states step, then order by order).
    Moved on the shop: acknowledge it, the hub records the shop's state."""
    from core.sync.pipeline import STEPS

    run = ctx.run
    result = ResyncResult()
    shop_side = [d for d in diffs if d.direction == "shop"]
    if shop_side:
        async with ctx.hub.transaction() as conn:
            await conn.executemany(
                "UPDATE orders SET state = ? WHERE account_id = ? AND shop_id = ?",
                [(d.shop_state, ctx.account_id, d.order_id) for d in shop_side])
        for d in shop_side:
            result.note(d.order_id, f"state {d.shop_state} set on the shop acknowledged; the ERP "
                        f"document {d.document} is {d.erp_state}: handle it in the ERP")
            run.warning(f"order {d.order_id}: {result.changed[d.order_id][-1]}")
    erp_side = [d for d in diffs if d.direction == "erp"]
    if not erp_side:
        return result
    await STEPS["states"](ctx)
    from core.sync import states as st

    mapping = st.state_map(ctx.account)
    shop_states = await ctx.shop.client.order_states()
    ids = sorted({d.order_id for d in erp_side})
    current = await st.current_states(ctx.shop.client, ids)
    pushed = await st._pushed(ctx, set(ids))
    for d in erp_side:
        if d.expected_state is None or current.get(d.order_id) == d.expected_state:
            if d.expected_state is not None:
                result.note(d.order_id, f"shop order in state {d.expected_state}")
            continue
        event = max((e for e, sid in mapping.items() if sid == d.expected_state),
                    key=lambda e: st.RANK[e])
        await st._apply(ctx, st._Todo(d.order_id, event, d.expected_state, d.document, None,
                                      True), pushed, current, mapping, shop_states)
        if current.get(d.order_id) == d.expected_state:
            result.note(d.order_id, f"shop order set to state {d.expected_state}")
        else:
            result.unresolved[d.order_id] = (f"state {d.expected_state} not set (see the run "
                                             "log)")
    return result


# -- cursors -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CursorValue:
    name: str
    value: str | None
    updated_at: str | None


async def show_cursors(hub: Any, account_name: str) -> list[CursorValue]:
    account = await acc.get_account(hub, account_name)
    rows = {r[0]: (r[1], r[2]) for r in await hub.fetchall(
        "SELECT name, value, updated_at FROM cursors WHERE account_id = ?", (account.id,))}
    names = list(CURSORS) + sorted(set(rows) - set(CURSORS))
    return [CursorValue(n, *rows.get(n, (None, None))) for n in names]


def check_cursor(name: str, value: str) -> str:
    """The normalized value, or a ConfigError saying what a value of that cursor looks like."""
    value = value.strip()
    if name == "orders":
        if not value.isdigit():
            raise ConfigError(f"the orders cursor is a shop order id, not {value!r}",
                              hint="e.g. 'sincro cursor set NAME orders 1200' re-reads orders "
                              "after id 1200")
        return str(int(value))
    if name == "customers":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ConfigError(f"the customers cursor is a date and time in shop time, not "
                              f"{value!r}", hint="e.g. 2026-11-01T00:00:00") from None
        return moment.isoformat()
    if name == "refunds":
        if not value.isdigit() or len(value) > 18:
            raise ConfigError(f"the refunds cursor is a shop refund (order_slip) id, not "
                              f"{value!r}", hint="e.g. 'sincro cursor set NAME refunds 0' "
                              "re-reads every refund (none is doubled)")
        return str(int(value))
    if name == "states":
        if not value or len(value) > 200:
            raise ConfigError("the states cursor is the ERP's opaque cursor",
                              hint="give the value 'sincro cursor show' printed, or 0 to "
                              "re-read every ERP state change")
        return value
    raise ConfigError(f"unknown cursor {name!r}", hint="one of: " + ", ".join(CURSORS))


async def set_cursor_value(engine: Any, account_name: str, name: str, value: str, *,
                           trigger: Trigger = Trigger.CLI) -> CursorValue:
    """Move one cursor, as an operation of the account (never under a running sync)."""
    value = check_cursor(name, value)

    async def move(ctx: RunContext) -> str | None:
        before = await get_cursor(ctx.hub, ctx.account_id, name)
        async with ctx.hub.transaction() as conn:
            await set_cursor(conn, ctx.account_id, name, value)
        ctx.run.info(f"{name} cursor moved from {before if before is not None else '(not set)'}"
                     f" to {value}")
        return await get_cursor(ctx.hub, ctx.account_id, name)

    done = await engine.run_operation(account_name, RunKind.CURSOR, move, trigger=trigger,
                                      scope=f"set {name}", hub_only=True)
    return CursorValue(name, done.result(), iso(utcnow()))
