"""Test connection: what the shop is and what the account's key may do there."""

from __future__ import annotations

from dataclasses import dataclass

from core.accounts import Account
from core.prestashop.client import PrestaShopClient
from core.timeutil import zone

# What each sync needs of the key, as the shop's back office names the permissions.
NEEDED: dict[str, tuple[str, ...]] = {
    "orders": ("GET", "PUT"),
    "order_histories": ("GET", "POST"),
    "order_states": ("GET",),
    "order_carriers": ("GET", "PUT"),
    "customers": ("GET",),
    "addresses": ("GET",),
    "products": ("GET", "PUT"),
    "combinations": ("GET",),
    "stock_availables": ("GET", "PUT"),
    "currencies": ("GET",),
    "countries": ("GET",),
    "carriers": ("GET",),
}


@dataclass(frozen=True, slots=True)
class ConnectionReport:
    url: str
    version: str | None
    shop_name: str
    resources: dict[str, frozenset[str]]
    missing: dict[str, tuple[str, ...]]  # resource -> methods the key lacks

    @property
    def ok(self) -> bool:
        return not self.missing


async def check_connection(account: Account, **client_options) -> ConnectionReport:
    options = {"timeout": 15.0, "retries": 0, **client_options}
    async with PrestaShopClient(account.url, account.resolve_key(), tz=zone(account.tz),
                                **options) as client:
        info = await client.info()
    resources = {k: frozenset(v) for k, v in info.resources.items()}
    missing = {}
    for res, methods in NEEDED.items():
        lacking = tuple(m for m in methods if m not in resources.get(res, frozenset()))
        if lacking:
            missing[res] = lacking
    return ConnectionReport(account.url, info.version, info.shop_name, resources, missing)
