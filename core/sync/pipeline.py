"""Each kind of run is one ordered list of steps.

The scheduled pipeline (S-3, S-4): orders, changed customers, partial sync,
listing rules when new orders went in, ERP states back to the shop. Steps from
later features register themselves with ``register_step``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.sync.context import RunContext
from core.sync.customers import sync_customers
from core.sync.full import full_sync
from core.sync.orders import import_orders
from core.sync.partial import partial_sync

Step = Callable[[RunContext], Awaitable[None]]


async def customers_all(ctx: RunContext) -> None:
    await sync_customers(ctx, changed_only=False)


async def customers_changed(ctx: RunContext) -> None:
    await sync_customers(ctx, changed_only=True)


async def partial(ctx: RunContext) -> None:
    if ctx.dry_run:
        ctx.run.info("dry run: nothing is pushed to the ERP")
        return
    await partial_sync(ctx)


STEPS: dict[str, Step] = {
    "orders": import_orders,
    "customers": customers_all,
    "customers-changed": customers_changed,
    "partial": partial,
    "full": full_sync,
}

# Names of steps, per kind of run; a name not in STEPS (a feature not built) is skipped.
PIPELINES: dict[str, list[str]] = {
    "orders": ["orders", "partial", "listings-after-orders"],
    "customers": ["customers", "partial"],
    "full": ["full"],
    "states": ["states"],
    "listings": ["listings"],
    "scheduled": ["orders", "customers-changed", "partial", "listings-after-orders", "states"],
}

KINDS = tuple(PIPELINES)


def register_step(name: str, step: Step) -> None:
    STEPS[name] = step


def steps_for(kind: str) -> list[tuple[str, Step]]:
    return [(name, STEPS[name]) for name in PIPELINES[kind] if name in STEPS]


# Steps of later features register themselves on import (after STEPS exists).
from core.sync import listings as _listings, states as _states  # noqa: E402,F401,I001
