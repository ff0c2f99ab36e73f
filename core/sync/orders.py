"""Orders sync, import half (O-1..O-3): shop orders into the hub, exactly once.

Each page of new orders is written in one hub transaction together with its
customers, addresses, article codes, outbox entries and the moved cursor, so
a crash anywhere repeats a page and never loses or doubles one (R-4). The
partial sync (core.sync.partial) then drains the outbox into the ERP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from core import fiscal
from core.accounts import Account
from core.kinds import Level
from core.sync import vat
from core.sync.coding import choose_code
from core.sync.context import RunContext, get_cursor, set_cursor
from core.sync.snapshot import AddressSnapshot, CustomerSnapshot, LineSnapshot, OrderSnapshot
from core.timeutil import iso, utcnow

PAGE_SIZE = 100
PREFETCH = 3  # pages in flight ahead of the one being written


def _dec(v: Any) -> str:
    return str(Decimal(v or 0))


def vat_rate(tax_excl: Decimal, tax_incl: Decimal) -> Decimal:
    """A rate read from prices: only for hub orders imported before tax data was read."""
    if not tax_excl:
        return Decimal("0")
    rate = (Decimal(tax_incl) / Decimal(tax_excl) - 1) * 100
    return rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize() + 0


def email_key(email: str | None) -> str:
    return (email or "").strip().lower()


def customer_ref(ctx: RunContext, customer: Any, refs: CustomerRefs | None = None) -> str:
    """The ERP reference of a shop customer. With ``merge_guests`` (on by default), one
    per e-mail: a customer whose e-mail (trimmed, any case) the account has met before,
    guest or registered, takes the reference of the first one; else a guest is keyed by
    its e-mail and a registered customer by its id. References once given never change,
    so a hub made before this rule keeps its customers as they are."""
    merge = ctx.account.option("merge_guests")
    key = email_key(customer.email)
    if merge and key and refs is not None and key in refs.by_email:
        return refs.by_email[key]
    if customer.is_guest and key and merge:
        ref = ctx.ref("e", key)
    else:
        ref = ctx.ref("c", customer.id)
    if merge and key and refs is not None:
        refs.by_email[key] = ref
    return ref


class CustomerRefs:
    """The account's e-mail -> ERP reference of the first customer with it, loaded once."""

    def __init__(self, rows: list[Any]) -> None:
        self.by_email: dict[str, str] = {}
        for email, ref in rows:
            key = email_key(email)
            if key:
                self.by_email.setdefault(key, ref)

    @classmethod
    async def load(cls, ctx: RunContext) -> CustomerRefs:
        found = ctx.state.customer_refs
        if found is not None:
            return found
        rows = await ctx.hub.fetchall(
            "SELECT email, erp_ref FROM customers WHERE account_id = ? "
            "ORDER BY imported_at, shop_id", (ctx.account_id,))
        refs = cls(rows)
        ctx.state.customer_refs = refs
        return refs


def customer_data(customer: Any) -> CustomerSnapshot:
    return {
        "id": customer.id, "email": customer.email, "firstname": customer.firstname,
        "lastname": customer.lastname, "company": customer.company,
        "siret": customer.siret, "is_guest": bool(customer.is_guest),
        "deleted": bool(customer.deleted),
        "date_upd": customer.date_upd.isoformat() if customer.date_upd else None,
    }


def einvoice_fields(address: Any, pec_fields: list[str], sdi_fields: list[str]) -> dict[str, str]:
    """PEC and SDI code of an address: from the fields a shop module adds (the account's
    ``pec_fields`` / ``sdi_fields``, first non-empty), else labelled in ``other``."""
    raw = address.raw if isinstance(getattr(address, "raw", None), dict) else {}
    found = fiscal.labelled(address.other)
    for name, fields, check in (("pec", pec_fields, fiscal.pec_value),
                                ("sdi", sdi_fields, fiscal.sdi_value)):
        for f in fields:
            value = check(str(raw.get(f) or ""))
            if value:
                found[name] = value
                break
    return found


def address_data(address: Any, country_iso: str, state_iso: str = "",
                 options: Account | None = None) -> AddressSnapshot:
    pec_fields = list(options.option("pec_fields")) if options is not None else ["pec"]
    sdi_fields = (list(options.option("sdi_fields")) if options is not None
                  else ["sdi", "codice_destinatario"])
    extra = einvoice_fields(address, pec_fields, sdi_fields)
    return {
        "id": address.id, "id_customer": address.id_customer, "firstname": address.firstname,
        "lastname": address.lastname, "company": address.company,
        "vat_number": address.vat_number, "dni": address.dni,
        "address1": address.address1, "address2": address.address2,
        "postcode": address.postcode, "city": address.city, "country": country_iso,
        "id_state": address.id_state, "province": state_iso,
        "phone": address.phone or address.phone_mobile,
        "pec": extra.get("pec"), "sdi": extra.get("sdi"),
        "deleted": bool(address.deleted),
    }


def _tax_ids(detail: dict[str, Any]) -> list[int]:
    """The ids of an order_details row's ``taxes`` association."""
    assocs = detail.get("associations")
    taxes = assocs.get("taxes") if isinstance(assocs, dict) else None
    ids: list[int] = []
    for t in taxes or ():
        try:
            i = int(str(t.get("id")).strip())
        except (ValueError, AttributeError):
            continue
        if i > 0:
            ids.append(i)
    return ids


def _detail_tax(detail: dict[str, Any] | None, lookups: Any) -> tuple[str | None, int, list[int]]:
    """The rate the shop applied to an order row (its taxes' rates added), its tax rules
    group and tax ids; rate None when the shop did not say (no order_details row)."""
    if detail is None:
        return None, 0, []
    ids = _tax_ids(detail)
    try:
        group = int(str(detail.get("id_tax_rules_group") or "0").strip() or 0)
    except ValueError:
        group = 0
    if not ids and str(detail.get("unit_price_tax_incl")) != str(detail.get("unit_price_tax_excl")):
        try:
            differ = Decimal(str(detail.get("unit_price_tax_incl") or 0)) != \
                Decimal(str(detail.get("unit_price_tax_excl") or 0))
        except ArithmeticError:
            differ = True
        if differ:  # no tax listed, yet taxed prices: the shop did not say which tax
            return None, group, ids
    rate = Decimal(0)
    for i in ids:
        tax = lookups.taxes.get(i)
        if tax is None:
            return None, group, ids
        rate += tax.rate
    return str(rate.normalize() + 0), group, ids


def _charge_rate(excl: Decimal, incl: Decimal, rates: set[Decimal]) -> str:
    """The rate of a charge the order gives no tax rule for (gift wrapping): the shop's
    tax whose rate its amounts show, when one does to the cent; else the ratio itself,
    which the tax map will not know, so the order stops with a message."""
    if not excl:
        return "0"
    for r in sorted(rates):
        if abs((excl * (1 + r / 100)).quantize(Decimal("0.01"), ROUND_HALF_UP) - incl) <= \
                Decimal("0.01"):
            return str(r.normalize() + 0)
    return str(vat_rate(excl, incl))


def order_data(order: Any, codes: dict[tuple[int, int], str], lookups: Any,
               details: list[dict[str, Any]] | None = None,
               messages: list[str] | None = None, *, page: ReadPage | None = None) -> OrderSnapshot:
    """The hub's data of a shop order; ``page``: its page as read, whose product and state
    names are those of the account's language when it names one (option language)."""
    by_id = {}
    for d in details or []:
        try:
            by_id[int(str(d.get("id")).strip())] = d
        except ValueError:
            continue
    lines: list[LineSnapshot] = []
    for row in order.rows:
        detail = by_id.get(row.id)
        rate, group, _ids = _detail_tax(detail, lookups)
        excl, incl = row.unit_price_tax_excl, row.unit_price_tax_incl
        t_excl = (detail or {}).get("total_price_tax_excl")
        t_incl = (detail or {}).get("total_price_tax_incl")
        lines.append({
            "id": row.id, "product_id": row.product_id, "attribute_id": row.product_attribute_id,
            "code": codes[(row.product_id, row.product_attribute_id)],
            "name": page.row_name(order, row) if page is not None else row.product_name,
            "reference": row.product_reference,
            "quantity": row.quantity,
            "unit_price": _dec(excl),
            "unit_price_tax_incl": _dec(incl),
            "total_tax_excl": _dec(t_excl if t_excl not in (None, "") else excl * row.quantity),
            "total_tax_incl": _dec(t_incl if t_incl not in (None, "") else incl * row.quantity),
            "vat_rate": rate if rate is not None else str(vat_rate(excl, incl)),
            "vat_from": "shop" if rate is not None else "prices",
            "tax_group": group,
            "ean13": row.product_ean13,
        })
    notes = list(messages or [])
    if order.gift and order.gift_message.strip():
        notes.append(f"gift message: {order.gift_message.strip()}")
    if order.note.strip():
        notes.append(f"note: {order.note.strip()}")
    w_excl, w_incl = order.total_wrapping_tax_excl, order.total_wrapping_tax_incl
    data: OrderSnapshot = {
        "id": order.id, "reference": order.reference, "state": order.current_state,
        "date": (order.date_add.date().isoformat() if order.date_add else None),
        "date_add": order.date_add.isoformat() if order.date_add else None,
        "currency": lookups.currency_iso(order.id_currency),
        "conversion_rate": _dec(order.conversion_rate) if order.conversion_rate else None,
        "payment": order.payment, "module": order.module,
        "carrier": lookups.carrier_name(order.id_carrier), "carrier_id": order.id_carrier,
        "customer_id": order.id_customer,
        "delivery_address_id": order.id_address_delivery,
        "invoice_address_id": order.id_address_invoice,
        "lines": lines,
        "tax_data": details is not None,
        "round_type": int(order.raw.get("round_type") or 0) if isinstance(order.raw, dict) else 0,
        "shipping": {
            "tax_excl": _dec(order.total_shipping_tax_excl),
            "tax_incl": _dec(order.total_shipping_tax_incl),
            "vat_rate": _dec(order.carrier_tax_rate),
        },
        "discounts": {
            "tax_excl": _dec(order.total_discounts_tax_excl),
            "tax_incl": _dec(order.total_discounts_tax_incl),
        },
        "wrapping": {
            "tax_excl": _dec(w_excl),
            "tax_incl": _dec(w_incl),
            "vat_rate": _charge_rate(w_excl, w_incl, lookups.tax_rates()) if w_excl else "0",
        },
        "notes": notes,
        "total_tax_excl": _dec(order.total_paid_tax_excl),
        "total_tax_incl": _dec(order.total_paid_tax_incl),
    }
    if page is not None and page.state_names is not None:
        data["state_name"] = page.state_names.get(order.current_state, "")
    return data


async def shop_addresses(shop: Any, account: Account | None,
                         addresses: Any) -> dict[int, AddressSnapshot]:
    """The hub's data of these shop addresses (countries and provinces looked up)."""
    items = list(addresses.values() if isinstance(addresses, dict) else addresses)
    lookups = shop.lookups
    await lookups.ensure(countries={a.id_country for a in items},
                         states={a.id_state for a in items})
    return {a.id: address_data(a, lookups.country_iso(a.id_country),
                               lookups.state_iso(a.id_state), account) for a in items}


async def shop_orders(shop: Any, orders: list[Any],
                      codes: dict[tuple[int, int], str]) -> dict[int, OrderSnapshot]:
    """The hub's data of these shop orders, their tax data and messages read in batches."""
    ids = [o.id for o in orders]
    details, messages = await asyncio.gather(shop.order_details(ids), shop.order_messages(ids))
    lookups = shop.lookups
    await lookups.ensure(currencies={o.id_currency for o in orders},
                         carriers={o.id_carrier for o in orders},
                         taxes={t for rows in details.values() for d in rows
                                for t in _tax_ids(d)})
    page = ReadPage(list(orders), [], set(), {}, {}, details, messages, set(), set())
    await _name_in_language(shop, page)
    return {o.id: order_data(o, codes, lookups, details.get(o.id, []), messages.get(o.id),
                             page=page)
            for o in orders}


async def _name_in_language(shop: Any, page: ReadPage) -> None:
    """An account with a language of its own (option language): the page's product names in
    every language and the order state names in it, read in batches once."""
    if page.fresh and getattr(shop, "named_language", False):
        page.language, page.names, page.state_names = await asyncio.gather(
            shop.language_id(),
            shop.product_names({r.product_id for o in page.fresh for r in o.rows}),
            shop.state_names())


def check_amounts(order: Any) -> str | None:
    """Why an order's amounts cannot go on a document (not finite, absurd, more than 6
    decimals), or None. PrestaShop keeps amounts as DECIMAL(20,6): anything else is not
    shop data an office can book (docs/FISCAL.md, "Amounts")."""
    values = [("total_paid_tax_incl", order.total_paid_tax_incl),
              ("total_paid_tax_excl", order.total_paid_tax_excl),
              ("total_shipping_tax_incl", order.total_shipping_tax_incl),
              ("total_shipping_tax_excl", order.total_shipping_tax_excl),
              ("total_discounts_tax_incl", order.total_discounts_tax_incl),
              ("total_discounts_tax_excl", order.total_discounts_tax_excl),
              ("total_wrapping_tax_incl", order.total_wrapping_tax_incl),
              ("total_wrapping_tax_excl", order.total_wrapping_tax_excl),
              ("carrier_tax_rate", order.carrier_tax_rate),
              ("conversion_rate", order.conversion_rate)]
    for row in order.rows:
        values += [(f"row {row.id} unit_price_tax_excl", row.unit_price_tax_excl),
                   (f"row {row.id} unit_price_tax_incl", row.unit_price_tax_incl)]
        if not 0 < row.quantity < 10**9:
            return f"row {row.id} has quantity {row.quantity}"
    for what, value in values:
        # the common case at once: a finite amount under 10^12 with at most 6 decimals
        if (isinstance(value, Decimal) and value.is_finite() and value.adjusted() < 12
                and isinstance(exponent := value.as_tuple().exponent, int) and exponent >= -6):
            continue
        try:
            vat.decimal(value, what)
        except vat.VatError as exc:
            return str(exc)
    return None


class ArticleMap:
    """The account's (product, combination) -> code map, loaded once per run."""

    def __init__(self, rows: list[Any]) -> None:
        self.by_key: dict[tuple[int, int], str] = {(r[0], r[1]): r[2] for r in rows}
        self.codes: set[str] = {r[2] for r in rows}

    @classmethod
    async def load(cls, ctx: RunContext) -> ArticleMap:
        rows = await ctx.hub.fetchall(
            "SELECT product_id, attribute_id, code FROM articles WHERE account_id = ?",
            (ctx.account_id,))
        return cls(rows)


async def import_orders(ctx: RunContext) -> None:
    """Import every importable order the hub lacks (O-1), from the persisted cursor.

    Two stages overlap: while one page is written to the hub, the shop objects of the
    next page (rows with their taxes, messages, customers, addresses) are already being
    read (``PageReader``), so a page costs the larger of its reads and its write, not
    their sum."""
    run = ctx.run
    run.steps.append("orders")
    if getattr(ctx.shop, "warn", ...) is None:
        ctx.shop.warn = run.warning
    excluded = {int(s) for s in ctx.account.option("excluded_states") or []}
    articles = await ArticleMap.load(ctx)
    reader = PageReader(ctx, excluded)

    # Orders seen earlier in a state that was not importable: are they now?
    pending = [r[0] for r in await ctx.hub.fetchall(
        "SELECT shop_id FROM pending_orders WHERE account_id = ? ORDER BY shop_id",
        (ctx.account_id,))]
    if pending:
        run.info(f"re-checking {len(pending)} orders that were not importable yet")
        found = await ctx.shop.orders_by_ids(pending)
        try:
            await _write_page(ctx, await reader.start(list(found.values())), articles,
                              cursor=None, recheck=True)
        except BaseException:
            await reader.close()
            raise

    cursor = int(await get_cursor(ctx.hub, ctx.account_id, "orders") or 0)
    run.info(f"reading orders after id {cursor}")
    done = 0
    ahead: tuple[asyncio.Task, int, int] | None = None  # the page read, its cursor and size
    try:
        async for page in ctx.shop.orders_after(cursor, PAGE_SIZE, prefetch=PREFETCH):
            if not page:
                continue
            task = reader.start(page)
            if ahead is not None:
                await _write_ahead(ctx, ahead, articles)
                done += ahead[2]
                run.progress("orders", done)
            ahead = (task, max(o.id for o in page), len(page))
        if ahead is not None:
            await _write_ahead(ctx, ahead, articles)
            done += ahead[2]
            ahead = None
            run.progress("orders", done)
    finally:
        if ahead is not None and not ahead[0].done():
            ahead[0].cancel()
            with contextlib.suppress(BaseException):
                await ahead[0]
        await reader.close()
    run.info(
        f"orders: {run.counts['orders_imported']} "
        f"{'would be imported' if ctx.dry_run else 'imported'}, "
        f"{run.counts['orders_skipped']} not importable yet"
    )


async def _write_ahead(ctx: RunContext, ahead: tuple[asyncio.Task, int, int],
                       articles: ArticleMap) -> None:
    await _write_page(ctx, await ahead[0], articles, cursor=ahead[1])


@dataclass(slots=True)
class ReadPage:
    """One page of shop orders with what its write needs from the shop."""

    fresh: list[Any]  # importable orders the hub lacks, amounts checked
    skipped: list[Any]  # not importable (yet): excluded state, or amounts refused
    known: set[int]  # importable orders the hub already has
    customers: dict[int, Any]
    addresses: dict[int, Any]
    details: dict[int, list[dict[str, Any]]]
    messages: dict[int, list[str]]
    have_customers: set[int]  # the orders' customers the hub had when the page was read
    written_customers: set[int]  # returned by the pages written before it in this run
    # an account with a language of its own (option language): its id, the orders' product
    # names in every language and the order state names in it
    language: int | None = None
    names: dict[int, Any] = field(default_factory=dict)
    state_names: dict[int, str] | None = None

    def row_name(self, order: Any, row: Any) -> str:
        """An order row's product name in the account's language: the row's name (the
        order's language, with its combination's attributes) with the product's name in
        the account's language in place of the one in the order's; the row's own name
        without the option or when the shop no longer has the product."""
        names = self.names.get(row.product_id)
        if self.language is None or not names:
            return str(row.product_name)
        wanted = names.text(self.language)
        if not wanted:
            return str(row.product_name)
        given = names.get(order.id_lang) or names.text()
        if given and row.product_name.startswith(given):
            return wanted + row.product_name[len(given):]
        return wanted if not row.product_attribute_id else str(row.product_name)


class PageReader:
    """Reads the shop objects of pages side by side. A page asks only for the customers and
    addresses that neither the hub nor an earlier page of the run asked for (the hub may
    not hold an earlier page's yet: its reading or its write can still be running); the
    write of a page finds those of earlier pages in ``written_customers``."""

    def __init__(self, ctx: RunContext, excluded: set[int]) -> None:
        self.ctx = ctx
        self.excluded = excluded
        self.customers_asked: set[int] = set()
        self.addresses_asked: set[int] = set()
        self.written_customers: set[int] = set()  # returned by pages already written
        self._lookups = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []

    def start(self, orders: list[Any]) -> asyncio.Task:
        """Start reading this page."""
        self._tasks = [t for t in self._tasks if not t.done()]
        task = asyncio.create_task(self._read(orders))
        self._tasks.append(task)
        return task

    async def close(self) -> None:
        tasks, self._tasks = self._tasks, []
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    async def _read(self, orders: list[Any]) -> ReadPage:
        ctx, run = self.ctx, self.ctx.run
        orders = list({o.id: o for o in orders}.values())  # a page may repeat an id
        importable = [o for o in orders if o.current_state not in self.excluded]
        skipped = [o for o in orders if o.current_state in self.excluded]
        known = await _known_orders(ctx, [o.id for o in importable])
        fresh = [o for o in importable if o.id not in known]
        bad: dict[int, str] = {}
        for o in fresh:
            why = check_amounts(o)
            if why:
                bad[o.id] = why
        if bad:
            for oid, why in sorted(bad.items()):
                run.error(f"order {oid}: {why}; it waits until the shop corrects it")
            skipped = skipped + [o for o in fresh if o.id in bad]
            fresh = [o for o in fresh if o.id not in bad]
        fresh_ids = [o.id for o in fresh]
        # Related objects, in batches; only those the hub and earlier pages lack.
        customer_ids = {o.id_customer for o in fresh} - self.customers_asked
        address_ids = {a for o in fresh for a in (o.id_address_delivery, o.id_address_invoice)
                       if a} - self.addresses_asked
        have_customers = await _known(ctx, "customers", customer_ids)
        have_addresses = await _known(ctx, "addresses", address_ids)
        customer_ids -= have_customers
        address_ids -= have_addresses
        self.customers_asked |= customer_ids
        self.addresses_asked |= address_ids
        customers, addresses, details, messages = await asyncio.gather(
            ctx.shop.customers(customer_ids),
            ctx.shop.addresses(address_ids),
            ctx.shop.order_details(fresh_ids) if fresh_ids else _empty(),
            ctx.shop.order_messages(fresh_ids) if fresh_ids else _empty())
        async with self._lookups:  # one look-up of what pages side by side lack
            await ctx.shop.lookups.ensure(
                countries={a.id_country for a in addresses.values()},
                currencies={o.id_currency for o in fresh},
                carriers={o.id_carrier for o in fresh},
                states={a.id_state for a in addresses.values()},
                taxes={t for rows in details.values() for d in rows for t in _tax_ids(d)},
            )
        page = ReadPage(fresh, skipped, known, customers, addresses, details, messages,
                        have_customers, self.written_customers)
        await _name_in_language(ctx.shop, page)
        return page


async def _write_page(ctx: RunContext, page: ReadPage, articles: ArticleMap, *,
                      cursor: int | None, recheck: bool = False) -> None:
    run = ctx.run
    fresh, skipped, known = page.fresh, page.skipped, page.known
    customers, addresses = page.customers, page.addresses
    details, messages = page.details, page.messages
    lookups = ctx.shop.lookups

    now = iso(utcnow())
    prefix = ctx.account.option("article_prefix")
    rule = ctx.account.option("coding_rule")
    new_articles: list[tuple] = []
    office = await _office_articles(ctx, [r for o in fresh for r in o.rows
                                          if (r.product_id, r.product_attribute_id)
                                          not in articles.by_key])
    for o in fresh:
        for row in o.rows:
            key = (row.product_id, row.product_attribute_id)
            if key in articles.by_key:
                continue
            found = office.get(key)
            if found is not None and found[0] not in articles.codes:
                code, match = found  # the office's own article (docs/FISCAL.md, "Identity")
                auto = 0
            else:
                code, from_ref = choose_code(row.product_reference, *key, rule=rule,
                                             prefix=prefix, taken=articles.codes)
                match, auto = None, 0 if from_ref else 1
            articles.by_key[key] = code
            articles.codes.add(code)
            new_articles.append((ctx.account_id, key[0], key[1], code, row.product_reference,
                                 page.row_name(o, row), auto, now, match))

    missing_customers = [o.id for o in fresh if o.id_customer not in page.have_customers
                         and o.id_customer not in customers
                         and o.id_customer not in page.written_customers]
    if missing_customers:
        run.error(f"orders {missing_customers[:10]} name customers the shop did not return; "
                  "they stay pending")
        held = set(missing_customers)
        skipped = skipped + [o for o in fresh if o.id in held]
        fresh = [o for o in fresh if o.id not in held]

    page.written_customers.update(customers)  # in the hub with this page (or would be)
    known_refs = await CustomerRefs.load(ctx)
    if ctx.dry_run:
        await _report_dry_run(ctx, fresh, customers, new_articles, known_refs)
        return
    # the first of several new customers with one e-mail (guest or not) gives the reference
    refs_of = {c.id: customer_ref(ctx, c, known_refs)
               for c in sorted(customers.values(), key=lambda c: c.id)}

    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "INSERT INTO customers (account_id, shop_id, email, is_guest, date_upd, data,"
            " erp_ref, imported_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(ctx.account_id, c.id, c.email, int(bool(c.is_guest)),
              c.date_upd.isoformat() if c.date_upd else None,
              json.dumps(customer_data(c), ensure_ascii=False), refs_of[c.id], now, now)
             for c in customers.values()],
        )
        await conn.executemany(
            "INSERT INTO addresses (account_id, shop_id, customer_shop_id, data) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(ctx.account_id, a.id, a.id_customer,
              json.dumps(address_data(a, lookups.country_iso(a.id_country),
                                      lookups.state_iso(a.id_state), ctx.account),
                         ensure_ascii=False))
             for a in addresses.values()],
        )
        await conn.executemany(
            "INSERT INTO articles (account_id, product_id, attribute_id, code, reference,"
            " name, auto_coded, created_at, erp_match) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            new_articles)
        await conn.executemany(
            "INSERT INTO orders (account_id, shop_id, reference, customer_shop_id, state,"
            " date_add, data, imported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(ctx.account_id, o.id, o.reference, o.id_customer, o.current_state,
              o.date_add.isoformat() if o.date_add else None,
              json.dumps(order_data(o, articles.by_key, lookups, details.get(o.id, []),
                                    messages.get(o.id), page=page), ensure_ascii=False), now)
             for o in fresh],
        )
        await conn.executemany(
            "INSERT INTO outbox (account_id, kind, ref, created_at) VALUES (?, 'order', ?, ?) ON CONFLICT DO NOTHING",
            [(ctx.account_id, o.id, now) for o in fresh],
        )
        imported = {o.id for o in fresh}
        await conn.executemany(
            "DELETE FROM pending_orders WHERE account_id = ? AND shop_id = ?",
            [(ctx.account_id, i) for i in imported | known],
        )
        await conn.executemany(
            "INSERT INTO pending_orders (account_id, shop_id, state, seen_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (account_id, shop_id) DO UPDATE SET "
            "state = excluded.state, seen_at = excluded.seen_at",
            [(ctx.account_id, o.id, o.current_state, now) for o in skipped],
        )
        if cursor is not None:
            await set_cursor(conn, ctx.account_id, "orders", str(cursor))
        # counted inside: the run's row is written with the page (RunRecorder.tx_write)
        run.counts["orders_imported"] += len(fresh)
        if not recheck:
            run.counts["orders_skipped"] += len(skipped)
        run.counts["articles_coded"] += sum(1 for a in new_articles if a[6])
        for o in fresh:
            run.log(Level.DEBUG, f"order {o.id} ({o.reference}) imported")
    ctx.state.new_order_ids.extend(o.id for o in fresh)


async def _report_dry_run(ctx: RunContext, fresh, customers, new_articles,
                          known_refs: CustomerRefs) -> None:
    """What the run would do, read from the ERP without writing: orders imported, customers
    created or linked (guests merged), articles coded and created."""
    run = ctx.run
    seen = ctx.state.dry_run_customers
    for o in fresh:
        run.info(f"would import order {o.id} ({o.reference}), {len(o.rows)} rows, "
                 f"total {o.total_paid_tax_incl}, state {o.current_state}")
    by_ref: dict[str, list[Any]] = {}
    scratch = CustomerRefs([])  # what this dry run would decide, never kept
    scratch.by_email = dict(known_refs.by_email)
    for c in sorted(customers.values(), key=lambda c: c.id):
        by_ref.setdefault(customer_ref(ctx, c, scratch), []).append(c)
    for ref, group in sorted(by_ref.items()):
        if ref in seen:
            continue
        seen.add(ref)
        c = max(group, key=lambda x: x.id)
        merged = f", merging guests {sorted(x.id for x in group)}" if len(group) > 1 else ""
        known = await ctx.connector.find_customer(ref)
        if known is not None:
            run.info(f"would link customer {c.id} {c.firstname} {c.lastname} <{c.email}> to ERP "
                     f"customer {known.code} ({ref}){merged}")
        else:
            run.info(f"would create customer {c.id} {c.firstname} {c.lastname} <{c.email}> "
                     f"in the ERP as {ref}{merged}")
            run.counts["customers_created"] += 1
    in_erp = await ctx.connector.find_articles([a[3] for a in new_articles]) if new_articles else {}
    for a in new_articles:
        how = ("auto-coded" if a[6] else f"the ERP's own, found by {a[8].split(':', 1)[0]}"
               if a[8] else "coded by shop reference")
        where = "already in the ERP" if a[3] in in_erp else "created in the ERP"
        run.info(f"would code article {a[3]} ({how}) for product {a[1]}-{a[2]} "
                 f"{a[5] or ''}: {where}")
        if a[3] not in in_erp:
            run.counts["articles_created"] += 1
    run.counts["orders_imported"] += len(fresh)
    run.counts["articles_coded"] += sum(1 for a in new_articles if a[6])


async def _office_articles(ctx: RunContext, rows: list[Any]) -> dict[tuple[int, int],
                                                                     tuple[str, str]]:
    """The ERP's own articles for these new shop rows, found before Sincro codes one:
    by the shop reference (an ERP article with that code), then by EAN13, in the order the
    account's ``article_match`` gives ([] turns it off). (product, combination) ->
    (code, "reference:REF" | "ean13:EAN")."""
    keys = [k for k in ctx.account.option("article_match") or [] if k in ("reference", "ean13")]
    if not rows or not keys:
        return {}
    refs = sorted({r.product_reference.strip() for r in rows if r.product_reference.strip()})
    eans = sorted({r.product_ean13.strip() for r in rows
                   if r.product_ean13.strip().isdigit() and int(r.product_ean13)})
    by_code = await ctx.connector.find_articles(refs) if "reference" in keys and refs else {}
    by_ean_call = getattr(ctx.connector, "find_articles_by_ean", None)
    by_ean = await by_ean_call(eans) if "ean13" in keys and eans and by_ean_call else {}
    out: dict[tuple[int, int], tuple[str, str]] = {}
    for r in rows:
        ref, ean = r.product_reference.strip(), r.product_ean13.strip()
        for k in keys:
            if k == "reference" and ref in by_code:
                out[(r.product_id, r.product_attribute_id)] = (by_code[ref].code, f"reference:{ref}")
                break
            if k == "ean13" and ean in by_ean:
                out[(r.product_id, r.product_attribute_id)] = (by_ean[ean].code, f"ean13:{ean}")
                break
    return out


async def _empty() -> dict:
    return {}


async def _known_orders(ctx: RunContext, ids: list[int]) -> set[int]:
    return await _known(ctx, "orders", set(ids))


async def _known(ctx: RunContext, table: str, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    found: set[int] = set()
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        chunk = id_list[i:i + 500]
        marks = ",".join("?" * len(chunk))
        rows = await ctx.hub.fetchall(
            f"SELECT shop_id FROM {table} WHERE account_id = ? AND shop_id IN ({marks})",
            (ctx.account_id, *chunk))
        found.update(r[0] for r in rows)
    return found
