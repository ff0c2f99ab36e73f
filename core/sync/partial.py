"""Partial sync (O-4, C-3): drain the account's outbox into the ERP.

Every ERP write is idempotent (customers by external reference, destinations by
content, articles by code, documents by ``account:o:id``), and an outbox entry
is marked done only after the ERP has what it covers. A crash between the two
repeats the ERP call, which returns what the first one made: nothing doubles.
A partial sync never counts against the full-sync allowance (Q-1).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any

from core.erp.port import (
    ArticleData,
    CustomerData,
    DestinationData,
    DiscountData,
    ErpError,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
)
from core.sync.context import RunContext
from core.timeutil import iso, utcnow

BATCH = 250


def _hash(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _s(v: Any) -> str | None:
    v = (v or "").strip() if isinstance(v, str) else v
    return v or None


def build_customer(ref: str, customer: dict, invoice: dict | None) -> CustomerData:
    inv = invoice or {}
    name = " ".join(x for x in (customer.get("firstname"), customer.get("lastname")) if x).strip()
    return CustomerData(
        external_ref=ref,
        name=name or customer.get("email") or ref,
        company=_s(customer.get("company")) or _s(inv.get("company")),
        vat_number=_s(inv.get("vat_number")),
        tax_code=_s(inv.get("dni")) or _s(customer.get("siret")),
        email=_s(customer.get("email")),
        phone=_s(inv.get("phone")),
    )


def build_destination(ref: str, a: dict) -> DestinationData:
    name = " ".join(x for x in (a.get("firstname"), a.get("lastname")) if x).strip()
    return DestinationData(
        name=name or "-", address1=a.get("address1") or "-", city=a.get("city") or "-",
        country=a.get("country") or "IT", company=_s(a.get("company")),
        address2=_s(a.get("address2")), postcode=_s(a.get("postcode")),
        province=_s(str(a["id_state"])) if a.get("id_state") else None,
        phone=_s(a.get("phone")), external_ref=ref,
    )


def build_document(ref: str, order: dict, customer_code: str, ship_dest: str | None,
                   inv_dest: str | None) -> OrderDocumentData:
    lines = tuple(
        OrderLineData(
            article_code=line["code"], description=line["name"] or line["code"],
            quantity=int(line["quantity"]), unit_price=Decimal(line["unit_price"]),
            unit_price_tax_incl=Decimal(line["unit_price_tax_incl"]),
            vat_rate=Decimal(line["vat_rate"]),
        )
        for line in order["lines"]
    )
    ship = order["shipping"]
    shipping = None
    if Decimal(ship["tax_incl"]) or Decimal(ship["tax_excl"]):
        shipping = ShippingData(Decimal(ship["tax_excl"]), Decimal(ship["tax_incl"]),
                                Decimal(ship["vat_rate"] or 0))
    disc = order["discounts"]
    discounts: tuple[DiscountData, ...] = ()
    if Decimal(disc["tax_incl"]) or Decimal(disc["tax_excl"]):
        excl, incl = Decimal(disc["tax_excl"]), Decimal(disc["tax_incl"])
        rate = ((incl / excl - 1) * 100).quantize(Decimal("0.01")) if excl else Decimal("0")
        discounts = (DiscountData("Discount", excl, incl, rate),)
    return OrderDocumentData(
        external_ref=ref, customer_code=customer_code,
        date=date.fromisoformat(order["date"]) if order.get("date") else utcnow().date(),
        currency=order.get("currency") or "EUR", lines=lines,
        total_tax_excl=Decimal(order["total_tax_excl"]),
        total_tax_incl=Decimal(order["total_tax_incl"]),
        destination_code=ship_dest, invoice_destination_code=inv_dest,
        payment=order.get("payment"), carrier=order.get("carrier"),
        shop_reference=order.get("reference"), shipping=shipping, discounts=discounts,
    )


async def partial_sync(ctx: RunContext, *, force_customers: bool = False) -> None:
    run = ctx.run
    run.steps.append("partial")
    total = await ctx.hub.scalar(
        "SELECT COUNT(*) FROM outbox WHERE account_id = ? AND done_at IS NULL", (ctx.account_id,))
    if not total:
        run.info("partial sync: nothing new for the ERP")
        return
    run.info(f"partial sync: {total} changes to push to the ERP ({ctx.erp.name})")
    done = 0
    failed: set[int] = set()
    while True:
        rows = await ctx.hub.fetchall(
            "SELECT id, kind, ref FROM outbox WHERE account_id = ? AND done_at IS NULL "
            f"AND id NOT IN ({','.join(str(i) for i in failed) or '0'}) ORDER BY id LIMIT ?",
            (ctx.account_id, BATCH))
        if not rows:
            break
        ok, bad = await _push_batch(ctx, rows, force_customers)
        failed |= bad
        done += len(rows)
        run.progress("partial", done, total)
    if failed:
        run.warning(f"partial sync: {len(failed)} changes could not be pushed; "
                    "they will be retried on the next run")


class _Batch:
    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.customer_codes: dict[int, str] = {}
        self.destinations: dict[int, str] = {}
        self.hub_customer_updates: list[tuple] = []
        self.hub_address_updates: list[tuple] = []


async def _push_batch(ctx: RunContext, rows: list[Any], force: bool) -> tuple[int, set[int]]:
    run = ctx.run
    order_ids = [r["ref"] for r in rows if r["kind"] == "order"]
    customer_ids = {r["ref"] for r in rows if r["kind"] == "customer"}
    orders = await _load(ctx, "orders", order_ids)
    for o in orders.values():
        customer_ids.add(o["customer_id"])
    customers = await _load_customers(ctx, customer_ids)
    # guests merged into one ERP customer: the whole group, so that its ERP data always comes
    # from the same (latest) one, whichever of them this batch's orders name
    merged = sorted({c["erp_ref"] for c in customers.values() if ":e:" in c["erp_ref"]})
    if merged:
        customers.update(await _load_customers(ctx, set(), refs=merged))
        customer_ids |= set(customers)
    address_ids = {a for o in orders.values()
                   for a in (o["delivery_address_id"], o["invoice_address_id"]) if a}
    # every address of these customers: the orders' ones, and the one their data comes from
    addresses = await _load_addresses(ctx, address_ids, customers=customer_ids)
    if not any(r["kind"] == "customer" for r in rows):
        # only push the addresses the orders use, plus the billing ones
        keep = set(address_ids)
        for cid in customer_ids:
            bill = _billing_address(cid, addresses)
            if bill:
                keep.add(bill["id"])
        addresses = {k: v for k, v in addresses.items() if k in keep}

    b = _Batch(ctx)
    failed_outbox: dict[int, str] = {}
    outbox_by_ref = {(r["kind"], r["ref"]): r["id"] for r in rows}
    try:
        await _push_customers(ctx, b, customers, addresses, force)
        await _push_destinations(ctx, b, customers, addresses, force)
        documents = await _push_orders(ctx, b, orders, failed_outbox, outbox_by_ref)
    except ErpError as exc:
        run.error(f"ERP: {exc}")
        await _mark_failed(ctx, [r["id"] for r in rows], str(exc))
        return 0, {r["id"] for r in rows}

    now = iso(utcnow())
    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "UPDATE customers SET erp_code = ?, erp_hash = ? WHERE account_id = ? AND shop_id = ?",
            b.hub_customer_updates)
        await conn.executemany(
            "UPDATE addresses SET erp_destination = ?, erp_hash = ? "
            "WHERE account_id = ? AND shop_id = ?", b.hub_address_updates)
        await conn.executemany(
            "UPDATE orders SET erp_number = ?, pushed_at = ? WHERE account_id = ? AND shop_id = ?",
            [(number, now, ctx.account_id, oid) for oid, number in documents.items()])
        done_ids = [r["id"] for r in rows if r["id"] not in failed_outbox]
        await conn.executemany("UPDATE outbox SET done_at = ? WHERE id = ?",
                               [(now, i) for i in done_ids])
        await conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            [(err, i) for i, err in failed_outbox.items()])
    return len(done_ids), set(failed_outbox)


async def _mark_failed(ctx: RunContext, ids: list[int], error: str) -> None:
    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            [(error, i) for i in ids])


async def _push_customers(ctx, b: _Batch, customers: dict, addresses: dict, force: bool) -> None:
    # One ERP customer per external reference (guests merged by e-mail).
    by_ref: dict[str, list[dict]] = {}
    for c in customers.values():
        by_ref.setdefault(c["erp_ref"], []).append(c)
    todo: list[CustomerData] = []
    todo_hash: dict[str, str] = {}
    for ref, group in by_ref.items():
        latest = max(group, key=lambda c: c["data"].get("id") or 0)
        invoice = _billing_address(latest["shop_id"], addresses)
        data = build_customer(ref, latest["data"], invoice)
        h = _hash([data.name, data.company, data.vat_number, data.tax_code, data.email, data.phone])
        current = [c for c in group if c["erp_code"] and c["erp_hash"] == h]
        if current and not force:
            for c in group:
                b.customer_codes[c["shop_id"]] = current[0]["erp_code"]
            continue
        todo.append(data)
        todo_hash[ref] = h
    if not todo:
        return
    results = await ctx.erp.upsert_customers(todo)
    for data, result in zip(todo, results, strict=True):
        if result.outcome == "created":
            ctx.run.counts["customers_created"] += 1
        elif result.outcome == "updated":
            ctx.run.counts["customers_updated"] += 1
        for c in by_ref[data.external_ref]:
            b.customer_codes[c["shop_id"]] = result.code
            b.hub_customer_updates.append((result.code, todo_hash[data.external_ref],
                                           ctx.account_id, c["shop_id"]))


def _billing_address(customer_id: int, addresses: dict) -> dict | None:
    """The address the customer's ERP data (company, VAT, phone) is read from:
    their first one that is not deleted, so it does not change batch by batch."""
    mine = [a for a in addresses.values() if a["customer_shop_id"] == customer_id]
    live = [a for a in mine if not a["data"].get("deleted")] or mine
    return min(live, key=lambda a: a["shop_id"])["data"] if live else None


async def _push_destinations(ctx, b: _Batch, customers, addresses: dict, force: bool) -> None:
    todo: list[tuple[int, str, DestinationData]] = []
    hashes: dict[int, str] = {}
    for aid, a in addresses.items():
        code = b.customer_codes.get(a["customer_shop_id"])
        if code is None:
            continue
        dest = build_destination(ctx.ref("a", aid), a["data"])
        h = _hash([code, dest.name, dest.address1, dest.address2, dest.city, dest.postcode,
                   dest.country, dest.company, dest.province, dest.phone])
        if a["erp_destination"] and a["erp_hash"] == h and not force:
            b.destinations[aid] = a["erp_destination"]
            continue
        todo.append((aid, code, dest))
        hashes[aid] = h
    if not todo:
        return
    results = await ctx.erp.upsert_destinations([(code, dest) for _, code, dest in todo])
    for (aid, _, _), result in zip(todo, results, strict=True):
        if result.outcome == "created":
            ctx.run.counts["destinations"] += 1
        b.destinations[aid] = result.code
        b.hub_address_updates.append((result.code, hashes[aid], ctx.account_id, aid))


async def _push_orders(ctx, b: _Batch, orders: dict, failed: dict[int, str],
                       outbox_by_ref: dict) -> dict[int, str]:
    if not orders:
        return {}
    # Articles the ERP lacks are created as the order goes in (O-3).
    wanted: dict[str, dict] = {}
    for o in orders.values():
        for line in o["lines"]:
            wanted.setdefault(line["code"], line)
    existing = await ctx.erp.find_articles(sorted(wanted))
    missing = sorted(set(wanted) - set(existing))
    if missing:
        await ctx.erp.create_articles([
            ArticleData(code=code, description=wanted[code]["name"] or code,
                        price=Decimal(wanted[code]["unit_price"]),
                        vat_rate=Decimal(wanted[code]["vat_rate"]))
            for code in missing])
        ctx.run.counts["articles_created"] += len(missing)
        for code in missing:
            ctx.run.info(f"article {code} created in the ERP")

    docs = []
    for oid, o in orders.items():
        code = b.customer_codes.get(o["customer_id"])
        if code is None:
            failed[outbox_by_ref[("order", oid)]] = "customer not in the ERP"
            continue
        docs.append(build_document(
            ctx.ref("o", oid), o, code, b.destinations.get(o["delivery_address_id"]),
            b.destinations.get(o["invoice_address_id"])))
    numbers: dict[int, str] = {}
    while docs:
        try:
            results = await ctx.erp.insert_orders(docs)
        except ErpError as exc:
            bad = exc.external_ref
            if not bad:
                raise
            oid = int(bad.rsplit(":", 1)[1])
            ctx.run.error(f"order {oid}: the ERP refused it: {exc}")
            failed[outbox_by_ref[("order", oid)]] = str(exc)
            docs = [d for d in docs if d.external_ref != bad]
            continue
        for doc, res in zip(docs, results, strict=True):
            oid = int(doc.external_ref.rsplit(":", 1)[1])
            numbers[oid] = res.document.number
            if res.created:
                ctx.run.counts["documents_inserted"] += 1
                ctx.run.log("debug", f"order {oid} -> ERP document {res.document.number}")
        break
    return numbers


async def _load(ctx, table: str, ids: list[int]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = await ctx.hub.fetchall(
            f"SELECT shop_id, data FROM {table} WHERE account_id = ? AND shop_id IN "
            f"({','.join('?' * len(chunk))})", (ctx.account_id, *chunk))
        out.update({r[0]: json.loads(r[1]) for r in rows})
    return out


async def _load_customers(ctx, ids: set[int], refs: list[str] = ()) -> dict[int, dict]:
    out: dict[int, dict] = {}
    column, id_list = ("erp_ref", list(refs)) if refs else ("shop_id", sorted(ids))
    for i in range(0, len(id_list), 500):
        chunk = id_list[i:i + 500]
        rows = await ctx.hub.fetchall(
            "SELECT shop_id, data, erp_ref, erp_code, erp_hash FROM customers WHERE account_id = ?"
            f" AND {column} IN ({','.join('?' * len(chunk))})", (ctx.account_id, *chunk))
        for r in rows:
            out[r[0]] = {"shop_id": r[0], "data": json.loads(r[1]), "erp_ref": r[2],
                         "erp_code": r[3], "erp_hash": r[4]}
    return out


async def _load_addresses(ctx, ids: set[int], customers: set[int] = frozenset()) -> dict[int, dict]:
    out: dict[int, dict] = {}
    rows = []
    for column, wanted in (("shop_id", ids), ("customer_shop_id", customers)):
        id_list = sorted(wanted)
        for i in range(0, len(id_list), 500):
            chunk = id_list[i:i + 500]
            rows += await ctx.hub.fetchall(
                "SELECT shop_id, customer_shop_id, data, erp_destination, erp_hash FROM addresses "
                f"WHERE account_id = ? AND {column} IN ({','.join('?' * len(chunk))})",
                (ctx.account_id, *chunk))
    for r in rows:
        if r[0] not in out:
            out[r[0]] = {"shop_id": r[0], "customer_shop_id": r[1], "data": json.loads(r[2]),
                         "erp_destination": r[3], "erp_hash": r[4]}
    return out
