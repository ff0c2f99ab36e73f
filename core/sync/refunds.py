"""Refunds: each shop refund (``order_slip``) becomes one credit note in the ERP, exactly
once, linked to the order document it refunds (O-6; docs/FISCAL.md, "Refunds").

Two halves, as orders have (R-4):

* **read**: the slips after the ``refunds`` cursor (``filter[id]=>[N]``, in id order, pages
  of ``PAGE_SIZE``) go into the hub's ``refunds`` table with the moved cursor, one
  transaction per page; a slip is read once.
* **push**: every slip of the hub without its credit note is built from the hub's order
  snapshot (the refunded rows' VAT rate, tax rules group and article code) and the slip's
  own amounts, then inserted under its external reference ``<account>:s:<slip id>``: a
  repeat after a crash finds the first one. A slip whose order document is not in the ERP
  yet waits (retried each run, not an error); a slip that cannot be coded (an unmapped
  rate) or whose amounts no rounding explains stops alone with one line naming it; the
  others go in.
"""

from __future__ import annotations

import functools
import json
from datetime import date
from decimal import Decimal
from typing import Any

from core.accounts import Account
from core.erp.port import (
    CreditNoteData,
    CreditNoteResult,
    ErpError,
    OrderLineData,
    ShippingData,
    VatSummary,
    credit_notes,
)
from core.kinds import Level
from core.prestashop.errors import ShopPermissionError
from core.sync import vat
from core.sync.context import RunContext, get_cursor, set_cursor
from core.sync.snapshot import OrderSnapshot, RefundRowSnapshot, RefundSnapshot
from core.timeutil import iso, utcnow

PAGE_SIZE = 100
BATCH = 100  # credit notes per ERP call and hub transaction
CURSOR = "refunds"
MICRO = Decimal("0.000001")


def refund_data(raw: dict[str, Any]) -> RefundSnapshot:
    """A slip as the shop served it (a normalized dict) -> what the hub keeps. Amounts are
    checked as order amounts are (``vat.decimal``: finite, at most 6 decimals)."""
    sid = int(str(raw.get("id")).strip())
    what = f"refund {sid}"

    def amount(name: str, value: Any = None) -> str:
        return str(vat.decimal(raw.get(name) if value is None else value, f"{what} {name}"))

    details = (raw.get("associations") or {}).get("order_slip_details") or []
    if isinstance(details, dict):  # one row, as some XML answers give it
        details = [details]
    rows: list[RefundRowSnapshot] = []
    for d in details:
        rows.append({
            "order_detail_id": int(str(d.get("id_order_detail") or 0).strip() or 0),
            "quantity": int(str(d.get("product_quantity") or 0).strip() or 0),
            "tax_excl": amount("amount_tax_excl", d.get("amount_tax_excl") or "0"),
            "tax_incl": amount("amount_tax_incl", d.get("amount_tax_incl") or "0"),
        })
    day = str(raw.get("date_add") or "")[:10]
    return {
        "id": sid,
        "order_id": int(str(raw.get("id_order") or 0).strip() or 0),
        "date": day if day and not day.startswith("0000") else None,
        "date_upd": str(raw.get("date_upd") or "") or None,
        "conversion_rate": amount("conversion_rate", raw.get("conversion_rate") or "1"),
        "products_tax_excl": amount("total_products_tax_excl", raw.get("total_products_tax_excl") or "0"),
        "products_tax_incl": amount("total_products_tax_incl", raw.get("total_products_tax_incl") or "0"),
        "shipping_tax_excl": amount("total_shipping_tax_excl", raw.get("total_shipping_tax_excl") or "0"),
        "shipping_tax_incl": amount("total_shipping_tax_incl", raw.get("total_shipping_tax_incl") or "0"),
        "amount": amount("amount", raw.get("amount") or "0"),
        "slip_type": int(str(raw.get("order_slip_type") or 0).strip() or 0),
        "partial": str(raw.get("partial") or "0").strip() == "1",
        "rows": rows,
    }


def build_credit_note(ref: str, order_ref: str, slip: RefundSnapshot, order: OrderSnapshot,
                      customer_code: str, *, account: Account | None = None,
                      goods_returned: bool = False) -> CreditNoteData:
    """The credit note of a slip: each refunded row at its order row's VAT rate and code
    (the account's tax map, as on the order document), the refunded shipping at the
    order's shipping rate, the VAT summary and the shop's rounding against the slip's
    totals (``vat.VatError`` for an unmapped rate, ``vat.HeldForReview`` beyond rounding)."""
    name = account.name if account is not None else ref.split(":", 1)[0]
    taxes = vat.tax_map(account.option("tax_map") if account is not None else None, name)
    sid, oid = slip["id"], slip["order_id"]
    if order.get("lines") and not order.get("tax_data"):
        raise vat.VatError(
            f"refund {sid}: order {oid} was imported before Sincro read the shop's tax data: "
            f"re-read it with 'sincro resync {name} --order {oid}'")
    by_detail = {int(ln["id"]): ln for ln in order["lines"]}
    charges: list[vat.Charge] = []
    lines: list[OrderLineData] = []
    roundings = 0
    for i, row in enumerate(slip["rows"], 1):
        line = by_detail.get(row["order_detail_id"])
        what = f"refund {sid} row {i}"
        if line is None:
            raise vat.HeldForReview(
                f"{what} refunds order row {row['order_detail_id']}, which order {oid} does "
                "not have in the hub; held for review")
        qty = row["quantity"]
        excl, incl = Decimal(row["tax_excl"]), Decimal(row["tax_incl"])
        if qty <= 0:
            if excl or incl:
                raise vat.HeldForReview(f"{what}: an amount ({incl}) refunded on no quantity; "
                                        "held for review")
            continue
        rate = Decimal(line["vat_rate"])
        if line.get("vat_from") == "prices":
            raise vat.VatError(
                f"{what} ({line.get('code')}): the shop lists no tax for this order row; Sincro "
                f"takes VAT from the shop's tax data only: check order {oid} on the shop, then "
                f"'sincro resync {name} --order {oid}'", "a row without the shop's tax data")
        code = taxes.resolve(rate, line.get("tax_group") or None, what=f"{what} ({line.get('code')})")
        lines.append(OrderLineData(
            article_code=line["code"], description=line["name"] or line["code"], quantity=qty,
            unit_price=(excl / qty).quantize(MICRO), unit_price_tax_incl=(incl / qty).quantize(MICRO),
            vat_rate=rate, vat_code=code.code, vat_nature=code.nature,
            total_tax_excl=excl, total_tax_incl=incl))
        charges.append(vat.Charge("article", excl, rate, code.code, code.nature, incl))
        # the shop rounds each refunded row as it rounded the order (round_type)
        roundings += 2 * (qty if order.get("round_type") in (1, 0, None) else 1)
    shipping = None
    s_excl, s_incl = Decimal(slip["shipping_tax_excl"]), Decimal(slip["shipping_tax_incl"])
    if s_excl or s_incl:
        rate = Decimal(order["shipping"].get("vat_rate") or 0)
        code = taxes.resolve(rate, what=f"refund {sid} shipping")
        shipping = ShippingData(s_excl, s_incl, rate, "Shipping", code.code, code.nature)
        charges.append(vat.Charge("shipping", s_excl, rate, code.code, code.nature, s_incl))
        roundings += 2
    if not charges:
        raise vat.HeldForReview(f"refund {sid} of order {oid} refunds nothing; held for review")
    total_excl = vat.cents(Decimal(slip["products_tax_excl"]) + s_excl)
    total_incl = vat.cents(Decimal(slip["products_tax_incl"]) + s_incl)
    settled = vat.settle(charges, total_excl, total_incl, roundings=roundings,
                         order=f"refund {sid} of order {oid}")
    day = slip.get("date")
    reference = order.get("reference") or None
    return CreditNoteData(
        external_ref=ref, order_external_ref=order_ref, customer_code=customer_code,
        date=date.fromisoformat(day) if day else utcnow().date(),
        currency=order.get("currency") or "EUR", lines=tuple(lines),
        total_tax_excl=total_excl, total_tax_incl=total_incl, goods_returned=goods_returned,
        shipping=shipping,
        vat_summary=tuple(VatSummary(r.rate, r.code, r.nature, r.taxable, r.tax)
                          for r in settled.summary),
        rounding=settled.rounding, rounding_tax_excl=settled.rounding_tax_excl,
        shop_reference=reference,
        conversion_rate=Decimal(slip["conversion_rate"]) if slip.get("conversion_rate") else None,
        notes=f"Shop refund {sid} of order {oid}" + (f" ({reference})" if reference else ""),
    )


async def sync_refunds(ctx: RunContext) -> None:
    """The refunds step: read the new slips into the hub, then push the waiting ones."""
    run = ctx.run
    run.steps.append("refunds")
    erp = credit_notes(ctx.erp) if ctx.erp is not None else None
    if ctx.erp is not None and erp is None:
        run.info(f"refunds: the {ctx.connector.name} ERP connector takes no credit notes yet; "
                 "the shop's refunds are left for when it does")
        return
    read = await read_refunds(ctx)
    if read is None:
        return
    if ctx.dry_run:
        run.info("dry run: no credit note is pushed to the ERP")
        return
    await push_refunds(ctx)


async def read_refunds(ctx: RunContext) -> int | None:
    """The slips after the cursor into the hub, a page per transaction; how many were new
    (None: the shop's key may not read refunds, said once in the run's log)."""
    run = ctx.run
    cursor = int(await get_cursor(ctx.hub, ctx.account_id, CURSOR) or 0)
    new = 0
    while True:
        try:
            items = await ctx.shop.slips_after(cursor, PAGE_SIZE)
        except ShopPermissionError as exc:
            run.warning(f"refunds: the shop's key may not read refunds (order_slip): {exc}; "
                        "give the key GET on order_slip for credit notes")
            return None
        slips: list[RefundSnapshot] = []
        bad: list[tuple[int, str]] = []
        for raw in items:
            try:
                slip = refund_data(raw)
            except (vat.VatError, ValueError) as exc:
                sid = int(str(raw.get("id") or 0).strip() or 0)
                bad.append((sid, str(exc)))
                continue
            if slip["id"] > cursor:
                slips.append(slip)
        top = max([s["id"] for s in slips] + [b[0] for b in bad] + [cursor])
        if top == cursor:
            break
        now = iso(utcnow())
        for sid, why in bad:
            run.error(f"refund {sid} is not readable and is skipped: {why}")
        if not ctx.dry_run:
            async with ctx.hub.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO refunds (account_id, shop_id, order_shop_id, data,"
                    " imported_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    [(ctx.account_id, s["id"], s["order_id"], json.dumps(s), now)
                     for s in slips])
                await set_cursor(conn, ctx.account_id, CURSOR, str(top))
        new += len(slips)
        run.counts["refunds_read"] += len(slips)
        cursor = top
        if len(items) < PAGE_SIZE:
            break
    if new:
        run.info(f"refunds: {new} new refunds read from the shop")
    return new


async def push_refunds(ctx: RunContext, only: set[int] | None = None) -> dict[int, str]:
    """Every hub refund without its credit note (or only the slips ``only`` names) into the
    ERP, ``BATCH`` credit notes per ERP call and hub transaction; the credit note numbers by
    slip id. One slip failing never stops the others."""
    run = ctx.run
    erp = credit_notes(ctx.connector)
    if erp is None:
        return {}
    rows = await ctx.hub.fetchall(
        "SELECT r.shop_id, r.order_shop_id, r.data, o.data AS order_data"
        " FROM refunds r LEFT JOIN orders o ON o.account_id = r.account_id"
        " AND o.shop_id = r.order_shop_id"
        " WHERE r.account_id = ? AND r.erp_number IS NULL ORDER BY r.shop_id",
        (ctx.account_id,))
    goods = ctx.account.option("refund_returns_goods")
    done: dict[int, str] = {}
    waiting: list[int] = []
    for i in range(0, len(rows), BATCH):
        ready: list[tuple[int, int, CreditNoteData]] = []
        failed: dict[int, str] = {}
        chunk = [r for r in rows[i:i + BATCH] if r["order_data"] is not None
                 and (only is None or int(r["shop_id"]) in only)]
        documents = await _documents(ctx, [ctx.ref("o", int(r["order_shop_id"])) for r in chunk])
        for row in rows[i:i + BATCH]:
            sid, oid = int(row["shop_id"]), int(row["order_shop_id"])
            if only is not None and sid not in only:
                continue
            if row["order_data"] is None:
                # an order this account never imported (another shop, before its first order)
                run.log(Level.DEBUG, f"refund {sid}: order {oid} is not in the hub; it waits")
                continue
            order_ref = ctx.ref("o", oid)
            document = documents.get(order_ref)
            if document is None:
                waiting.append(sid)
                continue
            slip: RefundSnapshot = json.loads(row["data"])
            order: OrderSnapshot = json.loads(row["order_data"])
            try:
                ready.append((sid, oid, build_credit_note(
                    ctx.ref("s", sid), order_ref, slip, order, document.customer_code,
                    account=ctx.account, goods_returned=goods)))
            except (vat.VatError, vat.HeldForReview) as exc:
                failed[sid] = str(exc)
        numbers: dict[int, str] = {}
        made = functools.partial(_made, run, numbers)
        while ready:  # the batch without each note the ERP refuses, named by its reference
            try:
                results = await erp.insert_credit_notes([doc for _s, _o, doc in ready])
            except ErpError as exc:
                at = [k for k, (_s, _o, doc) in enumerate(ready)
                      if doc.external_ref == exc.external_ref]
                if at:
                    failed[ready[at[0]][0]] = str(exc)
                    del ready[at[0]]
                    continue
                for sid, _oid, doc in ready:  # not named: each on its own
                    try:
                        (result,) = await erp.insert_credit_notes([doc])
                    except ErpError as one:
                        failed[sid] = str(one)
                    else:
                        made(sid, result)
                break
            for (sid, _oid, _doc), result in zip(ready, results, strict=True):
                made(sid, result)
            break
        for sid, why in failed.items():
            run.error(f"refund {sid} did not go into the ERP: {why}")
        if not numbers and not failed:
            continue
        now = iso(utcnow())
        async with ctx.hub.transaction() as conn:
            await conn.executemany(
                "UPDATE refunds SET erp_number = ?, pushed_at = ?, last_error = NULL"
                " WHERE account_id = ? AND shop_id = ?",
                [(n, now, ctx.account_id, sid) for sid, n in numbers.items()])
            await conn.executemany(
                "UPDATE refunds SET last_error = ? WHERE account_id = ? AND shop_id = ?",
                [(why, ctx.account_id, sid) for sid, why in failed.items()])
        done.update(numbers)
    if waiting:
        run.counts["refunds_waiting"] += len(waiting)
        shown = ", ".join(map(str, waiting[:20])) + (
            f" and {len(waiting) - 20} more" if len(waiting) > 20 else "")
        run.info(f"refunds {shown} wait for their orders to be in the ERP")
    if done:
        run.info(f"refunds: {len(done)} credit notes in the ERP")
    return done


async def _documents(ctx: RunContext, refs: list[str]) -> dict[str, Any]:
    """The order documents the ERP has among ``refs``, in one call where the connector can."""
    many = getattr(ctx.connector, "find_documents", None)
    if many is not None:
        found: dict[str, Any] = await many(refs)
        return found
    out = {}
    for ref in dict.fromkeys(refs):
        doc = await ctx.connector.find_document(ref)
        if doc is not None:
            out[ref] = doc
    return out


def _made(run: Any, numbers: dict[int, str], sid: int, result: CreditNoteResult) -> None:
    numbers[sid] = result.credit_note.number
    if result.created:
        run.counts["credit_notes"] += 1
        run.log(Level.DEBUG, f"refund {sid} -> ERP credit note {numbers[sid]}")


# -- reconcile: refunds missing from the ERP ----------------------------------
async def slips_of_orders(shop: Any, order_ids: list[int]) -> list[RefundSnapshot]:
    """The shop's refunds of these orders (``filter[id_order]=[a|b|c]`` in id batches), as the
    hub keeps them; an unreadable slip is left out."""
    if not order_ids:
        return []
    out = []
    for raw in await shop.slips_of_orders(order_ids):
        try:
            out.append(refund_data(raw))
        except (vat.VatError, ValueError):
            continue
    return sorted(out, key=lambda s: s["id"])


async def missing_refunds(hub: Any, account_id: int, erp: Any, name: str,
                          slips: list[RefundSnapshot], documents: set[str]) -> list[tuple[int, int, str, str]]:
    """(slip id, order id, reason, detail) of each slip of an order the ERP holds
    (``documents``: their external references) without its credit note."""
    cn = credit_notes(erp)
    mine = [s for s in slips if f"{name}:o:{s['order_id']}" in documents]
    if cn is None or not mine:
        return []
    found = await cn.find_credit_notes([f"{name}:s:{s['id']}" for s in mine])
    cursor = int(await get_cursor(hub, account_id, CURSOR) or 0)
    rows = {r[0]: r for r in await hub.fetchall(
        "SELECT shop_id, erp_number, last_error FROM refunds WHERE account_id = ?",
        (account_id,))}
    out = []
    for s in mine:
        sid = s["id"]
        if f"{name}:s:{sid}" in found:
            continue
        row = rows.get(sid)
        if row is None:
            reason, detail = (("not_read", "newer than the refunds cursor: the next orders sync "
                               "reads it") if sid > cursor else
                              ("not_in_hub", "passed by the refunds cursor but not in the hub"))
        elif row[1]:
            reason, detail = "gone", f"was credit note {row[1]}, no longer in the ERP"
        elif row[2]:
            reason, detail = "error", str(row[2])
        else:
            reason, detail = "waiting", "read, not in the ERP yet"
        out.append((sid, s["order_id"], reason, detail))
    return out


async def fix_missing_refunds(ctx: RunContext, slip_ids: list[int]) -> dict[int, str]:
    """Re-read these slips from the shop into the hub (a credit note gone from the ERP is
    looked for again) and push them: the numbers of the credit notes now in the ERP, and
    why the others are not (by slip id, in ``ctx`` run's errors too)."""
    ids = sorted(set(slip_ids))
    if not ids:
        return {}
    raws = await ctx.shop.slips_by_ids(ids)
    now = iso(utcnow())
    slips = []
    for sid in ids:
        raw = raws.get(sid)
        if raw is None:
            ctx.run.error(f"refund {sid} is not on the shop")
            continue
        slips.append(refund_data(raw))
    async with ctx.hub.transaction() as conn:
        await conn.executemany(
            "INSERT INTO refunds (account_id, shop_id, order_shop_id, data,"
            " imported_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(ctx.account_id, s["id"], s["order_id"], json.dumps(s), now) for s in slips])
        await conn.executemany(
            "UPDATE refunds SET erp_number = NULL, pushed_at = NULL, data = ?"
            " WHERE account_id = ? AND shop_id = ?",
            [(json.dumps(s), ctx.account_id, s["id"]) for s in slips])
    return await push_refunds(ctx, only={s["id"] for s in slips})
