"""Each kind of run is one ordered list of steps.

The scheduled pipeline (S-3, S-4): orders, changed customers, partial sync, the
shop's refunds as credit notes (docs/FISCAL.md, "Refunds"), listing rules when new
orders went in, ERP states back to the shop. ``STEPS`` is
the one table of every step (each imported here); a pipeline naming a step that
is not in it is refused when this module loads, and ``steps_for`` refuses an
unknown kind.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.kinds import RunKind
from core.sync.context import RunContext
from core.sync.customers import sync_customers
from core.sync.full import full_sync
from core.sync.listings import listings_after_orders, listings_all
from core.sync.orders import import_orders
from core.sync.partial import partial_sync
from core.sync.refunds import sync_refunds
from core.sync.states import push_states

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
    "listings": listings_all,
    "listings-after-orders": listings_after_orders,
    "states": push_states,
    "refunds": sync_refunds,
}

# Names of steps, per kind of run.
PIPELINES: dict[RunKind, list[str]] = {
    RunKind.ORDERS: ["orders", "partial", "refunds", "listings-after-orders"],
    RunKind.CUSTOMERS: ["customers", "partial"],
    RunKind.FULL: ["full"],
    RunKind.STATES: ["states"],
    RunKind.LISTINGS: ["listings"],
    RunKind.SCHEDULED: ["orders", "customers-changed", "partial", "refunds",
                        "listings-after-orders", "states"],
}

KINDS = tuple(PIPELINES)


class UnknownStep(LookupError):
    """A pipeline names a step that ``STEPS`` lacks: a programming error, never skipped."""


def _check(pipelines: dict[RunKind, list[str]]) -> None:
    for kind, names in pipelines.items():
        missing = [n for n in names if n not in STEPS]
        if missing:
            raise UnknownStep(f"pipeline {str(kind)!r} names unknown steps: "
                              f"{', '.join(missing)}")


_check(PIPELINES)


def steps_for(kind: RunKind) -> list[tuple[str, Step]]:
    """The steps of a kind of run, in order; an unknown kind or step raises."""
    if kind not in PIPELINES:
        raise UnknownStep(f"unknown kind of run {str(kind)!r}")
    _check({kind: PIPELINES[kind]})
    return [(name, STEPS[name]) for name in PIPELINES[kind]]
