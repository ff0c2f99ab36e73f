"""Extra lines for `sincro account show`, contributed by other features."""

from __future__ import annotations

from typing import Any

from core.accounts import Account
from core.commands.base import Context


async def collect(ctx: Context, account: Account) -> dict[str, Any]:
    return {}
