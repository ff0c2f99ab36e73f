"""The demo's data dated relative to today (issue 18): orders over the last weeks, in their
order and with their spacing, the newest a little before now; new ones dated now."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from emulator.data import generate
from emulator.dates import FORMAT, LEAD, SPAN, add_orders_now, date_relative_to_now

NOW = datetime(2026, 11, 28, 10, 0, 0)  # shop-local, naive, as PrestaShop's dates


def dt(value: str) -> datetime:
    return datetime.strptime(value, FORMAT)


def order_dates(state) -> dict[int, datetime]:
    return {oid: dt(o["date_add"]) for oid, o in state.tables["orders"].items()}


def every_date(state) -> list[datetime]:
    out = []
    for table in state.tables.values():
        for row in table.values():
            for v in row.values():
                if isinstance(v, str) and len(v) == 19 and v[4] == "-" and v[13] == ":" \
                        and not v.startswith("0000"):
                    out.append(dt(v))
    return out


def histories(state) -> dict[int, list[datetime]]:
    out: dict[int, list[datetime]] = {}
    for h in state.tables["order_histories"].values():
        out.setdefault(int(h["id_order"]), []).append(dt(h["date_add"]))
    return out


def test_orders_are_stretched_over_the_last_weeks_in_their_order_and_spacing() -> None:
    state = generate(30, seed=3)  # 30 orders over a day or so, in January 2025
    before = order_dates(state)
    own = {oid: [d - before[oid] for d in ds] for oid, ds in histories(state).items()}
    date_relative_to_now(state, NOW)
    after = order_dates(state)
    ids = sorted(before, key=lambda i: (before[i], i))
    assert sorted(after, key=lambda i: (after[i], i)) == ids  # the same order
    # the same spacing, stretched alike: each gap is the same share of the whole
    old_span, new_span = before[ids[-1]] - before[ids[0]], after[ids[-1]] - after[ids[0]]
    assert abs(new_span - SPAN) <= timedelta(seconds=1)
    for a, b in zip(ids, ids[1:], strict=False):
        share = (before[b] - before[a]) / old_span
        assert abs((after[b] - after[a]) / new_span - share) < 1e-5
    # the newest comes a little before now; nothing is later than now
    assert NOW - timedelta(days=1) < after[ids[-1]] <= NOW - LEAD
    assert max(every_date(state)) <= NOW - LEAD
    # each order keeps its own timeline (its states changed after it came in)
    assert {oid: [d - after[oid] for d in ds] for oid, ds in histories(state).items()} == own
    # customers were there before their orders
    for o in state.tables["orders"].values():
        customer = state.tables["customers"][int(o["id_customer"])]
        assert dt(customer["date_add"]) <= dt(o["date_add"])


def test_orders_that_already_span_weeks_are_only_moved() -> None:
    state = generate(12, seed=5)
    date_relative_to_now(state, NOW - timedelta(days=400), span=timedelta(hours=1))
    before = order_dates(state)  # now spread over more than an hour: moved, not stretched
    date_relative_to_now(state, NOW, span=timedelta(hours=1))
    after = order_dates(state)
    moves = {after[i] - before[i] for i in before}
    assert len(moves) == 1 and abs(moves.pop() - timedelta(days=400)) < timedelta(days=1)


def test_new_orders_are_dated_now_with_what_came_with_them() -> None:
    state = generate(10, seed=7)
    date_relative_to_now(state, NOW)
    now = [NOW + timedelta(minutes=3)]
    state.clock = lambda: now[0]
    first = add_orders_now(state, 2)
    assert len(first) == 2
    now[0] += timedelta(minutes=40)
    second = add_orders_now(state, 1)
    orders = state.tables["orders"]
    assert [orders[i]["date_add"] for i in first + second] == [
        "2026-11-28 10:03:00", "2026-11-28 10:03:00", "2026-11-28 10:43:00"]
    assert max(every_date(state)) == NOW + timedelta(minutes=43)  # nothing later than now
    for oid in first + second:
        assert min(histories(state)[oid]) == dt(orders[oid]["date_add"])
        customer = state.tables["customers"][int(orders[oid]["id_customer"])]
        assert dt(customer["date_add"]) <= dt(orders[oid]["date_add"])


@pytest.mark.parametrize("value", ["0000-00-00 00:00:00", "1990-05-17", "12.500000", ""])
def test_what_is_not_a_date_time_stays(value: str) -> None:
    state = generate(2, seed=1)
    customer = next(iter(state.tables["customers"].values()))
    customer["birthday"] = value
    date_relative_to_now(state, NOW)
    assert customer["birthday"] == value
