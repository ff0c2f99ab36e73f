"""Test connection: what the shop is and what the account's key may do there."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from core.accounts import Account
from core.errors import ConfigError
from core.prestashop.client import PrestaShopClient
from core.prestashop.errors import ShopError
from core.sync.shop import Language, language_of, shop_languages
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
    # the install's shops (id, name) and languages, when the key may read them
    shops: list[tuple[int, str]] | None = field(default=None)
    languages: list[Language] | None = field(default=None)

    @property
    def ok(self) -> bool:
        return not self.missing


async def install_shops(client: PrestaShopClient) -> list[tuple[int, str]]:
    """The install's shops as (id, name), in id order (one shop on a single-shop install)."""
    out = []
    for raw in await client.list_raw("shops", display="full", sort="[id_ASC]"):
        try:
            out.append((int(str(raw.get("id")).strip()), str(raw.get("name") or "").strip()))
        except ValueError:
            continue
    return out


def _unbound(account: Account) -> Account:
    """The account without its shop: what the install holds is read outside any shop."""
    options = dict(account.options)
    options.pop("shop_id", None)
    return replace(account, options=options)  # type: ignore[arg-type]


async def check_shop_and_language(account: Account, **client_options) -> None:
    """The account's shop must be one of the install's shops, its language one of the shop's
    active languages: else one line naming the valid ones (ConfigError). A shop that cannot
    be read raises its ShopError (the caller says the options are not checked)."""
    shop_id = account.option("shop_id")
    code = account.option("language")
    if shop_id is None and not code:
        return
    options = {"timeout": 15.0, "retries": 0, **client_options}
    async with PrestaShopClient(account.url, account.resolve_key(), tz=zone(account.tz),
                                **options) as client:
        if shop_id is not None:
            shops = await install_shops(client)
            if shop_id not in {i for i, _n in shops}:
                listed = ", ".join(f"{i} ({n})" for i, n in shops) or "none"
                raise ConfigError(f"account {account.name}: the install has no shop {shop_id} "
                                  f"(its shops: {listed})",
                                  hint="give one of them with --shop-id, or --shop-id none for "
                                  "the whole install")
        if code:
            language_of(code, await shop_languages(client), account=account.name)


async def check_connection(account: Account, **client_options) -> ConnectionReport:
    options = {"timeout": 15.0, "retries": 0, **client_options}
    async with PrestaShopClient(account.url, account.resolve_key(), tz=zone(account.tz),
                                **options) as client:
        info = await client.info()
        shops: list[tuple[int, str]] | None = None
        languages: list[Language] | None = None
        try:  # what the key may not read is left out
            shops = await install_shops(client)
        except ShopError:
            pass
        try:
            languages = await shop_languages(client)
        except ShopError:
            pass
    resources = {k: frozenset(v) for k, v in info.resources.items()}
    missing = {}
    for res, methods in NEEDED.items():
        lacking = tuple(m for m in methods if m not in resources.get(res, frozenset()))
        if lacking:
            missing[res] = lacking
    return ConnectionReport(account.url, info.version, info.shop_name, resources, missing,
                            shops, languages)


async def order_states_named(account: Account) -> list[tuple[int, str]]:
    """The shop's order states as (id, name in the account's language), in id order: what
    the console offers for the importable states and the state map (a check, not a sync:
    no retries, 15 s)."""
    from core.sync.shop import open_shop

    async with open_shop(account, retries=0, timeout=15.0) as shop:
        states = await shop.client.order_states()
        lang = await shop.language_id()
    return [(s.id, s.name.text(lang)) for s in sorted(states.values(), key=lambda s: s.id)]
