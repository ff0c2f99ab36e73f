"""Listing rules (L-2): conditions, actions, first-match order, the TOML format."""

from __future__ import annotations

import tomllib
from decimal import Decimal

import pytest

from core.errors import ConfigError
from core.listings import Article, Listing, Rule, make_rule, parse_condition, plan_from_toml
from core.sync.states import RANK, parse_state_map, shop_rank


def art(stock=5, price="10.00", active=True, last=None) -> Article:
    return Article("SKU-1", stock, Decimal(price), active,
                   Decimal(last) if last is not None else None)


@pytest.mark.parametrize(("text", "norm"), [
    ("stock <= 0", "stock <= 0"), ("Stock<=0", "stock <= 0"), ("stock > 0", "stock > 0"),
    ("stock >= 10", "stock >= 10"), ("stock < -1", "stock < -1"), ("stock == 3", "stock = 3"),
    ("price changed", "price changed"), ("price-changed", "price changed"),
    ("  INACTIVE ", "inactive"), ("active", "active"), ("always", "always"),
])
def test_conditions_are_normalised(text, norm):
    assert parse_condition(text) == norm


@pytest.mark.parametrize("text", ["", "stock", "stock <= x", "price", "qty > 0", "stock => 1"])
def test_bad_conditions_say_what_is_allowed(text):
    with pytest.raises(ConfigError) as e:
        parse_condition(text)
    assert "stock <= N" in str(e.value)


@pytest.mark.parametrize(("cond", "a", "holds"), [
    ("stock <= 0", art(stock=0), True), ("stock <= 0", art(stock=-2), True),
    ("stock <= 0", art(stock=1), False), ("stock > 0", art(stock=1), True),
    ("stock > 0", art(stock=0), False), ("stock >= 5", art(stock=5), True),
    ("stock < 5", art(stock=5), False), ("stock = 5", art(stock=5), True),
    ("price changed", art(price="10.00", last=None), True),
    ("price changed", art(price="10.00", last="10.0"), False),
    ("price changed", art(price="10.50", last="10.00"), True),
    ("inactive", art(active=False), True), ("inactive", art(active=True), False),
    ("active", art(active=True), True), ("always", art(), True),
])
def test_conditions_hold_on_erp_data(cond, a, holds):
    assert make_rule(cond, "update").holds(a) is holds


def test_first_rule_that_holds_decides():
    listing = Listing("l", "shop1", ("all",), rules=(
        make_rule("inactive", "stop"),
        make_rule("stock <= 0", "stop", stop_mode="zero"),
        make_rule("stock > 0", "publish"),
    ))
    assert listing.decide(art(stock=0, active=False)).stop_mode == "inactive"
    assert listing.decide(art(stock=0)).stop_mode == "zero"
    assert listing.decide(art(stock=3)).action == "publish"
    assert Listing("l", "shop1", ("all",), rules=(make_rule("stock > 9", "publish"),)).decide(
        art(stock=3)) is None


def test_rule_fields_and_modes():
    assert make_rule("always", "update").update_fields == ("quantity", "price")
    assert make_rule("always", "update", "price").update_fields == ("price",)
    assert make_rule("always", "update", ["quantity", "quantity"]).fields == ("quantity",)
    assert make_rule("stock <= 0", "stop").stop_mode == "inactive"
    assert make_rule("stock <= 0", "stop").describe() == "when stock <= 0: stop (set inactive)"
    assert make_rule("always", "update", "price").describe() == "when always: update price"
    assert Rule("always", "publish").describe() == "when always: publish"


@pytest.mark.parametrize(("args", "message"), [
    (("always", "delete"), "invalid rule action"),
    (("always", "update", "stock"), "invalid field 'stock'"),
    (("always", "publish", "price"), "fields go only with the update action"),
    (("always", "stop", None, "off"), "invalid stop mode"),
    (("always", "publish", None, "zero"), "a stop mode goes only with the stop action"),
])
def test_bad_rules(args, message):
    with pytest.raises(ConfigError) as e:
        make_rule(*args)
    assert message in str(e.value)


TOML = """
[lists.summer]
codes = ["SKU-0001", "SKU-0002"]
patterns = ["SKU-01*"]

[listings.web]
account = "shop1"
lists = ["summer"]

[[listings.web.rules]]
when = "stock <= 0"
do = "stop"
stop = "zero"

[[listings.web.rules]]
when = "stock > 0"
do = "publish"

[[listings.web.rules]]
when = "price changed"
do = "update"
fields = ["price"]
"""


def test_toml_plan():
    plan = plan_from_toml(tomllib.loads(TOML))
    assert [(x.name, x.codes, x.patterns) for x in plan.lists] == [
        ("summer", ("SKU-0001", "SKU-0002"), ("SKU-01*",))]
    name, account, lists, enabled, rules = plan.listings[0]
    assert (name, account, lists, enabled) == ("web", "shop1", ["summer"], True)
    assert [r.describe() for r in rules] == [
        "when stock <= 0: stop (quantity 0)", "when stock > 0: publish",
        "when price changed: update price"]


@pytest.mark.parametrize(("text", "message"), [
    ("[shops.x]\n", "unknown table(s) shops"),
    ("[lists.a]\ncode = ['x']\n", "unknown key(s) code in [lists.a]"),
    ("[listings.w]\nlists = ['a']\n", "needs account"),
    ("[listings.w]\naccount = 's'\nlists = ['a']\n[[listings.w.rules]]\nwhen = 'stock > 0'\n",
     "rule 1 of [listings.w] needs"),
    ("[listings.w]\naccount = 's'\nlists = ['a']\n[[listings.w.rules]]\nwhen = 'x'\ndo = 'stop'\n",
     "invalid rule condition 'x'"),
    ("[lists.'bad name']\ncodes = ['x']\n", "invalid sales list name"),
])
def test_toml_errors(text, message):
    with pytest.raises(ConfigError) as e:
        plan_from_toml(tomllib.loads(text))
    assert message in str(e.value)


def test_state_map_parsing_and_ranks():
    assert parse_state_map("shipped=4, invoiced=none,cancelled=6") == {
        "shipped": 4, "invoiced": None, "cancelled": 6}
    for bad in ("shipped", "sent=4", "shipped=x", "shipped=0", ""):
        with pytest.raises(ConfigError):
            parse_state_map(bad)
    mapping = {"shipped": 4, "invoiced": 5, "cancelled": 6}
    assert shop_rank(6, mapping, {}) == RANK["cancelled"]  # a cancelled order is final
    assert shop_rank(5, mapping, {}) == RANK["invoiced"]  # shipped cannot follow
    assert shop_rank(2, mapping, {}) == 0
