"""Sales lists and listings (L-1, L-2): the model, its rules and its storage.

A sales list is a named set of ERP articles, given by code or by glob pattern.
A listing publishes one or more sales lists on one account, with ordered rules.
Rules are tried in order and the first whose condition holds decides the
article's action (like a firewall): put specific rules first.

Conditions (on ERP data): ``stock <= N``, ``stock < N``, ``stock >= N``,
``stock > N``, ``stock = N``, ``price changed`` (since the listing last pushed
it), ``inactive``, ``active``, ``always``.
Actions (on the shop product or combination): ``publish`` (active, quantity
from ERP stock), ``update`` (quantity and/or price from the ERP), ``stop``
(product inactive, or quantity 0 with stop mode ``zero``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.accounts import get_account
from core.errors import ConfigError, NotFound
from core.store.db import Database
from core.textsafe import visible
from core.timeutil import iso, utcnow

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?$")
ACTIONS = ("publish", "update", "stop")
FIELDS = ("quantity", "price")
STOP_MODES = ("inactive", "zero")
MAX_STOCK = 10**9
_STOCK_RE = re.compile(r"^stock\s*(<=|>=|<|>|=|==)\s*(-?\d+)$")
CONDITION_HINT = ("a condition is one of: 'stock <= N', 'stock < N', 'stock >= N', 'stock > N', "
                  "'stock = N', 'price changed', 'inactive', 'active', 'always'")


@dataclass(frozen=True, slots=True)
class Article:
    """What a rule looks at: the ERP article, and what this listing last pushed."""

    code: str
    stock: int
    price: Decimal
    active: bool
    last_price: Decimal | None = None  # None: never pushed by this listing


@dataclass(frozen=True, slots=True)
class Rule:
    condition: str  # normalised text, e.g. "stock <= 0"
    action: str
    fields: tuple[str, ...] = ()  # for update; empty = quantity and price
    stop_mode: str = "inactive"

    def holds(self, a: Article) -> bool:
        return condition_holds(self.condition, a)

    @property
    def update_fields(self) -> tuple[str, ...]:
        return self.fields or FIELDS

    def describe(self) -> str:
        text = f"when {self.condition}: {self.action}"
        if self.action == "update":
            text += " " + "+".join(self.update_fields)
        if self.action == "stop":
            text += " (" + ("set inactive" if self.stop_mode == "inactive" else "quantity 0") + ")"
        return text


@dataclass(frozen=True, slots=True)
class SalesList:
    name: str
    codes: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    id: int | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    name: str
    account: str
    lists: tuple[str, ...]
    enabled: bool = True
    rules: tuple[Rule, ...] = ()
    id: int | None = None
    account_id: int | None = None

    def decide(self, a: Article) -> Rule | None:
        """The first rule whose condition holds, or None (nothing to do)."""
        return next((r for r in self.rules if r.holds(a)), None)


# -- rules ----------------------------------------------------------------------
def parse_condition(text: str) -> str:
    raw = " ".join((text or "").strip().lower().split())
    m = _STOCK_RE.match(raw)
    if m:
        op = "=" if m.group(1) == "==" else m.group(1)
        if len(m.group(2)) > 12 or abs(int(m.group(2))) > MAX_STOCK:
            raise ConfigError(f"invalid rule condition {visible(text)[:70]!r}: the stock is "
                              f"beyond {MAX_STOCK:,}", hint=CONDITION_HINT)
        return f"stock {op} {int(m.group(2))}"
    if raw in ("price changed", "price-changed", "price_changed"):
        return "price changed"
    if raw in ("inactive", "active", "always"):
        return raw
    raise ConfigError(f"invalid rule condition {text!r}", hint=CONDITION_HINT)


def condition_holds(condition: str, a: Article) -> bool:
    m = _STOCK_RE.match(condition)
    if m:
        op, n = m.group(1), int(m.group(2))
        return {"<=": a.stock <= n, "<": a.stock < n, ">=": a.stock >= n, ">": a.stock > n,
                "=": a.stock == n, "==": a.stock == n}[op]
    if condition == "price changed":
        return a.last_price is None or a.last_price != a.price
    if condition == "inactive":
        return not a.active
    if condition == "active":
        return a.active
    if condition == "always":
        return True
    raise ConfigError(f"invalid rule condition {condition!r}", hint=CONDITION_HINT)


def make_rule(condition: str, action: str, fields: Any = None,
              stop_mode: str | None = None) -> Rule:
    action = (action or "").strip().lower()
    if action not in ACTIONS:
        raise ConfigError(f"invalid rule action {action!r}", hint="use publish, update or stop")
    if isinstance(fields, str):
        fields = [f for f in fields.split(",")]
    flds = tuple(dict.fromkeys(f.strip().lower() for f in (fields or []) if f.strip()))
    for f in flds:
        if f not in FIELDS:
            raise ConfigError(f"invalid field {f!r} for an update rule",
                              hint="use quantity, price or both (quantity,price)")
    if flds and action != "update":
        raise ConfigError("fields go only with the update action",
                          hint="publish sets active and quantity; stop sets inactive or quantity 0")
    mode = (stop_mode or "inactive").strip().lower()
    if mode not in STOP_MODES:
        raise ConfigError(f"invalid stop mode {stop_mode!r}",
                          hint="inactive (the product goes offline) or zero (quantity 0)")
    if stop_mode and action != "stop":
        raise ConfigError("a stop mode goes only with the stop action")
    return Rule(parse_condition(condition), action, flds, mode)


def check_name(name: str, what: str) -> str:
    if not NAME_RE.match(name or ""):
        raise ConfigError(f"invalid {what} name {name!r}",
                          hint="use 1-64 letters, digits, '.', '_' or '-' (e.g. summer-2026)")
    return name


def check_code(value: str, kind: str) -> str:
    v = (value or "").strip()
    if not v or len(v) > 64 or visible(v) != v:
        raise ConfigError(f"invalid article {kind} {visible(value)[:70]!r}",
                          hint="an ERP article code, or a glob pattern such as 'SKU-00*'")
    return check_pattern(v) if kind == "pattern" else v


def check_pattern(pattern: str) -> str:
    """A glob (``*``, ``?``, ``[abc]``, ``[^a]`` or ``[!a]``) whose every ``[`` is closed:
    an unclosed one matches nothing in the embedded ERP and itself in Tryton."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "[":
            j = i + 1
            if j < len(pattern) and pattern[j] in "^!":
                j += 1
            if j < len(pattern) and pattern[j] == "]":
                j += 1  # a ] first in a set is a member
            close = pattern.find("]", j)
            if close < 0:
                raise ConfigError(f"invalid pattern {visible(pattern)[:70]!r}: the '[' at "
                                  f"position {i + 1} is never closed",
                                  hint="close it: a set is written [abc] (one of a, b, c), "
                                  "e.g. 'SKU-[A-Z]*'")
            i = close
        i += 1
    return pattern


# -- sales lists ----------------------------------------------------------------
async def _list_row(db: Database, name: str) -> Any:
    row = await db.fetchone("SELECT id, name FROM sales_lists WHERE name = ?", (name,))
    if row is None:
        names = [r[0] for r in await db.fetchall("SELECT name FROM sales_lists ORDER BY name")]
        known = f"known lists: {', '.join(names)}" if names else "there are no sales lists yet"
        raise NotFound(f"no sales list named {name!r} ({known})",
                       hint="add one with 'sincro list add NAME --code CODE'")
    return row


async def get_list(db: Database, name: str) -> SalesList:
    row = await _list_row(db, name)
    items = await db.fetchall(
        "SELECT kind, value FROM sales_list_items WHERE list_id = ? ORDER BY kind, value",
        (row["id"],))
    return SalesList(row["name"], tuple(v for k, v in items if k == "code"),
                     tuple(v for k, v in items if k == "pattern"), row["id"])


async def list_lists(db: Database) -> list[SalesList]:
    names = [r[0] for r in await db.fetchall("SELECT name FROM sales_lists ORDER BY name")]
    return [await get_list(db, n) for n in names]


async def save_list(db: Database, name: str, *, add_codes=(), add_patterns=(), drop_codes=(),
                    drop_patterns=(), create: bool = True, replace: bool = False) -> SalesList:
    """Create the list (if ``create``) and add or drop items; ``replace`` clears it first."""
    check_name(name, "sales list")
    add = [("code", check_code(c, "code")) for c in add_codes]
    add += [("pattern", check_code(p, "pattern")) for p in add_patterns]
    drop = [("code", c) for c in drop_codes] + [("pattern", p) for p in drop_patterns]
    exists = await db.scalar("SELECT id FROM sales_lists WHERE name = ?", (name,))
    if exists is None and not create:
        await _list_row(db, name)  # raises NotFound
    async with db.transaction() as conn:
        if exists is None:
            cur = await conn.execute(
                "INSERT INTO sales_lists (name, created_at) VALUES (?, ?) RETURNING id",
                (name, iso(utcnow())))
            row = await cur.fetchone()
            assert row is not None  # RETURNING id of the row just inserted
            list_id = row[0]
        else:
            list_id = exists
        if replace:
            await conn.execute("DELETE FROM sales_list_items WHERE list_id = ?", (list_id,))
        await conn.executemany(
            "INSERT INTO sales_list_items (list_id, kind, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(list_id, k, v) for k, v in add])
        await conn.executemany(
            "DELETE FROM sales_list_items WHERE list_id = ? AND kind = ? AND value = ?",
            [(list_id, k, v) for k, v in drop])
    return await get_list(db, name)


async def remove_list(db: Database, name: str) -> None:
    row = await _list_row(db, name)
    users = [r[0] for r in await db.fetchall(
        "SELECT l.name FROM listings l JOIN listing_lists ll ON ll.listing_id = l.id "
        "WHERE ll.list_id = ? ORDER BY l.name", (row["id"],))]
    if users:
        raise ConfigError(f"sales list {name} is used by listings {', '.join(users)}",
                          hint="remove it from those listings first (sincro listing edit)")
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM sales_lists WHERE id = ?", (row["id"],))


# -- listings -------------------------------------------------------------------
async def _listing_row(db: Database, name: str) -> Any:
    row = await db.fetchone(
        "SELECT l.*, a.name AS account FROM listings l JOIN accounts a ON a.id = l.account_id "
        "WHERE l.name = ?", (name,))
    if row is None:
        names = [r[0] for r in await db.fetchall("SELECT name FROM listings ORDER BY name")]
        known = f"known listings: {', '.join(names)}" if names else "there are no listings yet"
        raise NotFound(f"no listing named {name!r} ({known})",
                       hint="add one with 'sincro listing add NAME --account ACCOUNT --list LIST'")
    return row


async def _load_listing(db: Database, row: Any) -> Listing:
    lists = await db.fetchall(
        "SELECT s.name FROM listing_lists ll JOIN sales_lists s ON s.id = ll.list_id "
        "WHERE ll.listing_id = ? ORDER BY s.name", (row["id"],))
    rules = await db.fetchall(
        "SELECT condition, action, fields, stop_mode FROM listing_rules WHERE listing_id = ? "
        "ORDER BY position", (row["id"],))
    return Listing(
        name=row["name"], account=row["account"], lists=tuple(r[0] for r in lists),
        enabled=bool(row["enabled"]),
        rules=tuple(Rule(r[0], r[1], tuple(f for f in r[2].split(",") if f), r[3])
                    for r in rules),
        id=row["id"], account_id=row["account_id"])


async def get_listing(db: Database, name: str) -> Listing:
    return await _load_listing(db, await _listing_row(db, name))


async def list_listings(db: Database, account: str | None = None) -> list[Listing]:
    query = ("SELECT l.*, a.name AS account FROM listings l JOIN accounts a ON a.id = l.account_id")
    params: tuple = ()
    if account is not None:
        query += " WHERE a.name = ?"
        params = (account,)
    rows = await db.fetchall(query + " ORDER BY l.name", params)
    return [await _load_listing(db, r) for r in rows]


async def _list_ids(db: Database, names: list[str]) -> list[int]:
    return [(await _list_row(db, n))["id"] for n in names]


async def save_listing(db: Database, name: str, *, account: str | None = None,
                       lists: list[str] | None = None, enabled: bool | None = None,
                       rules: list[Rule] | None = None, create: bool = False) -> Listing:
    """Create (``create``) or change a listing; ``lists``/``rules`` given replace the old ones."""
    check_name(name, "listing")
    existing = await db.fetchone("SELECT id, account_id FROM listings WHERE name = ?", (name,))
    if existing is None and not create:
        await _listing_row(db, name)  # raises NotFound
    if existing is not None and create:
        raise ConfigError(f"there is already a listing named {name}",
                          hint=f"change it with 'sincro listing edit {name}'")
    account_id = (await get_account(db, account)).id if account is not None else None
    if existing is None and account_id is None:
        raise ConfigError("a listing needs an account", hint="give --account NAME")
    list_ids = await _list_ids(db, lists) if lists is not None else None
    if existing is None and not list_ids:
        raise ConfigError("a listing needs at least one sales list", hint="give --list NAME")
    now = iso(utcnow())
    async with db.transaction() as conn:
        if existing is None:
            cur = await conn.execute(
                "INSERT INTO listings (name, account_id, enabled, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (name, account_id, 1 if enabled in (None, True) else 0, now, now))
            row = await cur.fetchone()
            assert row is not None  # RETURNING id of the row just inserted
            lid = row[0]
        else:
            lid = existing["id"]
            sets: list[str] = ["updated_at = ?"]
            params: list[object] = [now]
            if account_id is not None and account_id != existing["account_id"]:
                sets.append("account_id = ?")
                params.append(account_id)
                # values pushed to another shop say nothing about this one
                await conn.execute("DELETE FROM listing_pushed WHERE listing_id = ?", (lid,))
            if enabled is not None:
                sets.append("enabled = ?")
                params.append(int(enabled))
            await conn.execute(f"UPDATE listings SET {', '.join(sets)} WHERE id = ?",
                               (*params, lid))
        if list_ids is not None:
            await conn.execute("DELETE FROM listing_lists WHERE listing_id = ?", (lid,))
            await conn.executemany("INSERT INTO listing_lists (listing_id, list_id) VALUES (?, ?)",
                                   [(lid, i) for i in dict.fromkeys(list_ids)])
        if rules is not None:
            await conn.execute("DELETE FROM listing_rules WHERE listing_id = ?", (lid,))
            await conn.executemany(
                "INSERT INTO listing_rules (listing_id, position, condition, action, fields, "
                "stop_mode) VALUES (?, ?, ?, ?, ?, ?)",
                [(lid, i + 1, r.condition, r.action, ",".join(r.fields), r.stop_mode)
                 for i, r in enumerate(rules)])
    return await get_listing(db, name)


async def add_rule(db: Database, name: str, rule: Rule, position: int | None = None) -> Listing:
    listing = await get_listing(db, name)
    rules = list(listing.rules)
    if position is None:
        rules.append(rule)
    else:
        if not 1 <= position <= len(rules) + 1:
            raise ConfigError(f"invalid position {position}",
                              hint=f"1 to {len(rules) + 1} (rules are tried in order)")
        rules.insert(position - 1, rule)
    return await save_listing(db, name, rules=rules)


async def remove_rule(db: Database, name: str, position: int) -> Listing:
    listing = await get_listing(db, name)
    if not 1 <= position <= len(listing.rules):
        raise ConfigError(f"listing {name} has no rule {position}",
                          hint="see them with 'sincro listing show " + name + "'")
    rules = [r for i, r in enumerate(listing.rules, 1) if i != position]
    return await save_listing(db, name, rules=rules)


async def remove_listing(db: Database, name: str) -> None:
    row = await _listing_row(db, name)
    async with db.transaction() as conn:
        await conn.execute("DELETE FROM listings WHERE id = ?", (row["id"],))


# -- TOML ------------------------------------------------------------------------
@dataclass
class ImportPlan:
    lists: list[SalesList] = field(default_factory=list)
    listings: list[tuple[str, str, list[str], bool, list[Rule]]] = field(default_factory=list)


def plan_from_toml(data: dict[str, Any]) -> ImportPlan:
    """Check a parsed TOML document (see README "Listings") before anything is written."""
    plan = ImportPlan()
    unknown = set(data) - {"lists", "listings"}
    if unknown:
        raise ConfigError(f"unknown table(s) {', '.join(sorted(unknown))} in the listings file",
                          hint="use [lists.NAME] and [listings.NAME]")
    for name, spec in (data.get("lists") or {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"[lists.{name}] must be a table")
        bad = set(spec) - {"codes", "patterns"}
        if bad:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(bad))} in [lists.{name}]",
                              hint="a list has codes = [...] and/or patterns = [...]")
        plan.lists.append(SalesList(
            check_name(name, "sales list"),
            tuple(check_code(str(c), "code") for c in spec.get("codes", [])),
            tuple(check_code(str(p), "pattern") for p in spec.get("patterns", []))))
    for name, spec in (data.get("listings") or {}).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"[listings.{name}] must be a table")
        bad = set(spec) - {"account", "lists", "enabled", "rules"}
        if bad:
            raise ConfigError(f"unknown key(s) {', '.join(sorted(bad))} in [listings.{name}]",
                              hint="a listing has account, lists, enabled and [[...rules]]")
        if not spec.get("account") or not spec.get("lists"):
            raise ConfigError(f"[listings.{name}] needs account = \"...\" and lists = [...]")
        rules = []
        for i, r in enumerate(spec.get("rules", []), 1):
            if not isinstance(r, dict) or "when" not in r or "do" not in r:
                raise ConfigError(f"rule {i} of [listings.{name}] needs when = \"...\" and "
                                  "do = \"publish|update|stop\"")
            bad = set(r) - {"when", "do", "fields", "stop"}
            if bad:
                raise ConfigError(f"unknown key(s) {', '.join(sorted(bad))} in rule {i} of "
                                  f"[listings.{name}]", hint="a rule has when, do, fields, stop")
            rules.append(make_rule(str(r["when"]), str(r["do"]), r.get("fields"), r.get("stop")))
        plan.listings.append((check_name(name, "listing"), str(spec["account"]),
                              [str(x) for x in spec["lists"]], bool(spec.get("enabled", True)),
                              rules))
    return plan


async def apply_plan(db: Database, plan: ImportPlan) -> None:
    """Lists are replaced by the file's items; listings are created or replaced.

    Accounts and sales lists named by the listings are checked before anything is written.
    """
    planned = {x.name for x in plan.lists}
    for _name, account, lists, _enabled, _rules in plan.listings:
        await get_account(db, account)
        for list_name in lists:
            if list_name not in planned:
                await _list_row(db, list_name)
    for lst in plan.lists:
        await save_list(db, lst.name, add_codes=lst.codes, add_patterns=lst.patterns,
                        replace=True)
    for name, account, lists, enabled, rules in plan.listings:
        exists = await db.scalar("SELECT id FROM listings WHERE name = ?", (name,))
        await save_listing(db, name, account=account, lists=lists, enabled=enabled, rules=rules,
                           create=exists is None)
