"""Full sync (Q-1): realign every hub customer and article of the account with the ERP.

Started by hand only; counts against the account's monthly allowance and is
refused past it. (Partial syncs never count.)
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.accounts import Account
from core.erp.port import ArticleData
from core.errors import ConfigError
from core.store.db import Database
from core.sync.context import RunContext
from core.sync.partial import partial_sync
from core.timeutil import iso, utcnow, zone


class QuotaExceeded(ConfigError):
    exit_code = 1


def month_of(account_tz: str, now: datetime | None = None) -> str:
    return (now or utcnow()).astimezone(zone(account_tz)).strftime("%Y-%m")


async def quota(db: Database, account: Account) -> dict:
    allowance = account.option("full_sync_allowance")
    month = month_of(account.tz)
    used = await db.scalar(
        "SELECT COUNT(*) FROM full_syncs WHERE account_id = ? AND month = ?", (account.id, month))
    left = None if allowance is None else max(0, int(allowance) - used)
    return {"month": month, "allowance": allowance, "used": used, "left": left}


async def check_quota(db: Database, account: Account) -> None:
    q = await quota(db, account)
    if q["left"] is not None and q["left"] <= 0:
        raise QuotaExceeded(
            f"account {account.name} has used all {q['allowance']} full syncs allowed "
            f"for {q['month']}",
            hint="orders and customers syncs (partial) still run; the allowance renews next "
            "month, or raise it with 'sincro account edit'",
        )


async def full_sync(ctx: RunContext) -> None:
    run = ctx.run
    run.steps.append("full")
    await check_quota(ctx.hub, ctx.account)
    if not ctx.dry_run:
        async with ctx.hub.transaction() as conn:
            await conn.execute(
                "INSERT INTO full_syncs (account_id, month, run_id, at) VALUES (?, ?, ?, ?)",
                (ctx.account_id, month_of(ctx.account.tz), run.id, iso(utcnow())))
    rows = await ctx.hub.fetchall(
        "SELECT code, name FROM articles WHERE account_id = ? ORDER BY code", (ctx.account_id,))
    codes = [r[0] for r in rows]
    existing = await ctx.connector.find_articles(codes)
    for code, name in rows:
        if code not in existing:
            run.info(f"article {code} missing from the ERP: created")
            if not ctx.dry_run:
                await ctx.connector.create_article(ArticleData(code=code, description=name or code,
                                                         price=Decimal("0")))
            run.counts["articles_created"] += 1
    now = iso(utcnow())
    if not ctx.dry_run:
        async with ctx.hub.transaction() as conn:
            await conn.execute(
                "INSERT INTO outbox (account_id, kind, ref, created_at) "
                "SELECT account_id, 'customer', shop_id, ? FROM customers WHERE account_id = ? ON CONFLICT DO NOTHING",
                (now, ctx.account_id))
    await partial_sync(ctx, force_customers=True)
