"""Order amounts as PrestaShop computes them when a cart becomes an order.

What a real shop stores, and so what the emulator serves (PrestaShop 1.7+/8 cart calculator; a 1.6
shop gives the same results for the cases generated here):

* ``order_details``: ``unit_price_tax_excl`` is the product price (6 decimals, attribute impact
  included), ``unit_price_tax_incl`` = that price × (1 + rate), rounded to 6 decimals. The row
  totals follow the order's ``round_type``:

  - ``ROUND_ITEM`` (1): unit prices rounded to the cent, then × quantity;
  - ``ROUND_LINE`` (2): unit price × quantity, rounded to the cent;
  - ``ROUND_TOTAL`` (3): unit price × quantity, not rounded (6 decimals).

* ``orders.total_products`` / ``total_products_wt``: sum of the rows' ``total_price_tax_excl`` /
  ``total_price_tax_incl``, rounded to the cent (so equal to the plain sum for item and line rounding).
* Cart rules (discounts) are applied row by row, in order, to each row's amount after the previous
  rules: a percentage takes that percentage of every row (tax incl. and excl.); a fixed amount
  (tax incl.) is capped at the products total and spread over the rows in proportion to their
  amounts tax incl., each part taken off tax excl. at the row's own rate. ``total_discounts_tax_incl``
  / ``_tax_excl`` are the sums of those per-row reductions, rounded to the cent; each
  ``order_cart_rules`` row carries its own sum, rounded.
* Shipping and gift wrapping are taxed at their own rate (22 %); the tax-included amount is
  rounded from the unrounded tax-excluded price.
* ``total_paid_tax_excl`` = products + shipping + wrapping - discounts (tax excl.), the same tax
  incl.; ``total_paid`` = ``total_paid_tax_incl``.

All arithmetic is decimal, rounded half up as PrestaShop's default ``PS_ROUND_HALF_UP``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

ROUND_ITEM, ROUND_LINE, ROUND_TOTAL = 1, 2, 3
ZERO = Decimal(0)
CENT = Decimal("0.01")
MICRO = Decimal("0.000001")
HUNDRED = Decimal(100)


def r2(x: Decimal) -> Decimal:
    return x.quantize(CENT, ROUND_HALF_UP)


def r6(x: Decimal) -> Decimal:
    return x.quantize(MICRO, ROUND_HALF_UP)


def s6(x: Decimal) -> str:
    """A 6-decimal string as PrestaShop's DECIMAL(20,6) columns give it."""
    text = str(x)
    dot = text.find(".")
    if "E" not in text:  # fast path: pad what already has at most 6 decimals
        if dot < 0:
            return text + ".000000"
        places = len(text) - dot - 1
        if places <= 6:
            return text + "0" * (6 - places)
    return str(r6(x))


def s2(x: Decimal) -> str:
    return str(r2(x))


@dataclass(slots=True)
class Line:
    """One order row: the product price tax excl. (6 decimals), its VAT rate in percent, quantity."""

    price_excl: Decimal
    rate: Decimal
    quantity: int
    unit_excl: Decimal = ZERO
    unit_incl: Decimal = ZERO
    total_excl: Decimal = ZERO
    total_incl: Decimal = ZERO
    # after cart rules (not stored by PrestaShop; kept for the order totals)
    final_excl: Decimal = ZERO
    final_incl: Decimal = ZERO


@dataclass(slots=True)
class CartRule:
    """``percent`` (``value`` = 5 for 5 %) or ``amount`` (``value`` in euros, tax incl.)."""

    name: str
    kind: str
    value: Decimal
    id_cart_rule: int = 0
    applied_incl: Decimal = ZERO
    applied_excl: Decimal = ZERO


@dataclass(slots=True)
class Totals:
    products_excl: Decimal
    products_incl: Decimal
    discounts_excl: Decimal
    discounts_incl: Decimal
    shipping_excl: Decimal
    shipping_incl: Decimal
    wrapping_excl: Decimal
    wrapping_incl: Decimal
    paid_excl: Decimal
    paid_incl: Decimal
    rules: list[CartRule] = field(default_factory=list)


def price_lines(lines: list[Line], round_type: int = ROUND_LINE) -> None:
    """Fill unit and row totals of each line (``Cart::getProducts()`` / ``CartRow``)."""
    for ln in lines:
        q = ln.quantity
        ln.unit_excl = r6(ln.price_excl)
        ln.unit_incl = r6(ln.price_excl * (1 + ln.rate / HUNDRED))
        if round_type == ROUND_ITEM:
            ln.total_excl = r2(ln.unit_excl) * q
            ln.total_incl = r2(ln.unit_incl) * q
        elif round_type == ROUND_TOTAL:
            ln.total_excl = ln.unit_excl * q
            ln.total_incl = ln.unit_incl * q
        else:
            ln.total_excl = r2(ln.unit_excl * q)
            ln.total_incl = r2(ln.unit_incl * q)
        ln.final_excl = ln.total_excl
        ln.final_incl = ln.total_incl


def apply_cart_rules(lines: list[Line], rules: list[CartRule]) -> None:
    """``CartRuleCalculator::applyCartRule()`` for whole-order percentage and amount rules."""
    for rule in rules:
        rule.applied_incl = rule.applied_excl = ZERO
        if rule.kind == "percent":
            for ln in lines:
                d_incl = ln.final_incl * rule.value / HUNDRED
                d_excl = ln.final_excl * rule.value / HUNDRED
                _take(ln, rule, d_incl, d_excl)
        elif rule.kind == "amount":
            total_incl = sum((ln.final_incl for ln in lines), ZERO)
            amount = min(rule.value, total_incl)
            if total_incl == 0:
                continue
            for ln in lines:
                d_incl = amount * ln.final_incl / total_incl
                # tax excl. at the row's own rate: d_incl / (1 + (incl - excl) / excl)
                d_excl = d_incl * ln.final_excl / ln.final_incl if ln.final_incl else ZERO
                _take(ln, rule, d_incl, d_excl)
        else:
            raise ValueError(f"unknown cart rule kind {rule.kind!r}")


def _take(ln: Line, rule: CartRule, d_incl: Decimal, d_excl: Decimal) -> None:
    ln.final_incl = max(ZERO, ln.final_incl - d_incl)
    ln.final_excl = max(ZERO, ln.final_excl - d_excl)
    rule.applied_incl += d_incl
    rule.applied_excl += d_excl


def fee(price_excl: Decimal, rate: Decimal) -> tuple[Decimal, Decimal]:
    """A shipping or wrapping fee: (tax excl., tax incl.) rounded to the cent."""
    return r2(price_excl), r2(price_excl * (1 + rate / HUNDRED))


def order_totals(lines: list[Line], rules: Iterable[CartRule] = (), *,
                 shipping: tuple[Decimal, Decimal] = (ZERO, ZERO), wrapping: tuple[Decimal, Decimal] = (ZERO, ZERO),
                 round_type: int = ROUND_LINE, priced: bool = False) -> Totals:
    """Price ``lines`` (unless ``priced``), apply ``rules`` and return the order's totals
    (``PaymentModule::validateOrder()``)."""
    rules = list(rules)
    if not priced:
        price_lines(lines, round_type)
    p_excl = r2(sum((ln.total_excl for ln in lines), ZERO))
    p_incl = r2(sum((ln.total_incl for ln in lines), ZERO))
    d_excl = d_incl = ZERO
    if rules:
        apply_cart_rules(lines, rules)
        d_excl = r2(sum((r.applied_excl for r in rules), ZERO))
        d_incl = r2(sum((r.applied_incl for r in rules), ZERO))
    s_excl, s_incl = shipping
    w_excl, w_incl = wrapping
    return Totals(p_excl, p_incl, d_excl, d_incl, s_excl, s_incl, w_excl, w_incl,
                  p_excl + s_excl + w_excl - d_excl, p_incl + s_incl + w_incl - d_incl, rules)
