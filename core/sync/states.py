"""ERP document states back to the shop (S-4).

The ERP journals every change of a document (cancelled; shipped with a delivery
note; invoiced). From the account's ``states`` cursor, each change of one of
this account's documents (external reference ``<account>:o:<shop id>``) becomes
the mapped shop order state (account option ``state_map``), posted through
``order_histories``.

Exactly once: before posting, an ``intent`` row goes to ``pushed_states``
(unique per account, order, event); after the shop answers it becomes ``done``.
A run killed between the two leaves the intent; the next run reads the order's
``current_state`` and posts only if the order is not there yet. An order never
moves backwards: shipped < invoiced, cancelled is final; an event not above what
the order already reached (by Sincro or on the shop) is refused, and logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.accounts import Account
from core.errors import ConfigError
from core.kinds import Level
from core.prestashop.errors import ShopError, ShopNotFound
from core.sync.context import RunContext, get_cursor, set_cursor
from core.timeutil import iso, utcnow

CURSOR = "states"
PAGE = 500
# How far an event takes an order; an event is applied only if it goes further.
RANK = {"shipped": 1, "invoiced": 2, "cancelled": 3}


def state_map(account: Account) -> dict[str, int | None]:
    raw = account.option("state_map") or {}
    out: dict[str, int | None] = {}
    for event in RANK:
        v = raw.get(event)
        out[event] = int(v) if v not in (None, "", 0) else None
    return out


def parse_state_map(text: str) -> dict[str, int | None]:
    """``shipped=4,invoiced=5,cancelled=6`` (``invoiced=none`` to unset one)."""
    out: dict[str, int | None] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        event, sep, value = part.partition("=")
        event, value = event.strip().lower(), value.strip().lower()
        if not sep or event not in RANK:
            raise ConfigError(f"invalid state map entry {part.strip()!r}",
                              hint="give EVENT=STATE_ID pairs, events: cancelled, shipped, "
                              "invoiced; e.g. shipped=4,invoiced=5,cancelled=6")
        if value in ("", "none", "-"):
            out[event] = None
        elif value.isdigit() and int(value) > 0:
            out[event] = int(value)
        else:
            raise ConfigError(f"invalid state id {value!r} for {event}",
                              hint="a shop order state id (see 'sincro account states NAME'), "
                              "or none")
    if not out:
        raise ConfigError("empty state map", hint="e.g. --state-map shipped=4,cancelled=6")
    return out


def check_state_map(mapping: dict[str, int | None], states: dict[int, Any]) -> None:
    """Every mapped state must be one of the shop's order states."""
    for event, sid in mapping.items():
        if sid is not None and sid not in states:
            raise ConfigError(
                f"the shop has no order state {sid} (mapped from {event})",
                hint="list the shop's states with 'sincro account states NAME'")


def shop_rank(state_id: int, mapping: dict[str, int | None], states: dict[int, Any]) -> int:
    """How far an order in this shop state already is (0: nothing yet)."""
    rank = max((RANK[e] for e, s in mapping.items() if s == state_id), default=0)
    st = states.get(state_id)
    if st is not None and getattr(st, "shipped", False):  # Shipped, Delivered
        rank = max(rank, RANK["shipped"])
    return rank


def _order_id(ref: str | None, prefix: str) -> int | None:
    if not ref or not ref.startswith(prefix):
        return None
    tail = ref[len(prefix):]
    return int(tail) if tail.isdigit() else None


async def current_states(client: Any, ids: Iterable[int]) -> dict[int, int]:
    """Orders' current_state, read fresh, in id batches (display=[id,current_state])."""
    out: dict[int, int] = {}
    for chunk in client._id_chunks("orders", ids):
        items = await client.list_raw("orders", filters={"id": "[" + "|".join(map(str, chunk)) + "]"},
                                      display="[id,current_state]", sort=None)
        for item in items:
            try:
                out[int(str(item.get("id")).strip())] = int(str(item.get("current_state") or 0))
            except ValueError:
                continue
    return out


class _Todo:
    __slots__ = ("order_id", "event", "state_id", "number", "tracking", "retry")

    def __init__(self, order_id: int, event: str, state_id: int, number: str | None,
                 tracking: str | None, retry: bool) -> None:
        self.order_id, self.event, self.state_id = order_id, event, state_id
        self.number, self.tracking, self.retry = number, tracking, retry


async def push_states(ctx: RunContext) -> None:
    run = ctx.run
    run.steps.append("states")
    mapping = state_map(ctx.account)
    prefix = ctx.ref("o", "")
    cursor = await get_cursor(ctx.hub, ctx.account_id, CURSOR)

    # Intents left by a killed run, and pushes that failed, come first.
    open_rows = await ctx.hub.fetchall(
        "SELECT order_id, event, state_id, document_number, tracking_number FROM pushed_states "
        "WHERE account_id = ? AND status IN ('intent', 'failed') ORDER BY at",
        (ctx.account_id,))
    todo: list[_Todo] = [_Todo(r[0], r[1], r[2], r[3], r[4], True) for r in open_rows]
    if todo:
        run.info(f"states: {len(todo)} left from earlier runs")
    states: dict[int, Any] | None = None
    seen_changes = 0
    # Page by page; the cursor moves after each page is recorded.
    while True:
        page, nxt = await ctx.connector.state_changes(cursor, PAGE)
        found = [(c, _order_id(c.external_ref, prefix)) for c in page]
        mine = [(c, oid) for c, oid in found if oid is not None]
        seen_changes += len(mine)
        todo.extend(await _todo_from(ctx, mine, mapping, {(t.order_id, t.event) for t in todo}))
        pushed = await _pushed(ctx, {t.order_id for t in todo})
        # a replayed journal (a run killed before its cursor moved) finds these done already
        todo = [t for t in todo
                if t.retry or pushed.get(t.order_id, {}).get(t.event, ("",))[0] != "done"]
        if todo:
            if states is None:
                states = await ctx.shop.client.order_states()
                check_state_map(mapping, states)
            current = await current_states(ctx.shop.client, sorted({t.order_id for t in todo}))
            for t in todo:
                await _apply(ctx, t, pushed, current, mapping, states)
        todo = []
        if not ctx.dry_run and nxt is not None and nxt != cursor:
            async with ctx.hub.transaction() as conn:
                await set_cursor(conn, ctx.account_id, CURSOR, nxt)
        if not page or nxt == cursor or len(page) < PAGE:
            break
        cursor = nxt
    if not seen_changes and not open_rows:
        run.info("states: no ERP document changed state")
        return
    run.info(f"states: {seen_changes} ERP state changes for this shop, "
             f"{run.counts['states_pushed']} order states sent to the shop")


async def _todo_from(ctx: RunContext, mine: list[tuple[Any, int]],
                     mapping: dict[str, int | None], seen: set[tuple[int, str]]) -> list[_Todo]:
    run = ctx.run
    known = await _imported(ctx, {oid for _c, oid in mine})
    out: list[_Todo] = []
    for c, oid in mine:
        if oid not in known:
            run.log(Level.DEBUG, f"document {c.document_number}: order {oid} was not imported "
                    "by Sincro; skipped")
            continue
        sid = mapping.get(c.event)
        if sid is None:
            run.info(f"order {oid}: ERP document {c.document_number} is {c.event}, "
                     f"no shop state is mapped to {c.event} (option state_map)")
            continue
        if (oid, c.event) in seen:
            continue
        seen.add((oid, c.event))
        out.append(_Todo(oid, c.event, sid, c.document_number,
                         c.tracking_number if c.event == "shipped" else None, False))
    return out


async def _apply(ctx: RunContext, t: _Todo, pushed: dict[int, dict[str, tuple[str, int]]],
                 current: dict[int, int], mapping: dict[str, int | None],
                 states: dict[int, Any]) -> None:
    run = ctx.run
    done = pushed.setdefault(t.order_id, {})
    prior = done.get(t.event)
    if prior is not None and prior[0] == "done" and not t.retry:
        run.log(Level.DEBUG, f"order {t.order_id}: {t.event} already sent")
        return
    if t.order_id not in current:
        await _record(ctx, t, "refused", "the order is not on the shop")
        run.error(f"order {t.order_id}: not found on the shop; state {t.state_id} not sent")
        return
    now_state = current[t.order_id]
    reached = max([RANK[e] for e, (status, _s) in done.items()
                   if status == "done" and e != t.event] + [shop_rank(now_state, mapping, states)])
    if now_state == t.state_id:
        run.log(Level.DEBUG, f"order {t.order_id} is already in state {t.state_id}")
        await _record(ctx, t, "done", "already in that state")
        done[t.event] = ("done", t.state_id)
        await _tracking(ctx, t)
        return
    if RANK[t.event] <= reached:
        run.warning(f"order {t.order_id}: not moved back to state {t.state_id} ({t.event}); "
                    f"it is in state {now_state}, further on")
        await _record(ctx, t, "refused", f"backward from state {now_state}")
        done[t.event] = ("refused", t.state_id)
        return
    name = await state_name(ctx, states, t.state_id)
    if ctx.dry_run:
        run.info(f"would set order {t.order_id} to state {t.state_id} {name}({t.event}, "
                 f"ERP document {t.number})")
        run.counts["states_pushed"] += 1
        return
    await _record(ctx, t, "intent")
    try:
        change = await ctx.shop.client.set_order_state(
            t.order_id, t.state_id, send_email=bool(ctx.account.option("send_email")))
    except ShopError as exc:
        await _record(ctx, t, "failed", str(exc)[:500])
        run.error(f"order {t.order_id}: state {t.state_id} ({t.event}) not set: {exc}")
        return
    if change.verified and change.warning:
        run.warning(f"order {t.order_id}: the shop answered an error ({change.warning}) but the "
                    f"order is in state {t.state_id}: done")
    await _record(ctx, t, "done")
    done[t.event] = ("done", t.state_id)
    current[t.order_id] = t.state_id
    run.counts["states_pushed"] += 1
    run.info(f"order {t.order_id} -> state {t.state_id} {name}({t.event}, ERP document {t.number})")
    await _tracking(ctx, t)


async def state_name(ctx: RunContext, states: dict[int, Any], state_id: int) -> str:
    """The shop state's name in the account's language (option language; else as the shop
    gives it first), quoted, with a space after it; "" for a state the shop does not have."""
    st = states.get(state_id)
    if st is None:
        return ""
    lang = await ctx.shop.language_id() if getattr(ctx.shop, "named_language", False) else None
    text = st.name.text(lang)
    return f"\"{text}\" " if text else ""


async def _tracking(ctx: RunContext, t: _Todo) -> None:
    if not t.tracking or ctx.dry_run:
        return
    row = await ctx.hub.fetchone(
        "SELECT tracking_at FROM pushed_states WHERE account_id = ? AND order_id = ? AND event = ?",
        (ctx.account_id, t.order_id, t.event))
    if row is not None and row[0]:
        return
    try:
        await ctx.shop.client.set_tracking_number(t.order_id, t.tracking)
    except ShopNotFound:
        ctx.run.warning(f"order {t.order_id}: the shop has no carrier row for it; tracking number "
                        f"{t.tracking} not set")
        return
    except ShopError as exc:
        ctx.run.error(f"order {t.order_id}: tracking number not set: {exc}")
        return
    async with ctx.hub.transaction() as conn:
        await conn.execute(
            "UPDATE pushed_states SET tracking_at = ? WHERE account_id = ? AND order_id = ? "
            "AND event = ?", (iso(utcnow()), ctx.account_id, t.order_id, t.event))
    ctx.run.counts["tracking_numbers"] += 1
    ctx.run.info(f"order {t.order_id}: tracking number {t.tracking}")


async def _record(ctx: RunContext, t: _Todo, status: str, note: str | None = None) -> None:
    if ctx.dry_run:
        return
    async with ctx.hub.transaction() as conn:
        await conn.execute(
            "INSERT INTO pushed_states (account_id, order_id, event, state_id, status, "
            "document_number, tracking_number, note, at, run_id) VALUES (?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (account_id, order_id, event) DO UPDATE SET state_id = excluded.state_id,"
            " status = excluded.status, document_number = excluded.document_number, "
            "tracking_number = COALESCE(excluded.tracking_number, pushed_states.tracking_number), "
            "note = excluded.note, at = excluded.at, run_id = excluded.run_id",
            (ctx.account_id, t.order_id, t.event, t.state_id, status, t.number, t.tracking,
             note, iso(utcnow()), ctx.run.id or None))


async def _imported(ctx: RunContext, ids: set[int]) -> set[int]:
    found: set[int] = set()
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        chunk = id_list[i:i + 500]
        rows = await ctx.hub.fetchall(
            f"SELECT shop_id FROM orders WHERE account_id = ? AND shop_id IN "
            f"({','.join('?' * len(chunk))})", (ctx.account_id, *chunk))
        found.update(r[0] for r in rows)
    return found


async def _pushed(ctx: RunContext, ids: set[int]) -> dict[int, dict[str, tuple[str, int]]]:
    out: dict[int, dict[str, tuple[str, int]]] = {}
    id_list = sorted(ids)
    for i in range(0, len(id_list), 500):
        chunk = id_list[i:i + 500]
        rows = await ctx.hub.fetchall(
            "SELECT order_id, event, status, state_id FROM pushed_states WHERE account_id = ? "
            f"AND order_id IN ({','.join('?' * len(chunk))})", (ctx.account_id, *chunk))
        for r in rows:
            out.setdefault(r[0], {})[r[1]] = (r[2], r[3])
    return out

