"""What a sync step works with: the account, the hub, the shop, the ERP, the run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.accounts import Account
from core.erp.port import ErpConnector
from core.kinds import RunKind, Trigger
from core.runs import RunRecorder
from core.store.db import Database
from core.timeutil import iso, utcnow

if TYPE_CHECKING:
    from core.sync.orders import CustomerRefs


@dataclass(slots=True)
class StepState:
    """What earlier steps of a run leave for later ones (one per run, fresh each run)."""

    # shop ids of the orders this run imported into the hub (orders, resync); the
    # listing step after orders reads them
    new_order_ids: list[int] = field(default_factory=list)
    # the account's e-mail -> ERP customer reference, loaded once per run
    customer_refs: CustomerRefs | None = None
    # ERP customer references a dry run has already reported
    dry_run_customers: set[str] = field(default_factory=set)
    # article code -> quantity on the orders not yet in the ERP, read once per run
    pending_quantities: dict[str, int] | None = None


@dataclass
class RunContext:
    account: Account
    hub: Database
    shop: Any  # core.sync.shop.ShopReader
    erp: ErpConnector | None  # None in a run that needs only the hub (Engine.run hub_only)
    run: RunRecorder
    kind: RunKind
    trigger: Trigger
    dry_run: bool = False
    # what earlier steps of this run leave for later ones
    state: StepState = field(default_factory=StepState)

    @property
    def account_id(self) -> int:
        assert self.account.id is not None
        return self.account.id

    @property
    def connector(self) -> ErpConnector:
        """The run's ERP; a run that reads only the hub has none, and asking for it is a bug."""
        if self.erp is None:
            raise RuntimeError(f"this {self.kind} run has no ERP: it reads only the hub")
        return self.erp

    def ref(self, kind: str, value: object) -> str:
        """An external reference for the ERP: ``shop1:o:1234``."""
        return f"{self.account.name}:{kind}:{value}"


async def get_cursor(db: Database, account_id: int, name: str) -> str | None:
    return await db.scalar("SELECT value FROM cursors WHERE account_id = ? AND name = ?",
                           (account_id, name))


async def set_cursor(conn, account_id: int, name: str, value: str) -> None:
    """Inside the caller's transaction: a cursor moves with what it covers."""
    await conn.execute(
        "INSERT INTO cursors (account_id, name, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (account_id, name) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at",
        (account_id, name, value, iso(utcnow())),
    )
