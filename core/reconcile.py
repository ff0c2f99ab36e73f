"""Reconcile: the shop's orders against the ERP's documents over a period.

``await reconcile(engine, "shop1", since=...)`` reads, with the same request
economy as an orders sync (pages of ``display=full`` orders filtered on
``date_add``, customers and addresses in id batches, the order states once),
and compares shop, hub and ERP. It returns a ``ReconcileReport`` by category:

- ``missing``: shop orders without an ERP document, each with why (state not
  importable, newer than the cursor, waiting in ``pending_orders``, stuck in
  the outbox with its last error, or pushed once and gone from the ERP);
- ``doubled``: more ERP documents than shop orders for one order (by external
  reference, or by shop reference when a document was made by hand);
- ``differs``: totals or article lines that differ between shop and ERP;
- ``states``: a shop order state that differs from what its ERP document
  state maps to (account option ``state_map``). ``direction="erp"``: the ERP
  moved and the shop lags (fix: push the states). ``direction="shop"``: the
  order moved on the shop to a mapped state the ERP document has not reached.
  Sincro never writes ERP document states from the shop (the ERP is the system
  of record), so the fix is to acknowledge it: the hub records the shop's state
  and later reconciles list it under ``acknowledged`` without failing;
- ``customers``: customers whose data drifted (shop vs hub, hub vs ERP);
- ``refunds``: shop refunds (order slips) of orders the ERP holds without their
  credit note (docs/FISCAL.md, "Refunds"), each with why (not read yet, waiting,
  its last error, or gone from the ERP).

Orders not importable are listed (``missing`` with reason ``not_importable``)
but are not a misalignment. Nothing here writes; the fixes are in
``core.resync``.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from core import accounts as acc
from core.amounts import shown
from core.erp.port import ErpDocument, credit_notes
from core.errors import ConfigError
from core.prestashop.errors import ShopPermissionError
from core.sync.context import get_cursor
from core.sync.orders import PAGE_SIZE, PREFETCH, address_data, customer_data
from core.sync.partial import AddressRow, _billing_address, build_customer
from core.sync.refunds import missing_refunds, slips_of_orders
from core.sync.shop import prefetched_pages
from core.sync.snapshot import AddressSnapshot, CustomerSnapshot, OrderSnapshot
from core.timeutil import zone

# How far an ERP event takes an order (as core.sync.states ranks them).
RANK = {"shipped": 1, "invoiced": 2, "cancelled": 3}
CATEGORIES = ("missing", "doubled", "differs", "states", "customers", "doubled_customers",
              "refunds")
CUSTOMER_FIELDS = ("name", "company", "vat_number", "tax_code", "email", "phone", "pec",
                   "sdi_code")


# -- the report --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MissingOrder:
    order_id: int
    reference: str
    state: int
    reason: str  # not_importable | new | not_imported | pending | outbox | not_in_erp
    detail: str = ""

    @property
    def problem(self) -> bool:
        return self.reason != "not_importable"


@dataclass(frozen=True, slots=True)
class Doubled:
    order_ids: tuple[int, ...]
    documents: tuple[str, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class FieldDiff:
    name: str  # total_tax_incl | total_tax_excl | lines
    shop: str
    hub: str
    erp: str


@dataclass(frozen=True, slots=True)
class OrderDifference:
    order_id: int
    document: str
    erp_state: str
    fields: tuple[FieldDiff, ...]

    @property
    def updatable(self) -> bool:
        """The ERP lets an open document change; any other is final."""
        return self.erp_state == "open"


@dataclass(frozen=True, slots=True)
class StateDifference:
    order_id: int
    document: str
    erp_state: str
    shop_state: int
    expected_state: int | None  # the shop state the ERP document maps to (direction "erp")
    direction: str  # "erp": the shop lags the ERP; "shop": moved on the shop
    detail: str


@dataclass(frozen=True, slots=True)
class CustomerDrift:
    customer_id: int
    erp_ref: str
    erp_code: str | None
    where: str  # "shop": shop != hub; "erp": hub != ERP; "erp_missing": not in the ERP
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DoubledCustomer:
    """One e-mail, several ERP customers: a hub made before customers were merged by
    e-mail (issue 15). The fix keeps the first one and moves the others' documents."""

    email: str
    keep_ref: str
    keep_code: str | None
    others: tuple[tuple[str, str | None], ...]  # (ERP reference, ERP code)
    customer_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MissingRefund:
    """A shop refund of an order the ERP holds, without its credit note."""

    slip_id: int
    order_id: int
    reason: str  # not_read | not_in_hub | waiting | error | gone
    detail: str


@dataclass(slots=True)
class ReconcileReport:
    account: str
    since: str | None
    until: str | None
    orders_checked: int = 0
    documents_checked: int = 0
    customers_checked: int = 0
    missing: list[MissingOrder] = field(default_factory=list)
    doubled: list[Doubled] = field(default_factory=list)
    differs: list[OrderDifference] = field(default_factory=list)
    states: list[StateDifference] = field(default_factory=list)
    customers: list[CustomerDrift] = field(default_factory=list)
    doubled_customers: list[DoubledCustomer] = field(default_factory=list)
    refunds: list[MissingRefund] = field(default_factory=list)
    acknowledged: list[StateDifference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def problems(self, category: str) -> list[Any]:
        items = getattr(self, category)
        if category == "missing":
            return [m for m in items if m.problem]
        return list(items)

    def counts(self) -> dict[str, int]:
        return {c: len(self.problems(c)) for c in CATEGORIES}

    @property
    def aligned(self) -> bool:
        return not any(self.counts().values())

    def ids(self, category: str) -> list[int]:
        out: list[int] = []
        for item in self.problems(category):
            if category == "doubled":
                out.extend(item.order_ids)
            elif category == "customers":
                out.append(item.customer_id)
            elif category == "doubled_customers":
                out.extend(item.customer_ids)
            elif category == "refunds":
                out.append(item.slip_id)
            else:
                out.append(item.order_id)
        return sorted(set(out))

    def as_dict(self) -> dict[str, Any]:
        d = {
            "account": self.account, "since": self.since, "until": self.until,
            "aligned": self.aligned, "counts": self.counts(),
            "checked": {"orders": self.orders_checked, "documents": self.documents_checked,
                        "customers": self.customers_checked},
            "not_importable": [asdict(m) for m in self.missing if not m.problem],
            "acknowledged": [asdict(s) for s in self.acknowledged],
            "notes": list(self.notes),
        }
        for c in CATEGORIES:
            d[c] = [asdict(x) for x in self.problems(c)]
        return d


# -- reading -----------------------------------------------------------------
def parse_when(text: str | None, tz_name: str, *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (start, or end with ``end``, of that day) or an ISO date-time, shop time."""
    if text is None:
        return None
    tz = zone(tz_name)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time.max if end else time.min).replace(
                microsecond=0, tzinfo=tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"not a date: {text!r}",
                          hint="give YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (shop time)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


async def orders_in_period(client: Any, since: datetime | None, until: datetime | None,
                           page_size: int = PAGE_SIZE, prefetch: int = PREFETCH) -> list[Any]:
    """Every order with date_add in [since, until], by pages of full orders, a few in flight."""
    flt: dict[str, str] = {}
    if since is not None or until is not None:
        lo = client._shop_time(since) if since else "1970-01-01 00:00:00"
        hi = client._shop_time(until) if until else "2999-12-31 23:59:59"
        flt["date_add"] = f"[{lo},{hi}]"

    found: dict[int, Any] = {}
    async for models in prefetched_pages(client, "orders", flt, page_size, prefetch):
        for m in models:
            found.setdefault(m.id, m)
    return [found[i] for i in sorted(found)]


async def _rows_in(hub: Any, query: str, account_id: int, ids: list[Any]) -> list[Any]:
    out: list[Any] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        out += await hub.fetchall(query.format(",".join("?" * len(chunk))), (account_id, *chunk))
    return out


async def find_documents(erp: Any, refs: list[str]) -> dict[str, ErpDocument]:
    """Documents by external reference: in batches where the ERP can, else one by one."""
    batch = getattr(erp, "find_documents", None)
    if batch is not None:
        return await batch(refs)
    out: dict[str, ErpDocument] = {}
    for ref in refs:
        doc = await erp.find_document(ref)
        if doc is not None:
            out[ref] = doc
    return out


def article_lines(doc: ErpDocument) -> Counter:
    c: Counter = Counter()
    for ln in doc.lines:
        if ln.kind == "article" and ln.article_code:
            c[ln.article_code] += ln.quantity
    return c


def _fmt_lines(c: Counter) -> str:
    return " ".join(f"{k}x{v}" for k, v in sorted(c.items()) if v) or "-"


def passed_events(doc: ErpDocument) -> set[str]:
    """The ERP events a document went through, from its state and its papers."""
    out: set[str] = set()
    if doc.state != "open":
        out.add(doc.state)
    if doc.delivery_note_number:
        out.add("shipped")
    if doc.invoice_number:
        out.add("invoiced")
    return out


def state_map(account: acc.Account) -> dict[str, int | None]:
    raw = account.option("state_map") or {}
    return {e: (int(v) if (v := raw.get(e)) is not None and v not in ("", 0) else None)
            for e in RANK}


def shop_rank(state_id: int, mapping: dict[str, int | None], states: dict[int, Any]) -> int:
    rank = max((RANK[e] for e, s in mapping.items() if s == state_id), default=0)
    st = states.get(state_id)
    if st is not None and getattr(st, "shipped", False):
        rank = max(rank, RANK["shipped"])
    return rank


def compare_state(order_id: int, shop_state: int, hub_state: int | None, doc: ErpDocument,
                  mapping: dict[str, int | None], states: dict[int, Any]
                  ) -> tuple[StateDifference | None, bool]:
    """The state difference of one order, if any, and whether it is acknowledged."""
    events = passed_events(doc)
    erp_rank = max((RANK[e] for e in events), default=0)
    mapped = [(RANK[e], mapping[e]) for e in events if mapping.get(e) is not None]
    expected_rank, expected = max(mapped, default=(0, None))
    have = shop_rank(shop_state, mapping, states)
    if doc.state == "cancelled" and mapping.get("cancelled") is not None:
        # a cancelled document wants exactly the cancelled state, not "further"
        if shop_state != mapping["cancelled"]:
            return StateDifference(order_id, doc.number, doc.state, shop_state, expected, "erp",
                                   f"ERP document is cancelled, shop order is in state "
                                   f"{shop_state}"), False
        return None, False
    if have < expected_rank:
        return StateDifference(order_id, doc.number, doc.state, shop_state, expected, "erp",
                               f"ERP document is {doc.state}, shop order still in state "
                               f"{shop_state} (expected {expected})"), False
    if have > erp_rank:
        diff = StateDifference(order_id, doc.number, doc.state, shop_state, expected, "shop",
                               f"shop order is in state {shop_state}, further than its ERP "
                               f"document ({doc.state}): handle it in the ERP")
        return diff, hub_state == shop_state
    return None, False


# -- the comparison -----------------------------------------------------------
async def reconcile(engine: Any, account_name: str, *, since: str | None = None,
                    until: str | None = None) -> ReconcileReport:
    """Compare shop, hub and ERP for the account's orders placed in [since, until]."""
    hub = engine.hub
    account = await acc.get_account(hub, account_name)
    account.resolve_key()
    lo = parse_when(since, account.tz)
    hi = parse_when(until, account.tz, end=True)
    report = ReconcileReport(account.name, lo.isoformat() if lo else None,
                             hi.isoformat() if hi else None)
    erp = await engine.erp_to_read()
    async with engine.shop_factory(account) as shop:
        orders = await orders_in_period(shop.client, lo, hi)
        order_ids = [o.id for o in orders]
        customer_ids = sorted({o.id_customer for o in orders})
        address_ids = sorted({a for o in orders
                              for a in (o.id_address_delivery, o.id_address_invoice) if a})
        # related objects the hub holds, in id batches, beside the order states
        hub_customer_ids = {r[0] for r in await _rows_in(
            hub, "SELECT shop_id FROM customers WHERE account_id = ? AND shop_id IN ({})",
            account.saved_id, customer_ids)}
        customers, addresses, states = await asyncio.gather(
            shop.customers(hub_customer_ids),
            shop.addresses(address_ids),
            shop.client.order_states() if orders else _empty(),
        )
        await shop.lookups.ensure(countries={a.id_country for a in addresses.values()},
                                 states={a.id_state for a in addresses.values()})
        lookups = shop.lookups
        slips = []
        if credit_notes(erp) is not None:
            try:
                slips = await slips_of_orders(shop, order_ids)
            except ShopPermissionError:
                report.notes.append("refunds not compared: the shop's key may not read "
                                    "order_slip")
    report.orders_checked = len(orders)

    # the hub's view
    aid = account.saved_id
    hub_orders = {r[0]: r for r in await _rows_in(
        hub, "SELECT shop_id, state, data, erp_number, pushed_at FROM orders "
        "WHERE account_id = ? AND shop_id IN ({})", aid, order_ids)}
    pending = {r[0]: r[1] for r in await _rows_in(
        hub, "SELECT shop_id, state FROM pending_orders WHERE account_id = ? AND shop_id IN ({})",
        aid, order_ids)}
    outbox = {r[0]: (r[1], r[2]) for r in await _rows_in(
        hub, "SELECT ref, attempts, last_error FROM outbox WHERE account_id = ? AND kind = 'order'"
        " AND done_at IS NULL AND ref IN ({})", aid, order_ids)}
    codes = {(r[0], r[1]): r[2] for r in await hub.fetchall(
        "SELECT product_id, attribute_id, code FROM articles WHERE account_id = ?", (aid,))}
    cursor = int(await get_cursor(hub, aid, "orders") or 0)

    # the ERP's view
    prefix = f"{account.name}:o:"
    docs = await find_documents(erp, [prefix + str(i) for i in order_ids])
    report.documents_checked = len(docs)
    excluded = {int(s) for s in account.option("excluded_states") or []}
    mapping = state_map(account)

    for o in orders:
        doc = docs.get(prefix + str(o.id))
        h = hub_orders.get(o.id)
        if doc is None:
            report.missing.append(_why_missing(o, h, pending, outbox, excluded, cursor))
            continue
        hub_data: OrderSnapshot | None = json.loads(h["data"]) if h is not None else None
        diff = _compare_order(o, hub_data, doc, codes)
        if diff:
            report.differs.append(OrderDifference(o.id, doc.number, doc.state, tuple(diff)))
        sd, ack = compare_state(o.id, o.current_state, h["state"] if h is not None else None,
                                doc, mapping, states)
        if sd is not None:
            (report.acknowledged if ack else report.states).append(sd)

    await _doubled(report, erp, orders, docs, prefix, lo, hi)
    await _customers(report, account, hub, erp, customers, addresses, lookups)
    report.doubled_customers = await doubled_customers(hub, account)
    report.refunds = [MissingRefund(*m) for m in await missing_refunds(
        hub, aid, erp, account.name, slips, set(docs))]
    return report


async def _empty() -> dict:
    return {}


def _why_missing(o: Any, h: Any, pending: dict, outbox: dict, excluded: set[int],
                 cursor: int) -> MissingOrder:
    ref = o.reference or ""
    if h is None:
        if o.current_state in excluded:
            return MissingOrder(o.id, ref, o.current_state, "not_importable",
                                f"state {o.current_state} is not importable (excluded_states)")
        if o.id in pending:
            return MissingOrder(o.id, ref, o.current_state, "pending",
                                f"seen in state {pending[o.id]}, importable now; the next "
                                "orders sync imports it")
        if o.id > cursor:
            return MissingOrder(o.id, ref, o.current_state, "new",
                                f"after the orders cursor ({cursor}); the next orders sync "
                                "imports it")
        return MissingOrder(o.id, ref, o.current_state, "not_imported",
                            f"before the orders cursor ({cursor}) but not in the hub")
    if o.id in outbox:
        attempts, err = outbox[o.id]
        return MissingOrder(o.id, ref, o.current_state, "outbox",
                            f"waiting in the outbox, {attempts} attempts"
                            + (f", last error: {err}" if err else ""))
    if h["erp_number"]:
        return MissingOrder(o.id, ref, o.current_state, "not_in_erp",
                            f"pushed as ERP document {h['erp_number']}, which the ERP no "
                            "longer has")
    return MissingOrder(o.id, ref, o.current_state, "not_in_erp",
                        "in the hub, never pushed and not in the outbox")


def _amount(value: Any) -> str:
    """An amount as people read it (2 decimals when exact); what is not one, as text."""
    try:
        return shown(Decimal(str(value)))
    except (InvalidOperation, TypeError, ValueError):
        return "" if value is None else str(value)


def _compare_order(o: Any, hub_data: OrderSnapshot | None, doc: ErpDocument,
                   codes: dict[tuple[int, int], str]) -> list[FieldDiff]:
    out: list[FieldDiff] = []
    for name, shop_value in (("total_tax_incl", o.total_paid_tax_incl),
                             ("total_tax_excl", o.total_paid_tax_excl)):
        erp_value = getattr(doc, name)
        if Decimal(shop_value or 0) != erp_value:
            hub_value = hub_data.get(name) if hub_data else None
            out.append(FieldDiff(name, _amount(shop_value), _amount(hub_value),
                                 _amount(erp_value)))
    want: Counter = Counter()
    for row in o.rows:
        key = (row.product_id, row.product_attribute_id)
        want[codes.get(key, f"?{key[0]}-{key[1]}")] += row.quantity
    have = article_lines(doc)
    if +want != +have:
        hub_lines: Counter = Counter()
        for ln in hub_data.get("lines", []) if hub_data else []:
            hub_lines[ln["code"]] += int(ln["quantity"])
        out.append(FieldDiff("lines", _fmt_lines(want), _fmt_lines(hub_lines), _fmt_lines(have)))
    return out


async def _doubled(report: ReconcileReport, erp: Any, orders: list[Any],
                   docs: dict[str, ErpDocument], prefix: str, lo: datetime | None,
                   hi: datetime | None) -> None:
    listing = getattr(erp, "list_documents", None)
    if listing is None:
        report.notes.append(f"the {erp.name} ERP cannot list documents: doubled documents are "
                            "found by external reference only")
        return
    by_reference: dict[str, list[int]] = {}
    for o in orders:
        if o.reference:
            by_reference.setdefault(o.reference, []).append(o.id)
    first = lo.date() if lo else None
    last = hi.date() if hi else None
    per_order: dict[int, list[str]] = {}
    per_reference: dict[str, list[str]] = {}
    for d in await listing():
        if d.state == "cancelled":
            continue  # a cancelled extra is how an operator undoes a double
        if (first and d.date < first) or (last and d.date > last):
            continue
        ref = d.external_ref or ""
        if ref.startswith(prefix) and ref[len(prefix):].isdigit():
            per_order.setdefault(int(ref[len(prefix):]), []).append(d.number)
        if d.shop_reference in by_reference:
            per_reference.setdefault(d.shop_reference, []).append(d.number)
    for oid, numbers in sorted(per_order.items()):
        if len(numbers) > 1:
            report.doubled.append(Doubled((oid,), tuple(sorted(numbers)),
                                          f"{len(numbers)} documents for order {oid}"))
    for ref, numbers in sorted(per_reference.items()):
        ids = by_reference[ref]
        if len(numbers) > len(ids) and not any(set(ids) == set(x.order_ids)
                                               for x in report.doubled):
            report.doubled.append(Doubled(
                tuple(sorted(ids)), tuple(sorted(numbers)),
                f"{len(numbers)} open documents with shop reference {ref} for {len(ids)} "
                "shop order(s): cancel the extra one in the ERP"))


async def _customers(report: ReconcileReport, account: acc.Account, hub: Any, erp: Any,
                     shop_customers: dict[int, Any], shop_addresses: dict[int, Any],
                     lookups: Any) -> None:
    aid = account.saved_id
    ids = sorted(shop_customers)
    rows = await _rows_in(hub, "SELECT shop_id, data, erp_ref, erp_code FROM customers "
                          "WHERE account_id = ? AND shop_id IN ({})", aid, ids)
    hub_customers = {r[0]: r for r in rows}
    # every hub customer sharing an ERP reference (guests merged by e-mail)
    refs = sorted({r[2] for r in rows})
    group_rows = await _rows_in(hub, "SELECT shop_id, data, erp_ref, erp_code, erp_match "
                                "FROM customers WHERE account_id = ? AND erp_ref IN ({})",
                                aid, refs)
    groups: dict[str, list[Any]] = {}
    linked: set[str] = set()  # the office's own ERP customers: linked, never rewritten
    for r in group_rows:
        groups.setdefault(r[2], []).append(r)
        if r[4]:
            linked.add(r[2])
    for ref in linked:
        groups.pop(ref, None)
    all_ids = sorted({r[0] for r in group_rows})
    addr_rows = await _rows_in(hub, "SELECT shop_id, customer_shop_id, data FROM addresses "
                               "WHERE account_id = ? AND customer_shop_id IN ({})", aid, all_ids)
    hub_addresses: dict[int, AddressRow] = {
        r[0]: {"shop_id": r[0], "customer_shop_id": r[1], "data": json.loads(r[2])}
        for r in addr_rows}
    report.customers_checked = len(ids)
    drifted: dict[int, CustomerDrift] = {}

    shop_by_customer: dict[int, list[Any]] = {}
    for a in shop_addresses.values():
        shop_by_customer.setdefault(a.id_customer, []).append(a)
    for cid in ids:
        r = hub_customers.get(cid)
        if r is None:
            continue
        old: CustomerSnapshot = json.loads(r[1])
        new = customer_data(shop_customers[cid])
        fields = [k for k in new if k != "date_upd" and new.get(k) != old.get(k)]
        for a in shop_by_customer.get(cid, []):
            if a.id not in hub_addresses:
                continue
            if address_data(a, lookups.country_iso(a.id_country), lookups.state_iso(a.id_state),
                            account) != hub_addresses[a.id]["data"]:
                fields.append(f"address {a.id}")
        if fields:
            drifted[cid] = CustomerDrift(cid, r[2], r[3], "shop", tuple(fields))

    erp_customers = await _erp_customers(erp, sorted(groups))
    by_customer: dict[int, dict[int, AddressRow]] = {}
    for k, v in hub_addresses.items():
        by_customer.setdefault(v["customer_shop_id"], {})[k] = v
    for ref, group in sorted(groups.items()):
        latest = max(group, key=lambda g: json.loads(g[1]).get("id") or 0)
        mine = by_customer.get(latest[0], {})
        customer: CustomerSnapshot = json.loads(latest[1])
        want = build_customer(ref, customer, _billing_address(latest[0], mine))
        have = erp_customers.get(ref)
        shown = min((g[0] for g in group if g[0] in hub_customers), default=None)
        if shown is None or shown in drifted:
            continue
        if have is None:
            drifted[shown] = CustomerDrift(shown, ref, None, "erp_missing", ())
            continue
        fields = [f for f in CUSTOMER_FIELDS if getattr(want, f) != getattr(have, f)]
        if fields:
            drifted[shown] = CustomerDrift(shown, ref, have.code, "erp", tuple(fields))
    report.customers.extend(drifted[i] for i in sorted(drifted))


async def doubled_customers(hub: Any, account: acc.Account) -> list[DoubledCustomer]:
    """Shop customers of one e-mail (trimmed, any case) that stand for more than one ERP
    customer, the first imported first; none while e-mail merging is off."""
    if not account.option("merge_guests"):
        return []
    groups: dict[str, list[Any]] = {}
    for r in await hub.fetchall(
            "SELECT lower(trim(email)), erp_ref, erp_code, shop_id FROM customers WHERE "
            "account_id = ? AND trim(COALESCE(email, '')) != '' AND lower(trim(email)) IN ("
            "SELECT lower(trim(email)) FROM customers WHERE account_id = ? GROUP BY 1 "
            "HAVING COUNT(DISTINCT erp_ref) > 1) ORDER BY imported_at, shop_id",
            (account.id, account.id)):
        groups.setdefault(r[0], []).append(r)
    out = []
    for email, rows in sorted(groups.items()):
        keep = rows[0]
        others: dict[str, str | None] = {}
        for r in rows:
            if r[1] != keep[1]:
                others.setdefault(r[1], r[2])
        out.append(DoubledCustomer(email, keep[1], keep[2], tuple(others.items()),
                                   tuple(sorted(r[3] for r in rows))))
    return out


async def _erp_customers(erp: Any, refs: list[str]) -> dict[str, Any]:
    """ERP customers by external reference: one listing where the ERP has it and many are
    wanted, else one look-up each."""
    listing = getattr(erp, "list_customers", None)
    if listing is not None and len(refs) > 50:
        wanted = set(refs)
        return {c.external_ref: c for c in await listing() if c.external_ref in wanted}
    out: dict[str, Any] = {}
    for ref in refs:
        c = await erp.find_customer(ref)
        if c is not None:
            out[ref] = c
    return out


# -- review: what Sincro created on its own -----------------------------------
@dataclass(frozen=True, slots=True)
class AutoCodedArticle:
    code: str
    product_id: int
    attribute_id: int
    reference: str | None
    name: str | None
    created_at: str


@dataclass(frozen=True, slots=True)
class MergedGuests:
    erp_ref: str
    erp_code: str | None
    email: str
    customer_ids: tuple[int, ...]
    first_imported_at: str
    last_imported_at: str


@dataclass(frozen=True, slots=True)
class InvalidVat:
    """A customer whose partita IVA fails the check digit: kept as typed, for the office."""

    customer_id: int
    address_id: int
    vat_number: str  # as the shop has it
    normalised: str
    erp_code: str | None


@dataclass(frozen=True, slots=True)
class HeldOrder:
    """An order that waits for the office: its VAT needs a tax map entry, or its totals
    differ from its VAT summary by more than rounding (docs/FISCAL.md)."""

    order_id: int
    reference: str | None
    reason: str
    since: str


@dataclass(frozen=True, slots=True)
class OfficeMatch:
    """A shop customer or article linked to a record the office already had in its ERP."""

    kind: str  # customer | article
    shop_id: str  # customer id, or product-combination
    erp_code: str | None
    by: str  # vat_number | tax_code | email | reference | ean13
    value: str
    at: str


@dataclass(slots=True)
class ReviewReport:
    account: str
    since: str | None
    articles: list[AutoCodedArticle] = field(default_factory=list)
    merged: list[MergedGuests] = field(default_factory=list)
    invalid_vat: list[InvalidVat] = field(default_factory=list)
    held: list[HeldOrder] = field(default_factory=list)
    matches: list[OfficeMatch] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"account": self.account, "since": self.since,
                "articles": [asdict(a) for a in self.articles],
                "merged_guests": [asdict(m) for m in self.merged],
                "invalid_vat_numbers": [asdict(v) for v in self.invalid_vat],
                "held_orders": [asdict(h) for h in self.held],
                "office_matches": [asdict(m) for m in self.matches]}


HELD_PREFIXES = ("held for review:",)


async def review(hub: Any, account_name: str, *, since: str | None = None) -> ReviewReport:
    """Articles Sincro coded by itself, and guests it merged into one ERP customer."""
    account = await acc.get_account(hub, account_name)
    lo = parse_when(since, "UTC")
    cutoff = lo.isoformat(timespec="seconds") if lo else ""
    report = ReviewReport(account.name, cutoff or None)
    for r in await hub.fetchall(
            "SELECT code, product_id, attribute_id, reference, name, created_at FROM articles "
            "WHERE account_id = ? AND auto_coded = 1 AND created_at >= ? ORDER BY created_at, code",
            (account.id, cutoff)):
        report.articles.append(AutoCodedArticle(r[0], r[1], r[2], r[3], r[4], r[5]))
    # every ERP customer that stands for several shop customers: guests and accounts with
    # one e-mail (core.sync.orders.customer_ref), and pairs merged by reconcile
    merged = await hub.fetchall(
        "SELECT erp_ref, MAX(erp_code), MIN(imported_at), MAX(imported_at), "
        "MIN(lower(trim(email))) FROM customers WHERE account_id = ? "
        "GROUP BY erp_ref HAVING COUNT(*) > 1 AND MAX(imported_at) >= ? ORDER BY erp_ref",
        (account.id, cutoff))
    shop_ids: dict[str, list[int]] = {}
    if merged:
        marks = ",".join("?" * len(merged))
        for ref, shop_id in await hub.fetchall(
                f"SELECT erp_ref, shop_id FROM customers WHERE account_id = ? AND erp_ref IN "
                f"({marks})", (account.id, *(r[0] for r in merged))):
            shop_ids.setdefault(ref, []).append(int(shop_id))
    for r in merged:
        ids = tuple(sorted(shop_ids.get(r[0], [])))
        report.merged.append(MergedGuests(r[0], r[1], r[4] or "", ids, r[2], r[3]))
    from core import fiscal

    for r in await hub.fetchall(
            "SELECT a.shop_id, a.customer_shop_id, a.data, c.erp_code FROM addresses a "
            "JOIN customers c ON c.account_id = a.account_id AND c.shop_id = a.customer_shop_id "
            "WHERE a.account_id = ? AND c.imported_at >= ? AND a.data LIKE '%vat_number%' "
            "ORDER BY a.customer_shop_id, a.shop_id", (account.id, cutoff)):
        data: AddressSnapshot = json.loads(r[2])
        checked = fiscal.vat_number(data.get("vat_number"), data.get("country") or "IT")
        if checked is not None and checked.valid is False:
            report.invalid_vat.append(InvalidVat(r[1], r[0], data.get("vat_number") or "",
                                                 checked.value, r[3]))
    for r in await hub.fetchall(
            "SELECT o.shop_id, o.reference, x.last_error, x.created_at FROM outbox x "
            "JOIN orders o ON o.account_id = x.account_id AND o.shop_id = x.ref "
            "WHERE x.account_id = ? AND x.kind = 'order' AND x.done_at IS NULL "
            "AND x.last_error IS NOT NULL AND (x.last_error LIKE 'held for review:%' "
            "OR x.last_error LIKE '% the tax map %' OR x.last_error LIKE '%imported before "
            "Sincro read the shop''s tax data%') ORDER BY o.shop_id", (account.id,)):
        report.held.append(HeldOrder(r[0], r[1], r[2], r[3]))
    for r in await hub.fetchall(
            "SELECT shop_id, erp_code, erp_match, imported_at FROM customers WHERE account_id = ?"
            " AND erp_match IS NOT NULL AND imported_at >= ? ORDER BY shop_id",
            (account.id, cutoff)):
        by, _, value = r[2].partition(":")
        report.matches.append(OfficeMatch("customer", str(r[0]), r[1], by, value, r[3]))
    for r in await hub.fetchall(
            "SELECT product_id, attribute_id, code, erp_match, created_at FROM articles WHERE "
            "account_id = ? AND erp_match IS NOT NULL AND created_at >= ? ORDER BY code",
            (account.id, cutoff)):
        by, _, value = r[3].partition(":")
        report.matches.append(OfficeMatch("article", f"{r[0]}-{r[1]}", r[2], by, value, r[4]))
    return report
