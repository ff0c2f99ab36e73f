"""The hub's ERP setting and the choice of connector (docs/ARCHITECTURE.md).

``sincro erp use`` stores the setting in the hub's settings table (name "erp"):
``{"kind": "embedded"}``, the default (also when none is stored), or a Tryton one,
``TrytonSettings.to_json()`` (the password only as an environment variable's name).
``open_chosen_erp`` opens the connector the setting names. The Tryton connector (and
httpx with it) is imported inside it only when the setting says Tryton: a process on
the embedded ERP never loads it (tests/unit/test_erp_choice.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.erp.port import ErpConnector
    from core.store.db import Database

SETTING = "erp"  # its name in the hub's settings table


@dataclass(frozen=True)
class TrytonSettings:
    """What ``sincro erp use tryton`` stores (the password only as an env var name)."""

    url: str
    db: str
    user: str
    password_env: str
    confirm: bool = True  # False: leave sales as quotations
    stock: str = "quantity"  # or "forecast_quantity"
    warehouse: str | None = None  # stock.location code; None: the first warehouse
    account_category: str | None = None  # product.category name; None: first accounting one
    # the fixed-amount (0.01) account.tax, by name or description, of the rounding lines
    rounding_tax: str = "ROUNDING"

    def to_json(self) -> dict[str, Any]:
        return {"kind": "tryton", "url": self.url, "db": self.db, "user": self.user,
                "password_env": self.password_env, "confirm": self.confirm,
                "stock": self.stock, "warehouse": self.warehouse,
                "account_category": self.account_category, "rounding_tax": self.rounding_tax}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrytonSettings:
        return cls(url=data["url"], db=data["db"], user=data["user"],
                   password_env=data["password_env"], confirm=data.get("confirm", True),
                   stock=data.get("stock", "quantity"), warehouse=data.get("warehouse"),
                   account_category=data.get("account_category"),
                   rounding_tax=data.get("rounding_tax") or "ROUNDING")

    def password(self) -> str:
        pw = os.environ.get(self.password_env)
        if not pw:
            raise ConfigError(f"the environment variable {self.password_env} is not set",
                              hint=f"export {self.password_env}=... (the Tryton password)")
        return pw


async def load_erp_setting(hub: Database) -> dict[str, Any]:
    """The configured ERP (``{"kind": "embedded"}`` when none is set)."""
    raw = await hub.scalar("SELECT value FROM settings WHERE name = ?", (SETTING,))
    if not raw:
        return {"kind": "embedded"}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ConfigError("the ERP setting is not valid JSON",
                          hint="set it again with: sincro erp use ...") from None
    return data if isinstance(data, dict) and data.get("kind") else {"kind": "embedded"}


async def save_erp_setting(hub: Database, data: dict[str, Any]) -> None:
    async with hub.transaction() as conn:
        await conn.execute("INSERT INTO settings (name, value) VALUES (?, ?) "
                           "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                           (SETTING, json.dumps(data, sort_keys=True)))


def uses_tryton(setting: dict[str, Any]) -> bool:
    return setting.get("kind") == "tryton"


async def open_erp(setting: dict[str, Any], erp_path: Path) -> ErpConnector:
    """The connector a setting names: Tryton, else the embedded ERP at ``erp_path``."""
    if uses_tryton(setting):
        from core.erp.tryton import TrytonErp

        return await TrytonErp.open(TrytonSettings.from_json(setting))
    from core.erp.embedded import EmbeddedErp

    return await EmbeddedErp.open(erp_path)


async def open_chosen_erp(hub: Database | None, erp_path: Path) -> ErpConnector:
    """The ERP chosen with ``sincro erp use`` (embedded without a hub or a setting)."""
    setting = {"kind": "embedded"} if hub is None else await load_erp_setting(hub)
    return await open_erp(setting, erp_path)
