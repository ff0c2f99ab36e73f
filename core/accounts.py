"""Accounts (A-1..A-3): one PrestaShop shop each, with its key and options.

The webservice key is a secret: ``Account`` never shows it (repr, masks), the
hub stores it only in its own 0600 file, and ``resolve_key`` reads a key kept
in an environment variable only when a sync needs it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypedDict, overload
from urllib.parse import urlsplit, urlunsplit

from core.errors import ConfigError, NotFound
from core.store.db import Database
from core.timeutil import iso, machine_zone, utcnow, zone

NAME_RE = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,38}[a-z0-9])?$")
KEY_RE = re.compile(r"^[A-Z0-9]{32}$")
ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

CodingRule = Literal["reference", "prefix"]
# the options bounding the shop (core.prestashop.limits): a number of MB or seconds
LimitOption = Literal["max_response_mb", "request_timeout", "run_timeout", "retry_after_cap"]


class AccountOptions(TypedDict, total=False):
    """An account's options as the hub stores them (JSON, ``accounts.options``): only those
    set; ``Account.option`` falls back on ``DEFAULT_OPTIONS``, which has every one. What
    each means: the comments of ``DEFAULT_OPTIONS``; who sets it: ``sincro account edit``
    (cli.commands.account, account_taxes) and the console's account form."""

    excluded_states: list[int]
    merge_guests: bool
    article_prefix: str
    coding_rule: CodingRule
    full_sync_allowance: int | None
    state_map: dict[str, int | None]  # ERP event (cancelled, shipped, invoiced) -> state id
    send_email: bool
    refund_returns_goods: bool
    recipients: list[str]
    tax_map: dict[str, str]
    payment_map: dict[str, str]
    carrier_map: dict[str, str]
    pec_fields: list[str]
    sdi_fields: list[str]
    customer_match: list[str]
    article_match: list[str]
    max_response_mb: int | float
    request_timeout: int | float
    run_timeout: int | float
    retry_after_cap: int | float
    shop_id: int | None
    language: str | None


# Options later issues read; defaults live here so every reader agrees.
DEFAULT_OPTIONS: AccountOptions = {
    # shop order states that are NOT importable (6 Canceled, 8 Payment error)
    "excluded_states": [6, 8],
    "merge_guests": True,
    "article_prefix": "PS",
    "coding_rule": "reference",  # "reference" or "prefix"
    "full_sync_allowance": None,  # per month; None = unlimited
    "state_map": {"cancelled": 6, "shipped": 4, "invoiced": None},
    "send_email": False,
    # a shop refund (order slip) is a return of the goods: its credit note puts the refunded
    # quantities back in the ERP's stock (docs/FISCAL.md, "Refunds"). Off by default: stock
    # that is not back on the shelf must not be sold again by a listing rule
    "refund_returns_goods": False,
    "recipients": [],
    # fiscal documents (docs/FISCAL.md): shop rate or "g<group>" -> ERP VAT code[:nature],
    # over the defaults 22, 10, 5, 4; payment module/name and carrier id/name -> ERP codes
    "tax_map": {},
    "payment_map": {},
    "carrier_map": {},
    # address fields a shop module keeps PEC and SDI code in ("other" is always read)
    "pec_fields": ["pec"],
    "sdi_fields": ["sdi", "codice_destinatario"],
    # the office's own ERP records, found before Sincro creates its own, in this order
    # ([] turns matching off): customers by partita IVA, codice fiscale, e-mail; articles
    # by the shop reference, then EAN13
    "customer_match": ["vat_number", "tax_code", "email"],
    "article_match": ["reference", "ean13"],
    # bounds on the shop (core.prestashop.limits): the largest answer read, in MB; seconds
    # per request (to its last byte), seconds a run may spend on the shop; longest
    # Retry-After wait honoured
    "max_response_mb": 32,
    "request_timeout": 60,
    "run_timeout": 1800,
    "retry_after_cap": 60,
    # multishop: the one shop of the install the account works in (every request carries
    # id_shop, docs/prestashop/PROTOCOL.md §5.5); None = the whole install
    "shop_id": None,
    # ISO code of the language of order state and product names (one of the shop's
    # languages); None = the shop's first language
    "language": None,
}


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    url: str
    tz: str
    key: str | None = field(default=None, repr=False)
    key_env: str | None = None
    enabled: bool = True
    options: AccountOptions = field(default_factory=AccountOptions)
    id: int | None = None

    def __repr__(self) -> str:  # the key never appears, not even masked
        return f"Account(name={self.name!r}, url={self.url!r}, tz={self.tz!r})"

    @property
    def saved_id(self) -> int:
        """The id of an account read from the hub (a saved account always has one)."""
        if self.id is None:
            raise ValueError(f"account {self.name} has no id: it is not saved in the hub")
        return self.id

    @property
    def masked_key(self) -> str:
        if self.key_env:
            return f"${self.key_env}"
        return mask(self.key or "")

    # An option's value: the account's own, else the default. Each name has its type here
    # (as in AccountOptions), so that mypy refuses a misspelt name or a wrong use.
    @overload
    def option(self, name: Literal["excluded_states"]) -> list[int]: ...
    @overload
    def option(self, name: Literal["merge_guests", "send_email",
                                   "refund_returns_goods"]) -> bool: ...
    @overload
    def option(self, name: Literal["article_prefix"]) -> str: ...
    @overload
    def option(self, name: Literal["coding_rule"]) -> CodingRule: ...
    @overload
    def option(self, name: Literal["full_sync_allowance", "shop_id"]) -> int | None: ...
    @overload
    def option(self, name: Literal["language"]) -> str | None: ...
    @overload
    def option(self, name: Literal["state_map"]) -> dict[str, int | None]: ...
    @overload
    def option(self, name: Literal["recipients", "pec_fields", "sdi_fields", "customer_match",
                                   "article_match"]) -> list[str]: ...
    @overload
    def option(self, name: Literal["tax_map", "payment_map", "carrier_map"]) -> dict[str, str]: ...
    @overload
    def option(self, name: LimitOption) -> int | float: ...
    def option(self, name: str) -> object:
        return self.options.get(name, DEFAULT_OPTIONS.get(name))

    def resolve_key(self) -> str:
        """The key to send to the shop; reads the environment at use time."""
        if self.key:
            return self.key
        value = os.environ.get(self.key_env or "")
        if not value:
            raise ConfigError(
                f"account {self.name}: the environment variable {self.key_env} that holds "
                "its webservice key is not set",
                hint=f"export {self.key_env}=<key> before starting Sincro, or store the key with "
                f"'sincro account edit {self.name} --key KEY'",
            )
        value = value.strip()
        if not KEY_RE.match(value):
            raise ConfigError(
                f"account {self.name}: the environment variable {self.key_env} does not hold "
                "a webservice key (32 characters, A-Z and 0-9)",
                hint="copy the key from the shop's Advanced Parameters > Webservice page",
            )
        return value

    def public_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "key": self.masked_key,
            "key_env": self.key_env,
            "tz": self.tz,
            "enabled": self.enabled,
            "options": {**DEFAULT_OPTIONS, **self.options},
        }


def mask(secret: str) -> str:
    """First four characters and an ellipsis: enough to tell keys apart."""
    return (secret[:4] + "…") if secret else ""


# -- validation ------------------------------------------------------------
PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]{1,10}$")


def check_article_prefix(prefix: str) -> str:
    """The prefix of the ERP codes Sincro gives new articles (coding rule "prefix")."""
    if not PREFIX_RE.match(prefix):
        raise ConfigError(f"invalid article prefix {_cut(prefix)}",
                          hint="1 to 10 letters, digits, . _ - (e.g. PS)")
    return prefix


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise ConfigError(
            f"invalid account name {name!r}",
            hint="use 1-40 lowercase letters, digits, '-' or '_', starting and ending "
            "with a letter or digit (e.g. shop1)",
        )
    return name


_LABEL_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_URL_BAD_RE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
MAX_URL = 2000


def valid_host(host: str) -> bool:
    """A DNS name (IDN allowed: 1-63 per label, 253 in all) or an IP address."""
    import ipaddress

    if not host or len(host) > 253:
        return False
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_LABEL_RE.match(label) for label in labels)


def _cut(text: str, limit: int = 60) -> str:
    """A value quoted in a message: one line, control characters visible, long ones cut."""
    from core.textsafe import visible

    s = visible(text)
    return "'" + (s if len(s) <= limit else s[: limit - 1] + "…") + "'"


def normalise_url(url: str) -> str:
    """The shop root as ``scheme://host[:port]/path/``; /api/ is the client's business."""
    raw = (url or "").strip()
    if len(raw) > MAX_URL:
        raise ConfigError(f"invalid shop URL {_cut(raw)}: longer than {MAX_URL} characters",
                          hint="give the shop's root address, e.g. https://shop.example")
    if _URL_BAD_RE.search(raw):
        raise ConfigError(f"invalid shop URL {_cut(raw)}: it holds a space or a control "
                          "character", hint="give the shop's root address without spaces, "
                          "e.g. https://shop.example (a space in a path is written %20)")
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"invalid shop URL {_cut(raw)}",
            hint="give the shop's root address with http:// or https://, e.g. https://shop.example",
        )
    if not valid_host(parts.hostname):
        raise ConfigError(
            f"invalid shop URL {_cut(raw)}: {_cut(parts.hostname, 40)} is not a host name",
            hint="a host name has labels of 1-63 letters, digits or '-', 253 characters in "
            "all, e.g. https://shop.example",
        )
    if parts.username or parts.password:
        raise ConfigError(
            "the shop URL must not contain credentials",
            hint="give the key with --key or --key-env, and the URL without user:password@",
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"invalid shop URL {raw!r}: it has a query or fragment",
            hint="give the shop's root address only, e.g. https://shop.example",
        )
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(
            f"invalid shop URL {raw!r}: bad port", hint="e.g. https://shop.example:8443"
        ) from None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = re.sub(r"/+", "/", parts.path or "/")
    path = re.sub(r"/api/?$", "/", path)  # a pasted webservice URL: keep the shop root
    if not path.endswith("/"):
        path += "/"
    return urlunsplit((scheme, host, path, "", ""))


def check_key(key: str) -> str:
    if not KEY_RE.match(key or ""):
        raise ConfigError(
            "invalid webservice key: PrestaShop keys are 32 characters of A-Z and 0-9",
            hint="copy the key from the shop's Advanced Parameters > Webservice page",
        )
    return key


def check_env_name(var: str) -> str:
    if not ENV_RE.match(var or "") or len(var) > 128:
        raise ConfigError(
            f"invalid environment variable name {_cut(var or '')}",
            hint="use letters, digits and '_', e.g. SHOP1_KEY",
        )
    return var


def build_account(
    name: str,
    url: str,
    *,
    key: str | None = None,
    key_env: str | None = None,
    tz: str | None = None,
    enabled: bool = True,
    options: AccountOptions | None = None,
) -> Account:
    if (key is None) == (key_env is None):
        raise ConfigError("give the webservice key with exactly one of --key or --key-env")
    tz = tz or machine_zone()
    zone(tz)
    return Account(
        name=check_name(name),
        url=normalise_url(url),
        key=check_key(key) if key is not None else None,
        key_env=check_env_name(key_env) if key_env is not None else None,
        tz=tz,
        enabled=enabled,
        options=options.copy() if options else {},
    )


# -- persistence -------------------------------------------------------------
def _from_row(row: Any) -> Account:
    return Account(
        id=row["id"],
        name=row["name"],
        url=row["url"],
        key=row["key"],
        key_env=row["key_env"],
        tz=row["tz"],
        enabled=bool(row["enabled"]),
        options=json.loads(row["options"] or "{}"),
    )


async def list_accounts(db: Database) -> list[Account]:
    rows = await db.fetchall("SELECT * FROM accounts ORDER BY name")
    return [_from_row(r) for r in rows]


async def get_account(db: Database, name: str) -> Account:
    row = await db.fetchone("SELECT * FROM accounts WHERE name = ?", (name,))
    if row is None:
        names = [a.name for a in await list_accounts(db)]
        known = f"known accounts: {', '.join(names)}" if names else "there are no accounts yet"
        raise NotFound(
            f"no account named {name!r} ({known})",
            hint="add one with 'sincro account add NAME --url URL --key KEY'",
        )
    return _from_row(row)


async def add_account(db: Database, account: Account) -> Account:
    now = iso(utcnow())
    async with db.transaction() as conn:
        exists = await (await conn.execute(
            "SELECT 1 FROM accounts WHERE name = ?", (account.name,)
        )).fetchone()
        if exists:
            raise ConfigError(
                f"an account named {account.name!r} already exists",
                hint=f"choose another name, or change it with 'sincro account edit {account.name}'",
            )
        cur = await conn.execute(
            "INSERT INTO accounts (name, url, key, key_env, tz, enabled, options, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (account.name, account.url, account.key, account.key_env, account.tz,
             int(account.enabled), json.dumps(account.options), now, now),
        )
        row = await cur.fetchone()
        assert row is not None  # RETURNING id of the row just inserted
        return replace(account, id=row[0])


async def save_account(db: Database, account: Account) -> Account:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE accounts SET url = ?, key = ?, key_env = ?, tz = ?, enabled = ?, options = ?, "
            "updated_at = ? WHERE name = ?",
            (account.url, account.key, account.key_env, account.tz, int(account.enabled),
             json.dumps(account.options), iso(utcnow()), account.name),
        )
    return account


async def remove_account(db: Database, name: str) -> None:
    await get_account(db, name)
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM accounts WHERE name = ?", (name,))
