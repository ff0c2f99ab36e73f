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
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict, TypeVar

from core import fiscal
from core.accounts import Account
from core.erp.port import (
    MATCH_FIELDS,
    ArticleData,
    CustomerData,
    DestinationData,
    DiscountData,
    ErpCustomer,
    ErpError,
    OrderDocumentData,
    OrderLineData,
    ShippingData,
    VatSummary,
)
from core.kinds import Level
from core.prestashop.errors import ShopError
from core.sync import vat
from core.sync.context import RunContext
from core.sync.snapshot import (
    AddressSnapshot,
    ChargeSnapshot,
    CustomerSnapshot,
    LineSnapshot,
    OrderSnapshot,
)
from core.timeutil import iso, utcnow

BATCH = 500


class HubCustomer(TypedDict):
    """A hub customer as the partial sync reads it: its snapshot and its ERP link."""

    shop_id: int
    data: CustomerSnapshot
    erp_ref: str
    erp_code: str | None
    erp_hash: str | None
    erp_match: str | None


class AddressRow(TypedDict):
    """A hub address: its snapshot and the customer it belongs to."""

    shop_id: int
    customer_shop_id: int
    data: AddressSnapshot


class HubAddress(AddressRow):
    """A hub address as the partial sync reads it: also its ERP destination."""

    erp_destination: str | None
    erp_hash: str | None


A = TypeVar("A", bound=AddressRow)


def _hash(data: Any) -> str:
    return hashlib.sha1(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _s(v: Any) -> str | None:
    v = (v or "").strip() if isinstance(v, str) else v
    return v or None


def build_customer(ref: str, customer: CustomerSnapshot,
                   invoice: AddressSnapshot | None) -> CustomerData:
    inv: AddressSnapshot | dict[str, Any] = invoice or {}
    name = " ".join(x for x in (customer.get("firstname"), customer.get("lastname")) if x).strip()
    country = _s(inv.get("country"))
    vat = fiscal.vat_number(inv.get("vat_number"), country or "IT")
    code = fiscal.tax_code(inv.get("dni")) or fiscal.tax_code(customer.get("siret"))
    company = _s(customer.get("company")) or _s(inv.get("company"))
    return CustomerData(
        external_ref=ref,
        name=name or customer.get("email") or ref,
        company=company,
        vat_number=vat.value if vat else None,
        tax_code=code.value if code else None,
        email=_s(customer.get("email")),
        phone=_s(inv.get("phone")),
        pec=_s(inv.get("pec")),
        sdi_code=_s(inv.get("sdi")),
        kind="company" if (company or vat) else "private",
        country=country,
    )


def build_destination(ref: str, a: AddressSnapshot) -> DestinationData:
    name = " ".join(x for x in (a.get("firstname"), a.get("lastname")) if x).strip()
    # hub rows imported before provinces were read hold no "province": nothing, not an id
    return DestinationData(
        name=name or "-", address1=a.get("address1") or "-", city=a.get("city") or "-",
        country=a.get("country") or "IT", company=_s(a.get("company")),
        address2=_s(a.get("address2")), postcode=_s(a.get("postcode")),
        province=_s(a.get("province")),
        phone=_s(a.get("phone")), external_ref=ref,
    )


def _mapped(table: Any, *keys: Any) -> str | None:
    """An account map (payment, carrier) applied: the first key it has, else None."""
    if not isinstance(table, dict):
        return None
    for k in keys:
        if k not in (None, "") and str(k) in table:
            return str(table[str(k)])
    return None


def build_document(ref: str, order: OrderSnapshot, customer_code: str, ship_dest: str | None,
                   inv_dest: str | None, *, account: Account | None = None
                   ) -> OrderDocumentData:
    """The ERP document of a hub order: every line at the shop's rate with the ERP's VAT
    code (``vat.VatError`` when the account's tax map lacks one), the discount split per
    rate, the VAT summary and the shop's rounding (``vat.HeldForReview`` beyond it)."""
    name = account.name if account is not None else ref.split(":", 1)[0]
    taxes = vat.tax_map(account.option("tax_map") if account is not None else None, name)
    oid = order.get("id") or ref.rsplit(":", 1)[-1]
    if order.get("lines") and not order.get("tax_data"):
        raise vat.VatError(
            f"order {oid} was imported before Sincro read the shop's tax data: re-read it "
            f"with 'sincro resync {name} --order {oid}'")
    charges: list[vat.Charge] = []
    lines = []
    goods: dict[tuple[Decimal, str, str | None], Decimal] = {}
    roundings = 0
    for i, line in enumerate(order["lines"], 1):
        rate = Decimal(line["vat_rate"])
        what = f"order {oid} line {i} ({line.get('code')})"
        if line.get("vat_from") == "prices":
            raise vat.VatError(
                f"{what}: the shop lists no tax for this row (order_details taxes) although "
                f"its prices include one ({line['unit_price']} / {line['unit_price_tax_incl']}); "
                "Sincro takes VAT from the shop's tax data only: check the order on the shop, "
                f"then 'sincro resync {name} --order {oid}'",
                "a row without the shop's tax data")
        code = taxes.resolve(rate, line.get("tax_group") or None, what=what)
        excl = Decimal(line.get("total_tax_excl") or Decimal(line["unit_price"]) * line["quantity"])
        incl = Decimal(line.get("total_tax_incl")
                       or Decimal(line["unit_price_tax_incl"]) * line["quantity"])
        lines.append(OrderLineData(
            article_code=line["code"], description=line["name"] or line["code"],
            quantity=int(line["quantity"]), unit_price=Decimal(line["unit_price"]),
            unit_price_tax_incl=Decimal(line["unit_price_tax_incl"]), vat_rate=rate,
            vat_code=code.code, vat_nature=code.nature, total_tax_excl=excl,
            total_tax_incl=incl))
        charges.append(vat.Charge("article", excl, rate, code.code, code.nature, incl))
        key = (rate, code.code, code.nature)
        goods[key] = goods.get(key, Decimal(0)) + excl
        # the shop rounds per item (round_type 1), per line (2) or on the total (3)
        roundings += 2 * (int(line["quantity"]) if order.get("round_type") in (1, 0, None)
                          else 1)

    def charge(kind: str, data: ChargeSnapshot | None, description: str) -> ShippingData | None:
        nonlocal roundings
        if not data or not (Decimal(data["tax_incl"]) or Decimal(data["tax_excl"])):
            return None
        excl, incl = Decimal(data["tax_excl"]), Decimal(data["tax_incl"])
        rate = Decimal(data.get("vat_rate") or 0)
        code = taxes.resolve(rate, what=f"order {oid} {kind}")
        charges.append(vat.Charge(kind, excl, rate, code.code, code.nature, incl))
        roundings += 2
        return ShippingData(excl, incl, rate, description, code.code, code.nature)

    shipping = charge("shipping", order["shipping"], "Shipping")
    wrapping = charge("wrapping", order.get("wrapping"), "Gift wrapping")
    disc = order["discounts"]
    discounts: list[DiscountData] = []
    d_excl, d_incl = Decimal(disc["tax_excl"]), Decimal(disc["tax_incl"])
    if d_excl or d_incl:
        keys = sorted(goods, key=lambda k: (-k[0], k[1]))
        parts = vat.split(d_excl, [goods[k] for k in keys]) if keys else []
        if not keys:
            raise vat.HeldForReview(f"order {oid}: a discount of {d_incl} on an order with no "
                                    "goods; held for review")
        for (rate, vat_code, nature), part in zip(keys, parts, strict=True):
            if not part:
                continue
            shown_incl = vat.cents(part * (1 + rate / vat.HUNDRED))
            label = "Discount" if len(keys) == 1 else f"Discount (VAT {vat.rate_key(rate)} %)"
            discounts.append(DiscountData(label, part, shown_incl, rate, vat_code, nature))
            charges.append(vat.Charge("discount", -part, rate, vat_code, nature, -shown_incl))
        roundings += 2 * len(order["lines"])  # the shop spreads the discount per product
    settled = vat.settle(charges, Decimal(order["total_tax_excl"]),
                         Decimal(order["total_tax_incl"]), roundings=roundings,
                         order=f"order {oid}")
    payment = (_mapped(account.option("payment_map") if account else None,
                       order.get("module"), order.get("payment"))
               or order.get("payment"))
    carrier = (_mapped(account.option("carrier_map") if account else None,
                       order.get("carrier_id"), order.get("carrier"))
               or order.get("carrier"))
    notes = "\n".join(order.get("notes") or []) or None
    rate_text = order.get("conversion_rate")
    day = order.get("date")
    return OrderDocumentData(
        external_ref=ref, customer_code=customer_code,
        date=date.fromisoformat(day) if day else utcnow().date(),
        currency=order.get("currency") or "EUR", lines=tuple(lines),
        total_tax_excl=Decimal(order["total_tax_excl"]),
        total_tax_incl=Decimal(order["total_tax_incl"]),
        destination_code=ship_dest, invoice_destination_code=inv_dest,
        payment=payment, carrier=carrier,
        shop_reference=order.get("reference"), shipping=shipping, discounts=tuple(discounts),
        wrapping=wrapping,
        vat_summary=tuple(VatSummary(r.rate, r.code, r.nature, r.taxable, r.tax)
                          for r in settled.summary),
        rounding=settled.rounding, rounding_tax_excl=settled.rounding_tax_excl,
        notes=notes, conversion_rate=Decimal(rate_text) if rate_text else None,
        payment_method=order.get("module") or None,
        carrier_id=int(order["carrier_id"]) if order.get("carrier_id") else None,
    )


async def partial_sync(ctx: RunContext, *, force_customers: bool = False) -> None:
    run = ctx.run
    run.steps.append("partial")
    total = await ctx.hub.scalar(
        "SELECT COUNT(*) FROM outbox WHERE account_id = ? AND done_at IS NULL", (ctx.account_id,))
    if not total:
        run.info("partial sync: nothing new for the ERP")
        return
    run.info(f"partial sync: {total} changes to push to the ERP ({ctx.connector.name})")
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
        self.hub_customer_matches: list[tuple] = []
        self.hub_address_updates: list[tuple] = []
        # what the ERP refused, with its reason: shop customer id / address id / article code
        self.bad_customers: dict[int, str] = {}
        self.bad_addresses: dict[int, str] = {}
        self.bad_articles: dict[str, str] = {}


async def _isolating(ctx: RunContext, items: list, key: Any, call: Any, what: str,
                     refused: dict[str, str]) -> list:
    """``call(items)`` for the items the ERP accepts: an ``ErpError`` naming one item (by
    ``key(item)``) puts it in ``refused`` with the ERP's reason and the rest go again; an
    error naming none fails the batch (the ERP itself is at fault). Results come back
    aligned with ``items``, None for the refused ones."""
    todo = list(items)
    while todo:
        try:
            results = await call(todo)
        except ErpError as exc:
            bad = exc.external_ref
            if not bad or not any(key(i) == bad for i in todo):
                raise
            refused[bad] = str(exc)
            ctx.run.error(f"{what} {bad}: the ERP refused it: {exc}")
            todo = [i for i in todo if key(i) != bad]
            continue
        by_key = {key(i): r for i, r in zip(todo, results, strict=True)}
        return [by_key.get(key(i)) for i in items]
    return [None] * len(items)


async def _push_batch(ctx: RunContext, rows: list[Any], force: bool) -> tuple[int, set[int]]:
    run = ctx.run
    order_ids = [r["ref"] for r in rows if r["kind"] == "order"]
    customer_ids = {r["ref"] for r in rows if r["kind"] == "customer"}
    orders = await _load_orders(ctx, order_ids)
    for o in orders.values():
        customer_ids.add(o["customer_id"])
    customers = await _load_customers(ctx, customer_ids)
    # customers merged into one ERP customer (one e-mail): the whole group, so that its ERP
    # data always comes from the same (latest) one, whichever of them this batch's orders name
    merged = sorted({c["erp_ref"] for c in customers.values()})
    if merged:
        customers.update(await _load_customers(ctx, set(), refs=merged, have=customers))
        customer_ids |= set(customers)
    address_ids = {a for o in orders.values()
                   for a in (o["delivery_address_id"], o["invoice_address_id"]) if a}
    # every address of these customers: the orders' ones, and the one their data comes from
    addresses = await _load_addresses(ctx, address_ids, customers=customer_ids)
    if not any(r["kind"] == "customer" for r in rows):
        # only push the addresses the orders use, plus the billing ones
        keep = set(address_ids)
        index = _by_customer(addresses)
        for cid in customer_ids:
            bill = _billing_address(cid, addresses, index)
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
    for cid, why in b.bad_customers.items():
        if ("customer", cid) in outbox_by_ref:
            failed_outbox[outbox_by_ref[("customer", cid)]] = why

    now = iso(utcnow())
    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "UPDATE customers SET erp_code = ?, erp_hash = ? WHERE account_id = ? AND shop_id = ?",
            b.hub_customer_updates)
        await conn.executemany(
            "UPDATE customers SET erp_match = ? WHERE account_id = ? AND shop_id = ?",
            b.hub_customer_matches)
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


async def _push_customers(ctx: RunContext, b: _Batch, customers: dict[int, HubCustomer],
                          addresses: dict[int, HubAddress], force: bool) -> None:
    # One ERP customer per external reference (guests merged by e-mail).
    by_ref: dict[str, list[HubCustomer]] = {}
    for c in customers.values():
        by_ref.setdefault(c["erp_ref"], []).append(c)
    todo: list[CustomerData] = []
    todo_hash: dict[str, str] = {}
    index = _by_customer(addresses)
    for ref, group in by_ref.items():
        linked = next((c for c in group if c.get("erp_match") and c["erp_code"]), None)
        if linked is not None:  # the office's own record: Sincro links it, never rewrites it
            assert linked["erp_code"] is not None  # chosen for having one
            for c in group:
                b.customer_codes[c["shop_id"]] = linked["erp_code"]
                if c["erp_code"] != linked["erp_code"]:
                    b.hub_customer_updates.append((linked["erp_code"], linked["erp_hash"],
                                                   ctx.account_id, c["shop_id"]))
            continue
        latest = max(group, key=lambda c: c["data"].get("id") or 0)
        invoice = _billing_address(latest["shop_id"], addresses, index)
        data = build_customer(ref, latest["data"], invoice)
        h = _hash([data.name, data.company, data.vat_number, data.tax_code, data.email, data.phone,
                   data.pec, data.sdi_code, data.kind, data.country])
        current = [code for c in group if (code := c["erp_code"]) and c["erp_hash"] == h]
        if current and not force:
            for c in group:
                b.customer_codes[c["shop_id"]] = current[0]
            continue
        todo.append(data)
        todo_hash[ref] = h
    if not todo:
        return
    fresh = [d for d in todo if not any(c["erp_code"] for c in by_ref[d.external_ref])]
    for data, (code, match) in (await _office_customers(ctx, fresh)).items():
        ctx.run.info(f"customer {data.external_ref} linked to the ERP's own customer {code} "
                     f"(same {match.split(':', 1)[0].replace('_', ' ')})")
        ctx.run.counts["customers_linked"] += 1
        for c in by_ref[data.external_ref]:
            b.customer_codes[c["shop_id"]] = code
            b.hub_customer_updates.append((code, todo_hash[data.external_ref],
                                           ctx.account_id, c["shop_id"]))
            b.hub_customer_matches.append((match, ctx.account_id, c["shop_id"]))
        todo = [d for d in todo if d.external_ref != data.external_ref]
    if not todo:
        return
    refused: dict[str, str] = {}
    results = await _isolating(ctx, todo, lambda d: d.external_ref, ctx.connector.upsert_customers,
                               "customer", refused)
    for data, result in zip(todo, results, strict=True):
        if result is None:
            for c in by_ref[data.external_ref]:
                b.bad_customers[c["shop_id"]] = (f"customer {c['shop_id']} refused by the ERP: "
                                                 f"{refused[data.external_ref]}")
            continue
        if result.outcome == "created":
            ctx.run.counts["customers_created"] += 1
        elif result.outcome == "updated":
            ctx.run.counts["customers_updated"] += 1
        for c in by_ref[data.external_ref]:
            b.customer_codes[c["shop_id"]] = result.code
            b.hub_customer_updates.append((result.code, todo_hash[data.external_ref],
                                           ctx.account_id, c["shop_id"]))


async def _office_customers(ctx: RunContext,
                            todo: list[CustomerData]) -> dict[CustomerData, tuple[str, str]]:
    """The ERP's own customers for these new ones, found before Sincro creates its own: by
    partita IVA, codice fiscale, e-mail, in the account's ``customer_match`` order ([] turns
    it off). A customer the ERP already holds under Sincro's own reference (a run that
    stopped after creating it) is never matched to another."""
    fields = [f for f in ctx.account.option("customer_match") or [] if f in MATCH_FIELDS]
    find = getattr(ctx.connector, "find_customers_by", None)
    if not todo or not fields or find is None:
        return {}
    found: dict[str, dict[str, ErpCustomer]] = {}
    for f in fields:
        values = sorted({v for d in todo if (v := getattr(d, f))})
        found[f] = await find(f, values) if values else {}
    out: dict[CustomerData, tuple[str, str]] = {}
    for d in todo:
        for f in fields:
            value = getattr(d, f)
            hit = found[f].get(value) if value else None
            if hit is not None and hit.external_ref != d.external_ref:
                if await ctx.connector.find_customer(d.external_ref) is None:
                    out[d] = (hit.code, f"{f}:{value}")
                break
    return out


def _billing_address(customer_id: int, addresses: Mapping[int, AddressRow],
                     by_customer: Mapping[int, Sequence[AddressRow]] | None = None
                     ) -> AddressSnapshot | None:
    """The address the customer's ERP data (company, VAT, phone) is read from:
    their first one that is not deleted, so it does not change batch by batch.
    ``by_customer`` (``_by_customer(addresses)``) saves a scan per customer."""
    if by_customer is not None:
        mine = by_customer.get(customer_id, [])
    else:
        mine = [a for a in addresses.values() if a["customer_shop_id"] == customer_id]
    live = [a for a in mine if not a["data"].get("deleted")] or mine
    return min(live, key=lambda a: a["shop_id"])["data"] if live else None


def _by_customer(addresses: Mapping[int, A]) -> dict[int, list[A]]:
    out: dict[int, list[A]] = {}
    for a in addresses.values():
        out.setdefault(a["customer_shop_id"], []).append(a)
    return out


async def _push_destinations(ctx: RunContext, b: _Batch, customers: dict[int, HubCustomer],
                             addresses: dict[int, HubAddress], force: bool) -> None:
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
    refused: dict[str, str] = {}
    results = await _isolating(
        ctx, todo, lambda t: t[2].external_ref,
        lambda items: ctx.connector.upsert_destinations([(code, dest) for _, code, dest in items]),
        "address", refused)
    for (aid, _, dest), result in zip(todo, results, strict=True):
        if result is None:
            b.bad_addresses[aid] = (f"address {aid} refused by the ERP: "
                                    f"{refused[dest.external_ref or '']}")
            continue
        if result.outcome == "created":
            ctx.run.counts["destinations"] += 1
        b.destinations[aid] = result.code
        b.hub_address_updates.append((result.code, hashes[aid], ctx.account_id, aid))


async def _pending_quantities(ctx: RunContext) -> dict[str, int]:
    """Quantity of each article code on the orders not yet in the ERP, once per run."""
    cached = ctx.state.pending_quantities
    if cached is not None:
        return cached
    out: dict[str, int] = {}
    after = 0
    while True:  # in slices: the whole outbox's order data at once is tens of MB
        rows = await ctx.hub.fetchall(
            "SELECT x.id, o.data FROM outbox x JOIN orders o ON o.account_id = x.account_id "
            "AND o.shop_id = x.ref WHERE x.account_id = ? AND x.kind = 'order' "
            "AND x.done_at IS NULL AND x.id > ? ORDER BY x.id LIMIT 500",
            (ctx.account_id, after))
        if not rows:
            break
        after = rows[-1][0]
        for r in rows:
            order: OrderSnapshot = json.loads(r[1])
            for line in order.get("lines", []):
                out[line["code"]] = out.get(line["code"], 0) + int(line["quantity"])
    ctx.state.pending_quantities = out
    return out


async def _starting_stock(ctx: RunContext, lines: dict[str, LineSnapshot]) -> dict[str, int]:
    """The stock an article Sincro creates starts with: the shop's stock of the product
    now, plus what the orders not yet in the ERP took from it (the shop has counted them;
    their documents take them off again), so that once they are in, the ERP holds what the
    shop holds (docs/FISCAL.md, "Identity"). Without the shop's stock (a key that may not
    read stock_availables), 0 with a warning, as before."""
    client = getattr(ctx.shop, "client", None)
    if client is None or ctx.dry_run:
        return {}
    pids = {int(line["product_id"]) for line in lines.values() if line.get("product_id")}
    try:
        rows = await client.stock_availables_for(pids) if pids else []
    except ShopError as exc:
        ctx.run.warning(f"new articles start with stock 0: the shop's stock was not read: {exc}")
        return {}
    shop: dict[tuple[int, int], int] = {}
    for r in rows:
        if r.id_shop in (0, 1) or (r.id_product, r.id_product_attribute) not in shop:
            shop[(r.id_product, r.id_product_attribute)] = r.quantity
    pending = await _pending_quantities(ctx)
    out: dict[str, int] = {}
    for code, line in lines.items():
        key = (int(line.get("product_id") or 0), int(line.get("attribute_id") or 0))
        if key in shop:
            out[code] = shop[key] + pending.get(code, 0)
    return out


def _order_blocked(b: _Batch, o: OrderSnapshot) -> str | None:
    """Why this order cannot go in now: its customer, an address or an article was refused."""
    if o["customer_id"] in b.bad_customers:
        return b.bad_customers[o["customer_id"]]
    for aid in (o["delivery_address_id"], o["invoice_address_id"]):
        if aid in b.bad_addresses:
            return b.bad_addresses[aid]
    for line in o["lines"]:
        if line["code"] in b.bad_articles:
            return b.bad_articles[line["code"]]
    if o["customer_id"] not in b.customer_codes:
        return "customer not in the ERP"
    return None


async def _push_orders(ctx: RunContext, b: _Batch, orders: dict[int, OrderSnapshot],
                       failed: dict[int, str], outbox_by_ref: dict) -> dict[int, str]:
    if not orders:
        return {}
    run = ctx.run
    docs = []
    stopped: dict[str, list[tuple[int, str]]] = {}
    for oid, o in orders.items():
        try:
            docs.append(build_document(
                ctx.ref("o", oid), o, b.customer_codes.get(o["customer_id"]) or "-",
                b.destinations.get(o["delivery_address_id"]),
                b.destinations.get(o["invoice_address_id"]), account=ctx.account))
        except vat.HeldForReview as exc:
            failed[outbox_by_ref[("order", oid)]] = f"held for review: {exc}"
            run.counts["orders_held"] += 1
            run.error(str(exc))
        except vat.VatError as exc:
            failed[outbox_by_ref[("order", oid)]] = str(exc)
            run.counts["orders_held"] += 1
            stopped.setdefault(exc.cause, []).append((oid, str(exc)))
    for cause, items in stopped.items():
        if len(items) <= 3:
            for _, message in items:
                run.error(message)
        else:  # one line for many orders stopped by one missing entry
            ids = ", ".join(str(oid) for oid, _ in items[:20])
            more = f" and {len(items) - 20} more" if len(items) > 20 else ""
            run.error(f"{len(items)} orders wait ({ids}{more}): a line at {cause}")
    docs_by_oid = {int(d.external_ref.rsplit(":", 1)[1]): d for d in docs}

    # Articles the ERP lacks are created as the order goes in (O-3).
    wanted: dict[str, LineSnapshot] = {}
    for oid in docs_by_oid:
        for line in orders[oid]["lines"]:
            wanted.setdefault(line["code"], line)
    existing = await ctx.connector.find_articles(sorted(wanted))
    missing = sorted(set(wanted) - set(existing))
    if missing:
        refused: dict[str, str] = {}
        stock = await _starting_stock(ctx, {c: wanted[c] for c in missing})
        made = await _isolating(
            ctx, [ArticleData(code=code, description=wanted[code]["name"] or code,
                              price=Decimal(wanted[code]["unit_price"]),
                              vat_rate=Decimal(wanted[code]["vat_rate"]),
                              stock=stock.get(code, 0),
                              ean13=(wanted[code].get("ean13") or "").strip() or None)
                  for code in missing],
            lambda a: a.code, ctx.connector.create_articles, "article", refused)
        for code, result in zip(missing, made, strict=True):
            if result is None:
                b.bad_articles[code] = f"article {code} refused by the ERP: {refused[code]}"
                continue
            run.counts["articles_created"] += 1
            run.info(f"article {code} created in the ERP")

    ready = []
    for oid, doc in docs_by_oid.items():
        why = _order_blocked(b, orders[oid])
        if why is not None:
            failed[outbox_by_ref[("order", oid)]] = why
            if why != "customer not in the ERP":
                run.error(f"order {oid} waits: {why}")
            continue
        ready.append(doc)
    numbers: dict[int, str] = {}
    refused_docs: dict[str, str] = {}
    results = await _isolating(ctx, ready, lambda d: d.external_ref, ctx.connector.insert_orders,
                               "order", refused_docs)
    for doc, res in zip(ready, results, strict=True):
        oid = int(doc.external_ref.rsplit(":", 1)[1])
        if res is None:
            failed[outbox_by_ref[("order", oid)]] = refused_docs[doc.external_ref]
            continue
        numbers[oid] = res.document.number
        if res.created:
            run.counts["documents_inserted"] += 1
            run.log(Level.DEBUG, f"order {oid} -> ERP document {res.document.number}")
    return numbers


async def _load_orders(ctx: RunContext, ids: list[int]) -> dict[int, OrderSnapshot]:
    out: dict[int, OrderSnapshot] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = await ctx.hub.fetchall(
            "SELECT shop_id, data FROM orders WHERE account_id = ? AND shop_id IN "
            f"({','.join('?' * len(chunk))})", (ctx.account_id, *chunk))
        out.update({r[0]: json.loads(r[1]) for r in rows})
    return out


async def _load_customers(ctx: RunContext, ids: set[int], refs: Sequence[str] = (),
                          have: dict[int, HubCustomer] | None = None
                          ) -> dict[int, HubCustomer]:
    """Hub customers by shop id, or by ERP reference (those already in ``have`` are not
    read again)."""
    out: dict[int, HubCustomer] = {}
    have = have or {}
    column, id_list = ("erp_ref", list(refs)) if refs else ("shop_id", sorted(ids))
    for i in range(0, len(id_list), 500):
        chunk = id_list[i:i + 500]
        rows = await ctx.hub.fetchall(
            "SELECT shop_id, data, erp_ref, erp_code, erp_hash, erp_match FROM customers "
            f"WHERE account_id = ? AND {column} IN ({','.join('?' * len(chunk))})",
            (ctx.account_id, *chunk))
        for r in rows:
            out[r[0]] = have.get(r[0]) or {
                "shop_id": r[0], "data": json.loads(r[1]), "erp_ref": r[2], "erp_code": r[3],
                "erp_hash": r[4], "erp_match": r[5]}
    return out


async def _load_addresses(ctx: RunContext, ids: set[int],
                          customers: AbstractSet[int] = frozenset()) -> dict[int, HubAddress]:
    out: dict[int, HubAddress] = {}
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
