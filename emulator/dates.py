"""A shop's data dated relative to today (the demo): its orders over the last weeks, and new
ones dated now.

``date_relative_to_now`` moves a loaded shop: every order keeps its place in the order of the
orders and its share of the spacing between them; when the orders span less than ``span``,
their spacing is stretched so that they cover it (the dashboard's days are not one bar).
Each order moves as a whole with what belongs to it (histories, invoice and delivery dates,
customer threads and their messages), so its own timeline is kept; everything else
(customers, addresses, products) moves with the oldest order, so it still comes first.
Nothing ends up after ``now``: the newest order comes a little before it.

``add_orders_now`` grows the shop with generated orders dated now (the generator continues
after the newest order by a random gap, which could be later than now).

Shop dates are naive, in the shop's zone (``ShopState.clock``), as PrestaShop stores them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from emulator.data import ShopState, add_generated_orders

FORMAT = "%Y-%m-%d %H:%M:%S"
SPAN = timedelta(days=28)
LEAD = timedelta(minutes=20)  # how long before now the newest order's last date comes


def _parse(value: Any) -> datetime | None:
    """A PrestaShop date-time ('2025-01-07 09:46:14'); None for anything else (dates of
    birth, '0000-00-00 00:00:00', amounts)."""
    if not isinstance(value, str) or len(value) != 19 or value.startswith("0000"):
        return None
    try:
        return datetime.strptime(value, FORMAT)
    except ValueError:
        return None


def _dates(row: dict[str, Any]) -> list[tuple[str, datetime]]:
    return [(k, dt) for k, v in row.items() if (dt := _parse(v)) is not None]


def _owner(state: ShopState, resource: str, row: dict[str, Any]) -> int | None:
    """The order a row belongs to, if it belongs to one."""
    if resource == "orders":
        return int(row["id"])
    if resource == "customer_messages":
        thread = state.tables.get("customer_threads", {}).get(
            int(row.get("id_customer_thread") or 0))
        row = thread or {}
    order = row.get("id_order")
    try:
        return int(order) if order not in (None, "", "0") else None
    except (TypeError, ValueError):
        return None


def _move(row: dict[str, Any], delta: timedelta, latest: datetime) -> None:
    for key, dt in _dates(row):
        row[key] = min(dt + delta, latest).strftime(FORMAT)


def date_relative_to_now(state: ShopState, now: datetime | None = None, *,
                         span: timedelta = SPAN, lead: timedelta = LEAD) -> None:
    """Move the shop's dates so that its orders end a little before ``now`` (the shop's
    clock by default) and cover at least ``span`` (module docstring)."""
    now = now or state.clock()
    orders = {int(oid): dt for oid, o in state.tables["orders"].items()
              if (dt := _parse(o.get("date_add"))) is not None}
    if not orders:
        return
    oldest, newest = min(orders.values()), max(orders.values())
    stretch = max(1.0, span / (newest - oldest)) if newest > oldest else 1.0
    # where each order's date_add goes, relative to the newest one
    place = {oid: (dt - newest) * stretch for oid, dt in orders.items()}
    owned: dict[tuple[str, int], int] = {}
    last = {oid: dt for oid, dt in orders.items()}  # each order's latest own date
    for resource, table in state.tables.items():
        for rid, row in table.items():
            oid = _owner(state, resource, row)
            if oid in orders:
                owned[(resource, rid)] = oid
                for _, dt in _dates(row):
                    last[oid] = max(last[oid], dt)
    # the newest order's own timeline (states changed after it came in) ends `lead` before now
    end = max(place[oid] + (last[oid] - orders[oid]) for oid in orders)
    anchor = now - lead - end
    delta = {oid: anchor + place[oid] - orders[oid] for oid in orders}
    base = delta[min(orders, key=lambda oid: (orders[oid], oid))]
    for resource, table in state.tables.items():
        for rid, row in table.items():
            oid = owned.get((resource, rid))
            _move(row, delta[oid] if oid is not None else base, now)


def add_orders_now(state: ShopState, n: int, now: Callable[[], datetime] | None = None) -> list[int]:
    """``n`` generated orders, each dated now (the shop's clock), with what came with it
    (customers, addresses, histories, messages): the generator's own dates moved to now,
    and none later than now."""
    clock = now or state.clock
    ids: list[int] = []
    for _ in range(n):
        before = {name: max(table, default=0) for name, table in state.tables.items()}
        new = add_generated_orders(state, 1)
        if not new:
            continue
        at = _parse(state.tables["orders"][new[-1]].get("date_add"))
        moment = clock().replace(microsecond=0)
        delta = moment - at if at is not None else timedelta(0)
        for name, table in state.tables.items():
            for rid in [r for r in table if r > before.get(name, 0)]:
                _move(table[rid], delta, moment)
        gen = getattr(state, "generator", None)
        if gen is not None and at is not None:
            gen.clock += delta  # the next one continues from now, not from the old dates
        ids += new
    return ids
