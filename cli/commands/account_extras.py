"""Extra lines for `sincro account show`, contributed by other features."""

from __future__ import annotations

from typing import Any

from cli.commands.base import Context
from core.accounts import Account


async def collect(ctx: Context, account: Account) -> dict[str, Any]:
    from core.schedules_store import get_schedule
    from core.sync.full import quota

    db = await ctx.hub()
    out: dict[str, Any] = {"full_syncs": await quota(db, account)}
    stored = await get_schedule(db, account.saved_id)
    out["schedule"] = stored.schedule.describe() if stored else "off"
    out["next_run"] = stored.next_run.isoformat() if stored and stored.next_run else None
    return out
